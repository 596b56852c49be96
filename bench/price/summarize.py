#!/usr/bin/env python3
"""Summarise a bench/price/run.sh timing file as Markdown (stdout).

summarize.py RESULTS.tsv MARKETS

Reads the per-run rows run.sh writes (name, run, skus, wall_s, user_s, sys_s, maxrss_kib,
status) and prints one table row per command: runs, SKUs, median wall time, min-max, prices/s
at the median (SKUs x MARKETS / wall), median CPU (user+sys), prices per CPU-second, peak RSS,
then the issue's two targets. Prints only figures found in the file.
"""

import os
import statistics
import sys

sys.dont_write_bytecode = True  # no bench/__pycache__ left in the checkout
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

CALC, PUBLISH = "price calc", "price publish (fresh)"
CALC_TARGET = 2_000_000  # prices/s per core, end to end
PUBLISH_TARGET_S = 30.0  # 1M SKUs x 10 markets


def main():
    path, markets = sys.argv[1], int(sys.argv[2])
    rows = benchlib.group_by(benchlib.read_tsv(path), "name")
    medians = {}
    print("| command | runs | SKUs | median wall | min – max | prices/s (at median) | median CPU "
          "(user+sys) | prices per CPU-s | peak RSS (max) | ÷ price calc (time per price) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, runs in rows.items():
        shown = benchlib.cell(name)
        walls = [float(r["wall_s"]) for r in runs]
        skus = int(runs[0]["skus"])
        wall = statistics.median(walls)
        medians[name] = (wall, skus)
        cpu = [benchlib.cpu_seconds(r) for r in runs if r["user_s"]]
        rss = [int(r["maxrss_kib"]) for r in runs if r["maxrss_kib"]]
        prices = skus * markets
        if name == "price lookup":
            ms = sorted(w * 1000 for w in walls)
            print(f"| `{shown}` | {len(walls)} | – | {statistics.median(ms):.2f} ms | "
                  f"{ms[0]:.2f} – {ms[-1]:.2f} ms | – | – | – | – | – |")
            continue
        cpu_text = f"{statistics.median(cpu):.2f} s" if cpu else "–"
        per_cpu = f"{prices / statistics.median(cpu):,.0f}" if cpu and statistics.median(cpu) > 0 else "–"
        rss_text = benchlib.peak_rss_text(rss)
        ratio = "–"
        if CALC in medians:
            calc_wall, calc_skus = medians[CALC]
            ratio = f"{(wall / prices) / (calc_wall / (calc_skus * markets)):.2f}×"
        print(f"| `{shown}` | {len(walls)} | {skus:,} | {wall:.3f} s | {min(walls):.3f} – "
              f"{max(walls):.3f} s | {prices / wall:,.0f} | {cpu_text} | {per_cpu} | {rss_text} | "
              f"{ratio} |")
    print()
    if CALC in medians:
        wall, skus = medians[CALC]
        rate = skus * markets / wall
        verdict = "met" if rate >= CALC_TARGET else "NOT met"
        print(f"Target calc >= {CALC_TARGET:,} prices/s per core end to end: {verdict} "
              f"({rate:,.0f} prices/s at the median wall time, one process).")
    if PUBLISH in medians:
        wall, skus = medians[PUBLISH]
        if skus >= 1_000_000:
            verdict = "met" if wall < PUBLISH_TARGET_S else "NOT met"
            print(f"Target publish of 1M SKUs x 10 markets under {PUBLISH_TARGET_S:.0f} s: {verdict} "
                  f"({wall:.3f} s median).")
        else:
            print(f"Target publish under {PUBLISH_TARGET_S:.0f} s applies to 1M SKUs; this run had "
                  f"{skus:,} ({wall:.3f} s median).")


if __name__ == "__main__":
    main()
