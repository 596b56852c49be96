// reindex_cli: the command line of `reindex`.
#pragma once

#include "sluice/cli.hpp"

namespace sluice::reindex {

cli::Action define_command_line(CLI::App& app);

}  // namespace sluice::reindex
