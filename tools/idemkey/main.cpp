#include "idemkey_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(argc, argv, "idemkey",
                               "Run a command at most once per key and replay its saved result",
                               sluice::idemkey::define_command_line);
}
