#!/usr/bin/env python3
"""Summarise a bench/cohort/run.sh timing file as Markdown (stdout).

summarize.py RESULTS.tsv BYTES

Reads the per-run rows run.sh writes (name, run, events, wall_s, user_s, sys_s, maxrss_kib,
status, check) and prints one table row per command: runs, median wall time, min-max, events/s
and MB/s at the median (BYTES is the size of the log), median CPU (user+sys), peak RSS, and the
ratios to cohort (stdin form) in wall time and in CPU time. Only runs that exited 0 with a
correct answer count; a stopped or wrong run is shown as such and enters no ratio. Then the
issue's two targets. Prints only figures found in the file.
"""

import os
import sys

sys.dont_write_bytecode = True  # no bench/__pycache__ left in the checkout
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

COHORT = "cohort --period week < FILE"
COHORT_FORMS = (COHORT, "cohort --period week FILE")
EVENTS_TARGET = 3_000_000  # events/s, end to end, one core
RSS_TARGET = 500_000_000  # bytes ("under 500 MB")
FULL_EVENTS = 10_000_000


def main():
    path, size = sys.argv[1], int(sys.argv[2])
    rows = benchlib.group_by(benchlib.read_tsv(path), "name")
    ref = benchlib.counted_medians(rows.get(COHORT, []))
    print("| command | runs | median wall | min – max | events/s (at median) | MB/s | median CPU "
          "(user+sys) | peak RSS, median (max) | ÷ cohort, wall | ÷ cohort, CPU | answer |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, runs in rows.items():
        shown = benchlib.cell(f"`{name}`")
        events = int(runs[0]["events"])
        ok = [r for r in runs if benchlib.counted(r)]
        bad = [r for r in runs if not benchlib.counted(r)]
        if not ok:
            print(benchlib.not_counted_row(shown, runs))
            continue
        wall, cpu, _ = benchlib.counted_medians(ok)
        ratio_wall = ratio_cpu = "–"
        if ref:
            ratio_wall = f"{wall / ref[0]:.2f}×"
            ratio_cpu = f"{cpu / ref[1]:.2f}×" if ref[1] > 0 else "–"
        answer = "correct" if name not in ("wc -l", "cat > /dev/null") else "(floor)"
        if name == "wc -l":
            answer = "(floor) line count correct"
        if bad:
            answer += f"; {len(bad)} run(s) not counted: {bad[0]['check']}"
        print(benchlib.throughput_row(shown, ok, events, size, ratio_wall, ratio_cpu, answer))
    print()
    print("Ratios: the command's median wall time (CPU time) divided by cohort's, on the same "
          "file; above 1 means slower than cohort.")
    if ref:
        events = int(rows[COHORT][0]["events"])
        rate = events / ref[0]
        scale = "" if events >= FULL_EVENTS else (
            f" (this run had {events:,} events; the target is about {FULL_EVENTS:,})")
        verdict = "met" if rate >= EVENTS_TARGET else "NOT met"
        print(f"Target >= {EVENTS_TARGET:,} events/s end to end on one core: {verdict} "
              f"({rate:,.0f} events/s at the median wall time of `{COHORT}`, "
              f"{ref[1]:.2f} s CPU for {ref[0]:.3f} s wall){scale}.")
        for form in COHORT_FORMS[1:]:
            medians = benchlib.counted_medians(rows.get(form, []))
            if medians:
                print(f"  `{form}`: {events / medians[0]:,.0f} events/s at its median wall time.")
        peak = max(int(r["maxrss_kib"]) * 1024 for form in COHORT_FORMS
                   for r in rows.get(form, []) if benchlib.counted(r))
        verdict = "met" if peak < RSS_TARGET else "NOT met"
        print(f"Target peak memory under 500 MB: {verdict} ({peak / 1e6:,.1f} MB = "
              f"{peak / 2**20:,.1f} MiB, the largest peak RSS of any cohort run){scale}.")


if __name__ == "__main__":
    main()
