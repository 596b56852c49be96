#!/usr/bin/python3
"""bench/zscore peer: the rolling z-score of `zscore` (default method), by pandas.

/usr/bin/python3 pandas_zscore.py POINTS.jsonl [--key FIELD] [--window W] [--threshold T]
                                  [--chunksize N] [--emit anomalies|z]

For each point: the mean and the sample standard deviation (ddof=1) of the previous W points
of its series (the current point excluded: rolling(W) shifted by one), and
z = (value - mean) / sd; the first W points of a series have no z (warm-up), nor has a point
whose window has sd 0 (as zscore, which prints z null then). With --key the series are the
groups of that field (groupby(FIELD).rolling(W), then a shift by one within each group);
without it the file is one series.

The file is read with pandas.read_json(lines=True) in chunks (default 1,000,000 lines), as one
would for a file of this size; the last W points of each series are carried from one chunk to
the next so that windows span chunk boundaries. The timestamps are read as they are, not
parsed: like zscore's, the rolling windows follow the order of the file (the benchmark's files
are in time order within each series).

--emit anomalies (default): one line per point with |z| > T, in file order: its "ts" and, with
--key, the key, tab-separated (what `zscore --only-anomalies` flags; run.sh compares the two).
--emit z: one line per point, in file order: z, the mean and the sd, tab-separated, each in
the shortest form that reads back the same (Python's repr), or "null" while warming up (z is
null too when sd is 0). Either way a summary line goes to standard error.
"""

import argparse
import sys

import numpy as np
import pandas as pd


def zscores(frame, key, window):
    """(z, mean, sd) of every row of `frame` as Series on its index, NaN while warming up."""
    value = frame["value"]
    if key is None:
        rolling = value.rolling(window)
        mean, sd = rolling.mean().shift(1), rolling.std(ddof=1).shift(1)
    else:
        groups = value.groupby(frame[key], sort=False)
        rolling = groups.rolling(window)
        # groupby().rolling() is indexed (key, row): back to the rows, then shift within groups.
        mean = rolling.mean().droplevel(0).reindex(frame.index)
        sd = rolling.std(ddof=1).droplevel(0).reindex(frame.index)
        mean = mean.groupby(frame[key], sort=False).shift(1)
        sd = sd.groupby(frame[key], sort=False).shift(1)
    z = (value - mean) / sd
    return z.where(sd > 0), mean, sd


def show(v):
    return "null" if v != v else repr(v)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("points")
    parser.add_argument("--key")
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--threshold", type=float, default=3.0)
    parser.add_argument("--chunksize", type=int, default=1_000_000)
    parser.add_argument("--emit", choices=("anomalies", "z"), default="anomalies")
    args = parser.parse_args()
    key, window = args.key, args.window
    dtype = {"ts": str, "value": "float64"}
    if key is not None:
        dtype[key] = str
    carry = None  # the last `window` rows of each series so far
    points = judged = anomalies = 0
    out = sys.stdout
    with pd.read_json(args.points, lines=True, chunksize=args.chunksize, dtype=dtype,
                      convert_dates=False) as reader:
        for chunk in reader:
            columns = ["ts", "value"] if key is None else ["ts", key, "value"]
            chunk = chunk[columns]
            carried = 0 if carry is None else len(carry)
            frame = chunk if carry is None else pd.concat([carry, chunk], ignore_index=True)
            frame = frame.reset_index(drop=True)
            z, mean, sd = (c.to_numpy()[carried:] for c in zscores(frame, key, window))
            points += len(chunk)
            judged += int(np.count_nonzero(~np.isnan(z)))
            flagged = np.abs(z) > args.threshold  # NaN compares False
            anomalies += int(np.count_nonzero(flagged))
            if args.emit == "z":
                out.write("".join(f"{show(a)}\t{show(b)}\t{show(c)}\n"
                                  for a, b, c in zip(z.tolist(), mean.tolist(), sd.tolist())))
            elif flagged.any():
                rows = chunk[flagged]
                if key is None:
                    out.write("".join(f"{t}\n" for t in rows["ts"].tolist()))
                else:
                    out.write("".join(f"{t}\t{k}\n"
                                      for t, k in zip(rows["ts"].tolist(), rows[key].tolist())))
            carry = (frame.tail(window) if key is None
                     else frame.groupby(key, sort=False).tail(window))
    print(f"pandas_zscore.py: {points} points, {judged} with a z, {anomalies} with |z| > "
          f"{args.threshold:g}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
