// lock's command line: subcommands and options to the actions in lock.hpp.
#pragma once

#include "sluice/cli.hpp"

namespace sluice::lock {

cli::Action define_command_line(CLI::App& app);

}  // namespace sluice::lock
