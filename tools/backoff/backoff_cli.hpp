// backoff's command line: options of run, schedule and simulate, turned into settings.
#pragma once

#include "sluice/cli.hpp"

namespace sluice::backoff {

cli::Action define_command_line(CLI::App& app);

}  // namespace sluice::backoff
