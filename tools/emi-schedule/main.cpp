#include "emi_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(argc, argv, "emi-schedule",
                               "Exact EMI loan schedules and the monthly collection cycle",
                               sluice::emi::define_command_line);
}
