#include "jobq_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(
      argc, argv, "jobq",
      "A job queue: priorities, fair queues and groups, delays, retries, cancellation, workers",
      sluice::jobq::define_command_line);
}
