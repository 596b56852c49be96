// zscore_cli: the command line of `zscore`.
#pragma once

#include "sluice/cli.hpp"

namespace sluice::zscore {

cli::Action define_command_line(CLI::App& app);

}  // namespace sluice::zscore
