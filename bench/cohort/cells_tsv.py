#!/usr/bin/env python3
"""Project `cohort` JSON Lines output on the cells the peers print, and check the rest.

cells_tsv.py < COHORT_OUTPUT > CELLS.tsv

Prints cohort, period, size, retained of each record, tab-separated, in input order (the
peers of bench/cohort print the same four fields). It also checks, and exits 1 naming the first
record that fails, what the peers do not print: rate is retained/size with four decimals
(rounded half-even), complete is true exactly when week cohort+period ended before the latest
cohort+period week, and the other keys are the settings of `cohort --period week`.
"""

import datetime
import json
import sys
from fractions import Fraction

SETTINGS = {"period_unit": "week", "tz": "UTC", "windows": "calendar", "cohort_type": "first",
            "criterion": "on"}
KEYS = ["cohort", "period", "size", "retained", "rate", "complete", *SETTINGS]


def four_decimals(fraction):
    units = round(fraction * 10000)  # round() of a Fraction rounds half to even
    return f"{units // 10000}.{units % 10000:04d}"


def main():
    records = [json.loads(line) for line in sys.stdin]
    weeks = [datetime.date.fromisoformat(r["cohort"]) + datetime.timedelta(weeks=r["period"])
             for r in records]
    last = max(weeks, default=None)
    out = []
    for number, (record, week) in enumerate(zip(records, weeks), 1):
        problems = []
        if list(record) != KEYS:
            problems.append(f"keys {list(record)}")
        if any(record.get(k) != v for k, v in SETTINGS.items()):
            problems.append("settings")
        if record["rate"] != four_decimals(Fraction(record["retained"], record["size"])):
            problems.append("rate")
        if record["complete"] != (week < last):
            problems.append("complete")
        if problems:
            print(f"cells_tsv.py: record {number}: {', '.join(problems)}: {record}", file=sys.stderr)
            return 1
        out.append(f'{record["cohort"]}\t{record["period"]}\t{record["size"]}\t{record["retained"]}\n')
    sys.stdout.write("".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
