#!/usr/bin/env python3
"""Write the inputs of bench/price/run.sh: a catalog and a day of ECB-style FX rates.

gen_catalog.py --count N [--seed S] --catalog FILE [--rates FILE]

Catalog: N lines {"sku":"SKU0000001","price":"49.99"} (SKU numbers from 1, seven digits), base
prices in USD between 0.50 and 9999.99 with two decimals, drawn from a seeded generator (the same
N and seed give the same bytes): log-uniform over the range, so cheap and dear items are both
common; about 12% end in .00, about 30% in .99, the rest anywhere. The first few SKUs are fixed edge
cases (0.50, 9999.99, 1.00, 49.99, ...).

Rates: JSON Lines {"date","base":"EUR","currency","rate"} for 2026-03-02, 4 decimals each (rough
early-2026 levels). The catalog's base currency is USD, so every cross rate USD->X is
EUR->X / EUR->USD, a fraction that does not terminate in decimal.

The market settings (taxes, multipliers, display rules) are `price` commands in run.sh, and
the same table is written out in calc_decimal.py.
"""

import argparse
import math
import random

RATES_DATE = "2026-03-02"
RATES = {  # units per EUR
    "USD": "1.0842",
    "GBP": "0.8327",
    "JPY": "162.4713",
    "INR": "94.3186",
    "CHF": "0.9413",
    "KWD": "0.3341",
    "BRL": "6.1847",
    "KRW": "1512.3654",
}
LOW, HIGH = 50, 999999  # cents
FIXED = [50, 999999, 100, 4999, 99, 1000, 51, 999900]


def price_cents(rng):
    cents = int(math.exp(rng.uniform(math.log(LOW), math.log(HIGH + 1))))
    cents = min(max(cents, LOW), HIGH)
    ending = rng.random()
    if ending < 0.12:
        cents = max(cents // 100 * 100, 100)  # N.00
    elif ending < 0.42:
        cents = cents // 100 * 100 + 99  # N.99
    return min(max(cents, LOW), HIGH)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--rates")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.catalog, "w") as out:
        lines = []
        for n in range(1, args.count + 1):
            cents = FIXED[n - 1] if n <= len(FIXED) else price_cents(rng)
            lines.append(f'{{"sku":"SKU{n:07d}","price":"{cents // 100}.{cents % 100:02d}"}}\n')
            if len(lines) == 65536:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
    if args.rates:
        with open(args.rates, "w") as out:
            for currency, rate in RATES.items():
                out.write(f'{{"date":"{RATES_DATE}","base":"EUR","currency":"{currency}",'
                          f'"rate":"{rate}"}}\n')


if __name__ == "__main__":
    main()
