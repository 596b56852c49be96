// funnel_cli: the command line of `funnel`.
#pragma once

#include "sluice/cli.hpp"

namespace sluice::funnel {

cli::Action define_command_line(CLI::App& app);

}  // namespace sluice::funnel
