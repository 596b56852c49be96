// emi-schedule's command line.
#pragma once

#include "sluice/cli.hpp"

namespace sluice::emi {

cli::Action define_command_line(CLI::App& app);

}  // namespace sluice::emi
