#include "checkpoint_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(
      argc, argv, "checkpoint",
      "Feed input lines to a command in chunks and resume where it left off",
      sluice::checkpoint::define_command_line);
}
