#include "zscore_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(
      argc, argv, "zscore",
      "Anomaly detection on metric streams: rolling z-score, robust, seasonal, EWMA, "
      "Holt-Winters",
      sluice::zscore::define_command_line, "detect");
}
