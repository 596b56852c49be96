#include "stock_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(
      argc, argv, "stock",
      "Inventory that never oversells: holds that expire, idempotent reservations, limits",
      sluice::stock::define_command_line);
}
