// price's command line.
#pragma once

#include "sluice/cli.hpp"

namespace sluice::price {

cli::Action define_command_line(CLI::App& app);

}  // namespace sluice::price
