#include "lock_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(
      argc, argv, "lock", "Leases with fencing tokens, kernel locks, and commands run under them",
      sluice::lock::define_command_line);
}
