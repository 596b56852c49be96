#!/usr/bin/env python3
"""bench/rollup: rollup's JSON Lines (count, sum_cost, min_cost, max_cost) as sqlite_rollup.sh's
sorted TSV (cost in cents: the decimal text's digits without the point)."""

import json
import sys

def cents(text):
    whole, _, fraction = text.partition(".")
    assert len(fraction) == 2, text
    return int(whole + fraction)

rows = []
for line in sys.stdin:
    row = json.loads(line)
    rows.append((row["bucket"], row["campaign"], row["creative"], row["geo"], row["count"],
                 cents(row["sum_cost"]), cents(row["min_cost"]), cents(row["max_cost"])))
rows.sort(key=lambda row: row[:4])
for row in rows:
    print("\t".join(str(value) for value in row))
