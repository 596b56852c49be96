#include "rollup_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(argc, argv, "rollup",
                               "Pre-aggregate event streams into time buckets (mergeable rollups)",
                               sluice::rollup::define_command_line, "aggregate");
}
