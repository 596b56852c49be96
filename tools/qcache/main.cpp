#include "qcache_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(argc, argv, "qcache",
                               "Cache a command's output; invalidate it by tag; answer ETags",
                               sluice::qcache::define_command_line);
}
