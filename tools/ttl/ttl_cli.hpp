// ttl_cli: the command line of `ttl`.
#pragma once

#include "sluice/cli.hpp"

namespace sluice::ttl {

cli::Action define_command_line(CLI::App& app);

}  // namespace sluice::ttl
