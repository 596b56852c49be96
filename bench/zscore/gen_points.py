#!/usr/bin/python3
"""Write the input of bench/zscore/run.sh: metric points as JSON Lines.

gen_points.py --count N [--series K] [--seed S] [--start TIME] --out FILE

N lines such as

  {"ts":"2026-01-01T00:00:00Z","series":"s0042","value":1064.409}

(compact JSON, 60 to 70 bytes a line), from a seeded generator: the same arguments give the
same bytes (with the same numpy). Needs numpy (Debian's python3-numpy comes with
python3-pandas).

Series. K series "s0000" .. "s{K-1}" (4 digits, more if K > 10,000), interleaved round-robin:
line i belongs to series i mod K and is that series' point number i div K, so every series has
N/K points (the first N mod K series one more). Within a series the points are one minute
apart from --start (default 2026-01-01T00:00:00Z), so every series is in strictly increasing
time order and no point is dropped as late; the series of one round share a timestamp. The
"series" field is written for K = 1 too ("s0000"), so both files have the same shape; with one
series it is simply not used as a key.

Values. Each series has its own shape, drawn from the seed: a level (log-uniform in 20..5000),
a daily cycle (a sine with a period of 1,440 points, amplitude 5-40% of the level, its own
phase), a slow wander (a second sine with a period of 1-30 days, amplitude up to 10%), and
Gaussian noise (1-8% of the level). About 1 point in 5,000 is a spike: the value is pushed up
(3 in 4) or down by 6 to 20 noise deviations. Values are clamped at 0 and rounded to 3
decimals, written in the shortest form that reads back the same (1064.4, not 1064.400).
Statistics of the data are printed on standard error.
"""

import argparse
import datetime
import sys

import numpy as np

CHUNK = 500_000  # lines built and written at a time
DAY = 1_440  # points (minutes) in a day
SPIKE_RATE = 1 / 5_000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--series", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", default="2026-01-01T00:00:00Z")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    n, k = args.count, args.series
    if n < 0 or k < 1:
        parser.error("--count must be >= 0 and --series >= 1")
    start = datetime.datetime.fromisoformat(args.start.replace("Z", "+00:00"))
    start64 = np.datetime64(int(start.timestamp()), "s")

    rng = np.random.default_rng(args.seed)
    level = np.exp(rng.uniform(np.log(20), np.log(5000), k))
    cycle = level * rng.uniform(0.05, 0.40, k)
    phase = rng.uniform(0, 2 * np.pi, k)
    wander = level * rng.uniform(0, 0.10, k)
    wander_period = rng.uniform(1, 30, k) * DAY
    wander_phase = rng.uniform(0, 2 * np.pi, k)
    noise = level * rng.uniform(0.01, 0.08, k)
    width = max(4, len(str(k - 1)))
    names = np.array([f"s{i:0{width}d}" for i in range(k)], dtype=object)

    spikes = 0
    clamped = 0
    total_bytes = 0
    vmin, vmax = np.inf, -np.inf
    with open(args.out, "w", encoding="ascii", newline="\n") as out:
        for first in range(0, n, CHUNK):
            i = np.arange(first, min(first + CHUNK, n), dtype=np.int64)
            s = i % k
            step = i // k
            value = (level[s]
                     + cycle[s] * np.sin(2 * np.pi * step / DAY + phase[s])
                     + wander[s] * np.sin(2 * np.pi * step / wander_period[s] + wander_phase[s])
                     + noise[s] * rng.standard_normal(len(i)))
            spike = rng.random(len(i)) < SPIKE_RATE
            m = int(spike.sum())
            if m:
                sign = np.where(rng.random(m) < 0.75, 1.0, -1.0)
                value[spike] += sign * rng.uniform(6, 20, m) * noise[s[spike]]
                spikes += m
            clamped += int((value < 0).sum())
            value = np.round(np.maximum(value, 0.0), 3)
            if len(value):
                vmin, vmax = min(vmin, value.min()), max(vmax, value.max())
            ts = np.datetime_as_string(start64 + step * 60, unit="s")
            lines = "".join([
                f'{{"ts":"{t}Z","series":"{name}","value":{v!r}}}\n'
                for t, name, v in zip(ts.tolist(), names[s].tolist(), value.tolist())])
            total_bytes += len(lines)
            out.write(lines)
    per_series = n // k
    last = start + datetime.timedelta(minutes=max(0, -(-n // k) - 1))
    print(f"gen_points.py: {n:,} points, {k:,} series ({per_series:,}"
          f"{'' if n % k == 0 else '-' + format(per_series + 1, ',')} points each, one a minute, "
          f"{args.start} .. {last.strftime('%Y-%m-%dT%H:%M:%SZ')}), seed {args.seed}", file=sys.stderr)
    if n:
        print(f"  {total_bytes:,} bytes ({total_bytes / n:.1f} a line); values {vmin:g} .. {vmax:g}; "
              f"{spikes:,} spikes ({spikes / n:.5%}); {clamped:,} clamped at 0", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
