#include "reindex_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(argc, argv, "reindex",
                               "Online rebuild of an SQLite table behind an alias: double-write, "
                               "backfill, verify, atomic switch",
                               sluice::reindex::define_command_line);
}
