// rollup_cli: the command line of rollup (docs/ARCHITECTURE.md, "Command line").
#pragma once

#include "sluice/cli.hpp"

namespace sluice::rollup {

cli::Action define_command_line(CLI::App& app);

}  // namespace sluice::rollup
