#include "ttl_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(argc, argv, "ttl",
                               "Expire rows of your own SQLite or PostgreSQL table: batched "
                               "sweeps by key range, or whole time partitions dropped",
                               sluice::ttl::define_command_line);
}
