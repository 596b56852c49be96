#!/usr/bin/python3
"""Helpers of bench/zscore/run.sh (stdlib only).

check_z.py compare ZSCORE_OUTPUT.jsonl PANDAS_Z.txt [--rel 1e-9]
    Compares each line of zscore's output with the same line of pandas_zscore.py --emit z
    (z, mean, sd): z null on both (warming up, or sd 0), or else
      - z within rel relative: |a - b| <= rel * max(|a|, |b|, 1). Below |z| = 1 that is an
        absolute 1e-9: z near 0 is the difference of two nearly equal numbers, x - mean,
        whose relative error has no bound (z = 4.6e-5 differs by 3e-10 relative, 1.4e-14
        absolute, between pandas and zscore);
      - the window's mean (zscore's "expected") and sd ((upper - expected) / 3) each within
        rel relative, plainly;
      - anomaly == (|z| > 3).
    Also checks that both have as many lines. Prints one summary line with the largest
    differences seen (and up to 10 differing points) and exits 1 if anything differs.

check_z.py keys [--key FIELD] < ZSCORE_OUTPUT.jsonl
    Prints "ts" (and, with --key, TAB and the key) of every line of zscore's output whose
    "anomaly" is true: the format of pandas_zscore.py --emit anomalies.
"""

import argparse
import json
import math
import sys


def number(text):
    return None if text == "null" else float(text)


def compare(args):
    with open(args.zscore) as ours_file, open(args.pandas) as theirs_file:
        ours = ours_file.readlines()
        theirs = theirs_file.readlines()
    if len(ours) != len(theirs):
        print(f"FAIL: zscore printed {len(ours)} lines, pandas {len(theirs)}")
        return 1
    rel = args.rel
    bad = shown = judged = flagged = strict = 0
    worst = {"z": (0.0, 0), "z abs (|z| < 1)": (0.0, 0), "mean": (0.0, 0), "sd": (0.0, 0)}

    def note(what, value, line):
        if value > worst[what][0]:
            worst[what] = (value, line)

    for line_no, (line, text) in enumerate(zip(ours, theirs), 1):
        record = json.loads(line)
        z, mean, sd = (number(t) for t in text.split())
        a = record.get("z")
        problems = []
        if (a is None) != (z is None):
            problems.append(f"zscore z={a!r}, pandas z={z!r}")
        elif a is not None:
            judged += 1
            flagged += abs(a) > 3
            diff = abs(a - z)
            scale = max(abs(a), abs(z))
            if scale > 0:
                note("z", diff / scale, line_no)
                strict += diff > rel * scale
            if scale < 1:
                note("z abs (|z| < 1)", diff, line_no)
            if diff > rel * max(scale, 1.0):
                problems.append(f"zscore z={a!r}, pandas z={z!r}")
            # expected is the window's mean, upper = expected + 3 sd (--threshold 3)
            ours_mean = record["expected"]
            ours_sd = (record["upper"] - record["expected"]) / 3
            for what, x, y in (("mean", ours_mean, mean), ("sd", ours_sd, sd)):
                scale = max(abs(x), abs(y))
                d = abs(x - y) / scale if scale > 0 else 0.0
                note(what, d, line_no)
                if d > rel:
                    problems.append(f"zscore {what}={x!r}, pandas {what}={y!r}")
            if record.get("anomaly") is not (abs(a) > 3):
                problems.append(f"anomaly={record.get('anomaly')!r} with z={a!r}")
        if problems:
            bad += 1
            if shown < 10:
                print(f"  line {line_no}: {'; '.join(problems)}")
                shown += 1
    summary = (f"{len(ours)} points, {judged} with a z, {flagged} with |z| > 3; largest "
               f"differences: " + ", ".join(f"{what} {v:.2g} (line {n})"
                                            for what, (v, n) in worst.items()))
    if strict:
        summary += f"; {strict} z differ by more than {rel:g} in plain relative terms"
    if bad:
        print(f"FAIL: {bad} points differ; {summary}")
        return 1
    print(f"ok: {summary}")
    return 0


def keys(args):
    out = []
    for line in sys.stdin:
        record = json.loads(line)
        if record.get("anomaly") is True:
            if args.key is None:
                out.append(f"{record['ts']}\n")
            else:
                out.append(f"{record['ts']}\t{record[args.key]}\n")
    sys.stdout.write("".join(out))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare")
    c.add_argument("zscore")
    c.add_argument("pandas")
    c.add_argument("--rel", type=float, default=1e-9)
    k = sub.add_parser("keys")
    k.add_argument("--key")
    args = parser.parse_args()
    return compare(args) if args.command == "compare" else keys(args)


if __name__ == "__main__":
    sys.exit(main())
