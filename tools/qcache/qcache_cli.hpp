// The qcache command line: declares every subcommand's options on the CLI11 app and returns
// the action that runs the chosen one.
#pragma once

#include "sluice/cli.hpp"

namespace sluice::qcache {

cli::Action define_command_line(CLI::App& app);

}  // namespace sluice::qcache
