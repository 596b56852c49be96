#!/usr/bin/env python3
"""funnel's JSON Lines (stdin) as the peers' TSV: step, entities, median and p90 in whole
microseconds (empty when null)."""
import json
import sys

for line in sys.stdin:
    row = json.loads(line)
    times = ["" if row[k] is None else str(round(row[k] * 1e6)) for k in ("median_seconds", "p90_seconds")]
    print("\t".join([str(row["step"]), str(row["entities"]), *times]))
