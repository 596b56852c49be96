#include "backoff_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(argc, argv, "backoff",
                               "Retry a command with capped exponential backoff and jitter",
                               sluice::backoff::define_command_line, "run");
}
