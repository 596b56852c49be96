#!/usr/bin/env python3
"""Summarise a bench/idemkey/run.sh result directory as Markdown (stdout).

Reads DIR/machine.txt, DIR/replay-*.json (hyperfine exports), DIR/filter.tsv and DIR/checks.txt.
Prints only figures found in those files.
"""

import glob
import os
import statistics
import sys

sys.dont_write_bytecode = True  # no bench/__pycache__ left in the checkout
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

REPLAY_TARGET_MS = 3.0
FILTER_TARGET_RPS = 200_000
IDEMKEY_REPLAY = "idemkey run (replay)"
IDEMKEY_FRESH = "idemkey filter (fresh state)"


def replay_section(directory):
    files = sorted(glob.glob(os.path.join(directory, "replay-*.json")))
    if not files:
        return [], None
    pooled, round_medians = benchlib.pool_rounds(files, "median")
    baseline = {name: statistics.median(times) for name, times in pooled.items()}
    lines = [
        f"Replay latency: {len(files)} hyperfine round(s), "
        f"{len(pooled[next(iter(pooled))]) // len(files)} runs each (no shell, `-N`).",
        "",
        "| command | median (all runs) | p10 | p90 | min | max | median of each round | "
        "idemkey ÷ this |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for name, times in pooled.items():
        ms = [t * 1000 for t in times]
        rounds = benchlib.milliseconds_list(round_medians[name])
        ratio = "–"
        if IDEMKEY_REPLAY in baseline:
            ratio = f"{baseline[IDEMKEY_REPLAY] / baseline[name]:.2f}×"
        lines.append(
            f"| `{name}` | {statistics.median(ms):.2f} ms | {benchlib.percentile(ms, 0.1):.2f} | "
            f"{benchlib.percentile(ms, 0.9):.2f} | {min(ms):.2f} | {max(ms):.2f} | {rounds} | "
            f"{ratio} |")
    replay_ms = baseline.get(IDEMKEY_REPLAY)
    return lines, None if replay_ms is None else replay_ms * 1000


def filter_rows(directory):
    path = os.path.join(directory, "filter.tsv")
    if not os.path.exists(path):
        return {}
    return benchlib.group_by(benchlib.read_tsv(path), "label")


def filter_table(rows, labels, reference):
    ref_time = statistics.median(float(r["wall_s"]) for r in rows[reference])
    lines = [
        "| command | runs | median wall | min – max | records/s (at median) | median CPU "
        "(user+sys) | peak RSS median (max) | idemkey ÷ this (time) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label in labels:
        walls = [float(r["wall_s"]) for r in rows[label]]
        rss = [int(r["max_rss_kb"]) for r in rows[label] if r["max_rss_kb"]]  # empty: no GNU time
        cpu = [benchlib.cpu_seconds(r) for r in rows[label]]
        records = int(rows[label][0]["records"])
        median = statistics.median(walls)
        bad = sum(1 for r in rows[label] if r["exit"] != "0")
        note = f" ({bad} failed)" if bad else ""
        lines.append(
            f"| `{benchlib.cell(label)}`{note} | {len(walls)} | {median:.3f} s | "
            f"{min(walls):.3f} – {max(walls):.3f} s | {records / median:,.0f} | {statistics.median(cpu):.2f} s | "
            f"{benchlib.peak_rss_text(rss)} | {ref_time / median:.2f}× |")
    return lines


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "."
    out = benchlib.summary_head("idemkey benchmark summary",
                                os.path.join(directory, "machine.txt"))

    replay_lines, replay_ms = replay_section(directory)
    out += replay_lines + [""]

    rows = filter_rows(directory)
    fresh_rps = None
    if rows:
        full = [label for label in rows if not label.endswith("[prefix]")]
        prefix = [label for label in rows if label.endswith("[prefix]")]
        records = int(rows[full[0]][0]["records"])
        out += [f"Filter throughput, {records:,} records (wall time measured around "
                "`/usr/bin/time`; peak RSS from its %M):", ""]
        out += filter_table(rows, full, IDEMKEY_FRESH) + [""]
        if prefix:
            count = int(rows[prefix[0]][0]["records"])
            out += [f"Order-preserving jq on the first {count:,} records (quadratic in jq):", ""]
            out += filter_table(rows, prefix, IDEMKEY_FRESH + " [prefix]") + [""]
        if IDEMKEY_FRESH in rows:
            median = statistics.median(float(r["wall_s"]) for r in rows[IDEMKEY_FRESH])
            fresh_rps = records / median

    out += ["Targets:", ""]
    if replay_ms is not None:
        verdict = "met" if replay_ms < REPLAY_TARGET_MS else "MISSED"
        out.append(f"- replay median {replay_ms:.2f} ms (target < {REPLAY_TARGET_MS} ms): {verdict}")
    if fresh_rps is not None:
        verdict = "met" if fresh_rps >= FILTER_TARGET_RPS else "MISSED"
        out.append(f"- filter {fresh_rps:,.0f} records/s (target >= {FILTER_TARGET_RPS:,}): {verdict}")
    out.append("")
    # Unlike the other summaries, every line that is not ok counts as failed (a skipped peer too).
    out += benchlib.checks_block(os.path.join(directory, "checks.txt"), failure_prefixes="")
    print("\n".join(out))


if __name__ == "__main__":
    main()
