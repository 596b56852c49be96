#!/usr/bin/env python3
"""What the oracle comparison exercised: counts of the cases that catch rounding mistakes.

coverage.py RATES.jsonl CATALOG.jsonl [COUNTRIES]

For each market (the MARKETS of calc_decimal.py): how many displayed figures were an exact tie
before rounding (x.5 minor units), how many net (inclusive) or tax (exclusive) roundings were an
exact tie, how many figures the display rule moved, and how many were below the rule's minimum.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calc_decimal as c  # noqa: E402

countries = sys.argv[3] if len(sys.argv) > 3 else "DE,FR,GB,JP,IN,US,CH,KW,BR,KR"
markets = [c.Market(x, c.load_rates(sys.argv[1], "2026-03-02")) for x in countries.split(",")]
counts = {m.country: [0, 0, 0, 0] for m in markets}
skus = 0
for line in open(sys.argv[2]):
    skus += 1
    base = c.minor_units(json.loads(line)["price"], 2)
    for m in markets:
        n, d = m.factor
        k = counts[m.country]
        if (2 * base * n) % (2 * d) == d:
            k[0] += 1
        figure = c.round_half_up(base * n, d)
        amount = c.apply_rule(m.rule, m.minimum, figure, m.exponent)
        if m.rate is not None:
            t = m.rate
            num, den = ((amount * t.denominator, t.denominator + t.numerator) if m.inclusive
                        else (amount * t.numerator, t.denominator))
            if (2 * num) % (2 * den) == den:
                k[1] += 1
        k[2] += amount != figure
        k[3] += m.minimum is not None and figure < m.minimum
print(f"{skus} SKUs: country, exact ties in the figure, exact ties in net (inclusive) or tax "
      "(exclusive), figures moved by the rule, figures below the rule's minimum")
for country, (ties, tax_ties, moved, below) in counts.items():
    print(f"  {country}: {ties} {tax_ties} {moved} {below}")
