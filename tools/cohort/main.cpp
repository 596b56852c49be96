#include "cohort_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(argc, argv, "cohort",
                               "Retention matrices from event streams, with bitmaps",
                               sluice::cohort::define_command_line, "matrix");
}
