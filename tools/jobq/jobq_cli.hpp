#pragma once

#include "sluice/cli.hpp"

namespace sluice::jobq {

cli::Action define_command_line(CLI::App& app);

}  // namespace sluice::jobq
