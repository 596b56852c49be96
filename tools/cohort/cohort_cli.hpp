// cohort_cli: the command line of `cohort` (options, subcommands, what each runs).
#pragma once

#include "sluice/cli.hpp"

namespace sluice::cohort {

cli::Action define_command_line(CLI::App& app);

}  // namespace sluice::cohort
