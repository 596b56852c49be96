#include "funnel_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(argc, argv, "funnel",
                               "Ordered conversion funnels from event streams (windowFunnel)",
                               sluice::funnel::define_command_line);
}
