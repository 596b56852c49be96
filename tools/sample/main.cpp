#include "sample_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(argc, argv, "sample",
                               "Deterministic, weighted sampling of event streams",
                               sluice::sample::define_command_line);
}
