#!/usr/bin/env python3
"""Summarise a bench/zscore/run.sh timing file as Markdown (stdout).

summarize.py RESULTS.tsv [--window 30] [--robust-window 1000]

Reads the per-run rows run.sh writes (data, name, run, points, bytes, wall_s, user_s, sys_s,
maxrss_kib, status, check; data is the number of series in the file) and prints, for each
file, one table row per command: runs, median wall time, min-max, points/s and MB/s at the
median, median CPU (user+sys), peak RSS, and pandas' median wall (CPU) time divided by the
command's (above 1: the command is faster than pandas). Only runs that exited 0 with a correct
answer count; a stopped or wrong run is shown as such and enters no ratio. Then the issue's
targets: the default method at >= 5,000,000 points/s, robust (window 1000) at >= 1,000,000
points/s, memory in proportion to series x window (peak RSS of the 1-series and the
1000-series runs, and what each extra series costs). Prints only figures found in the file.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # no bench/__pycache__ left in the checkout
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

ZSCORE_TARGET = 5_000_000  # points/s, the default method, one core
ROBUST_TARGET = 1_000_000  # points/s, --method robust --window 1000
FULL_POINTS = 10_000_000
FLOORS = ("wc -l", "cat > /dev/null")


def shown(name, data, window, robust_window):
    key = "" if data == "1" else " --key series"
    if name.startswith("zscore"):
        rest = name[len("zscore"):]
        out = " > flagged.jsonl" if rest else " > /dev/null"
        return f"zscore{key}{rest}{out}"
    if name.startswith("robust"):
        rest = name[len("robust"):]
        out = " > flagged.jsonl" if rest else " > /dev/null"
        return f"zscore --method robust --window {robust_window}{key}{rest}{out}"
    if name == "pandas":
        return f"pandas_zscore.py FILE{key}"
    if name == "wc -l":
        return "wc -l < FILE"
    if name == "cat > /dev/null":
        return "cat FILE > /dev/null"
    return name


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tsv")
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--robust-window", type=int, default=1000)
    args = parser.parse_args()
    data = {series: benchlib.group_by(rows, "name")
            for series, rows in benchlib.group_by(benchlib.read_tsv(args.tsv), "data").items()}
    if not data:
        print("(no timed runs)")
        return
    points = {d: int(next(iter(rows.values()))[0]["points"]) for d, rows in data.items()}
    for d, rows in data.items():
        first = next(iter(rows.values()))[0]
        n, size = int(first["points"]), int(first["bytes"])
        print(f"### {d} series{'' if d == '1' else ' (interleaved; --key series)'}: "
              f"{n:,} points, {size:,} bytes")
        print()
        print("| command | runs | median wall | min – max | points/s (at median) | MB/s | median CPU "
              "(user+sys) | peak RSS, median (max) | pandas ÷ this, wall | pandas ÷ this, CPU "
              "| answer |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        ref = benchlib.counted_medians(rows.get("pandas", []))
        for name, runs in rows.items():
            label = benchlib.cell(f"`{shown(name, d, args.window, args.robust_window)}`")
            ok = [r for r in runs if benchlib.counted(r)]
            bad = [r for r in runs if not benchlib.counted(r)]
            if not ok:
                print(benchlib.not_counted_row(label, runs))
                continue
            wall, cpu, _ = benchlib.counted_medians(ok)
            ratio_wall = ratio_cpu = "–"
            if ref and wall > 0:
                ratio_wall = f"{ref[0] / wall:.1f}×"
            if ref and cpu > 0:
                ratio_cpu = f"{ref[1] / cpu:.1f}×"
            if name in FLOORS:
                answer = "(floor)" if name != "wc -l" else "(floor) line count correct"
            elif name == "pandas":
                answer = "same flagged points as zscore"
            elif name.endswith("--only-anomalies"):
                flagged = ok[0]["check"].removeprefix("reference (").removesuffix(")")
                answer = f"{flagged}, every run the same bytes"
            else:
                answer = "exit 0 (output not kept)"
            if bad:
                answer += f"; {len(bad)} run(s) not counted: {bad[0]['check']}"
            print(benchlib.throughput_row(label, ok, n, size, ratio_wall, ratio_cpu, answer))
        print()
    print("pandas ÷ this: pandas' median wall (CPU) time divided by the command's, on the same "
          "file; 8.0× means the command took an eighth of pandas' time. pandas computes the "
          "same z but prints only the flagged points; `zscore > /dev/null` writes every point "
          "with its 7 added fields.")
    print()

    # --- the targets ---------------------------------------------------------------------
    small = min(points.values())
    scale = "" if small >= FULL_POINTS else (
        f" (this run had {small:,} points per file; the targets are for {FULL_POINTS:,})")
    print(f"Targets{scale}:")
    for method, target, names in (("zscore", ZSCORE_TARGET, "the default method"),
                                  ("robust", ROBUST_TARGET,
                                   f"--method robust --window {args.robust_window}")):
        figures, verdicts = [], []
        for d, rows in data.items():
            full = benchlib.counted_medians(rows.get(method, []))
            only = benchlib.counted_medians(rows.get(f"{method} --only-anomalies", []))
            if full is None:
                continue
            rate = points[d] / full[0]
            verdicts.append(rate >= target)
            text = f"{d} series {rate:,.0f}/s (CPU {full[1]:.2f} s for {full[0]:.3f} s wall)"
            if only:
                text += f", with --only-anomalies {points[d] / only[0]:,.0f}/s"
            figures.append(text)
        if not figures:
            print(f"- {names} >= {target:,} points/s: not measured (no successful run; "
                  "skipped if the binary has no such method)")
            continue
        verdict = "met" if all(verdicts) else ("NOT met" if not any(verdicts) else "partly met")
        print(f"- {names} >= {target:,} points/s on one core, whole output to /dev/null: "
              f"{verdict}: " + "; ".join(figures) + ".")
    print(f"- memory in proportion to series × window (peak RSS, the largest of the counted runs):")
    for method, window in (("zscore", args.window), ("robust", args.robust_window)):
        rss = {}
        for d, rows in data.items():
            counted = [m for m in (benchlib.counted_medians(rows.get(form, []))
                                   for form in (method, f"{method} --only-anomalies")) if m]
            if counted:
                rss[d] = max(m[2] for m in counted) * 1024
        if not rss:
            continue
        text = ", ".join(f"{d} series {v / 2**20:,.1f} MiB" for d, v in rss.items())
        if "1" in rss and len(rss) > 1:
            many = max(rss, key=int)
            extra = int(many) - 1
            per = (rss[many] - rss["1"]) / extra
            text += (f"; each extra series costs about {per:,.0f} bytes "
                     f"({per / window:,.1f} per window slot of {window}; a slot's value alone is 8)")
            filled = points[many] // int(many)
            if filled < window:
                text += (f". Not representative: {filled} points per series here, so the "
                         f"windows of {window} never filled")
        label = "default" if method == "zscore" else f"robust, window {window}"
        print(f"  - {label}: {text}.")


if __name__ == "__main__":
    main()
