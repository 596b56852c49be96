#!/usr/bin/env python3
"""bench/funnel peer: funnel --steps event=home,event=search,event=cart,event=checkout
--window WINDOW_S (default mode) by pandas, vectorised: hits sorted by (session, time, step);
for each step k, the start of the latest chain that reached step k-1 is carried forward
within the session (groupby ffill), and a step-k hit extends it when within the window.
Prints step, entities, median and p90 time to the step (nearest rank, microseconds) as TSV.

pandas_funnel.py EVENTS WINDOW_SECONDS"""
import math
import sys

import numpy as np
import pandas as pd

STEPS = ["home", "search", "cart", "checkout"]


def nearest_rank(values, q):
    if len(values) == 0:
        return ""
    ordered = np.sort(values)
    return int(ordered[max(math.ceil(q * len(ordered)), 1) - 1])


def main():
    path, window = sys.argv[1], int(sys.argv[2]) * 1_000_000
    events = pd.read_json(path, lines=True, dtype={"session": str, "event": str},
                          convert_dates=False)
    events = events[events["event"].isin(STEPS)]
    hits = pd.DataFrame({
        "session": events["session"].to_numpy(),
        "t": events["ts"].to_numpy(dtype=np.int64) * 1000,
        "step": events["event"].map({name: k + 1 for k, name in enumerate(STEPS)}).to_numpy(),
    }).sort_values(["session", "t", "step"], kind="stable", ignore_index=True)
    start = np.where(hits["step"] == 1, hits["t"], np.nan)
    rows = []
    for k in range(1, len(STEPS) + 1):
        if k > 1:
            carried = pd.Series(start).groupby(hits["session"]).ffill().to_numpy()
            valid = (hits["step"].to_numpy() == k) & (hits["t"].to_numpy() - carried <= window)
            start = np.where(valid, carried, np.nan)
        reached = hits[~np.isnan(start)].assign(elapsed=lambda f: f["t"] - start[~np.isnan(start)])
        first = reached.groupby("session", sort=False)["elapsed"].first().to_numpy()
        rows.append((k, len(first), nearest_rank(first, 0.5), nearest_rank(first, 0.9)))
    for row in rows:
        print("\t".join(str(value) for value in row))


if __name__ == "__main__":
    main()
