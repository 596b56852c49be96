#include "price_cli.hpp"

int main(int argc, char** argv) {
  return sluice::cli::run_main(argc, argv, "price",
                               "Exact market prices (FX, parity, tax, rounding) and FX quotes",
                               sluice::price::define_command_line);
}
