#include "audit_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(argc, argv, "audit",
                               "Keep a tamper-evident, append-only log with Merkle proofs",
                               sluice::audit::define_command_line);
}
