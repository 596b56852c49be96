// sample_cli: the command line of `sample`.
#pragma once

#include "sluice/cli.hpp"

namespace sluice::sample {

cli::Action define_command_line(CLI::App& app);

}  // namespace sluice::sample
