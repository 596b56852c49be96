// stock's command line: subcommands and options to the actions in stock.hpp.
#pragma once

#include "sluice/cli.hpp"

namespace sluice::stock {

cli::Action define_command_line(CLI::App& app);

}  // namespace sluice::stock
