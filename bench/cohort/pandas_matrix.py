#!/usr/bin/python3
"""bench/cohort peer: the weekly retention matrix of a JSON Lines event file, by pandas.

/usr/bin/python3 pandas_matrix.py EVENTS.jsonl [--chunksize N]

Prints the same cells as `cohort --period week`, one per line, tab-separated: cohort
(YYYY-MM-DD, the Monday of the user's first week, UTC), period k, cohort size, retained (users
of the cohort with an event in week cohort+k), for k from 0 to the week of the latest event.

The file is read with pandas.read_json(lines=True) in chunks (default 1,000,000 lines), as one
would for a file of this size: each chunk is cut down to its distinct (user, week) pairs at
once, so the whole log is never in memory as a DataFrame.
"""

import argparse
import sys

import numpy as np
import pandas as pd

DAY_NS = 86_400 * 1_000_000_000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("events")
    parser.add_argument("--chunksize", type=int, default=1_000_000)
    args = parser.parse_args()
    parts = []
    with pd.read_json(args.events, lines=True, chunksize=args.chunksize,
                      dtype={"user": str, "ts": str}, convert_dates=False) as reader:
        for chunk in reader:
            ts = pd.to_datetime(chunk["ts"], utc=True, format="%Y-%m-%dT%H:%M:%S%z")
            days = ts.astype("int64") // DAY_NS  # days since 1970-01-01, a Thursday
            week = (days + 3) // 7  # weeks since Monday 1969-12-29
            parts.append(pd.DataFrame({"user": chunk["user"], "week": week}).drop_duplicates())
    if not parts:
        return 0
    user_weeks = pd.concat(parts, ignore_index=True).drop_duplicates()
    first = user_weeks.groupby("user")["week"].min().rename("cohort")
    user_weeks = user_weeks.join(first, on="user")
    user_weeks["k"] = user_weeks["week"] - user_weeks["cohort"]
    retained = user_weeks.groupby(["cohort", "k"]).size()
    sizes = first.value_counts().sort_index()
    last = int(user_weeks["week"].max())
    epoch_monday = np.datetime64("1969-12-29")
    out = []
    for cohort, size in sizes.items():
        name = str(epoch_monday + np.timedelta64(int(cohort) * 7, "D"))
        for k in range(last - int(cohort) + 1):
            out.append(f"{name}\t{k}\t{size}\t{retained.get((cohort, k), 0)}\n")
    sys.stdout.write("".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
