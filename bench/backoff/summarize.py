#!/usr/bin/env python3
"""Summarise a bench/backoff/run.sh result directory as Markdown (stdout).

Reads DIR/machine.txt, DIR/rounds.tsv, DIR/overhead-*.json and DIR/simulate-time.json (hyperfine exports),
DIR/simulate.jsonl and DIR/simulate-seed-*.jsonl (backoff simulate's output) and DIR/checks.txt. Prints only figures found in
those files.
"""

import glob
import json
import os
import statistics
import sys

sys.dont_write_bytecode = True  # no bench/__pycache__ left in the checkout
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

OVERHEAD_TARGET_MS = 1.0
SIMULATE_TARGET_S = 1.0
BASELINE = "true"
BACKOFF = "backoff -- true"
REFERENCE_STRATEGY = "full"


def overhead_section(directory):
    files = sorted(glob.glob(os.path.join(directory, "overhead-*.json")))
    if not files:
        return [], None
    pooled, round_medians = benchlib.pool_rounds(files, "median")
    # Report in a fixed order (run.sh rotates the order from one round to the next).
    order = [BASELINE, BACKOFF] + sorted(n for n in pooled if n not in (BASELINE, BACKOFF))
    names = [n for n in order if n in pooled]
    median_ms = {name: statistics.median(times) * 1000 for name, times in pooled.items()}
    runs = len(pooled[names[0]]) // len(files)
    lines = [
        f"Wrapper overhead: {len(files)} hyperfine round(s), {runs} runs each "
        "(no shell, `-N`; command order rotated per round). Times in ms.",
        "",
        "| command | median (all runs) | p10 | p90 | p90 − p10 | min | max | median of each round "
        "| added over `true` (median) | backoff ÷ this |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for name in names:
        ms = [t * 1000 for t in pooled[name]]
        p10, p90 = benchlib.percentile(ms, 0.1), benchlib.percentile(ms, 0.9)
        rounds = benchlib.milliseconds_list(round_medians[name])
        added = "–"
        if BASELINE in median_ms and name != BASELINE:
            added = f"{median_ms[name] - median_ms[BASELINE]:+.2f} ms"
        ratio = "–"
        if BACKOFF in median_ms:
            ratio = f"{median_ms[BACKOFF] / median_ms[name]:.2f}×"
        lines.append(
            f"| `{name}` | {median_ms[name]:.2f} ms | {p10:.2f} | {p90:.2f} | {p90 - p10:.2f} | "
            f"{min(ms):.2f} | {max(ms):.2f} | {rounds} | {added} | {ratio} |")
    lines += benchlib.rounds_note(os.path.join(directory, "rounds.tsv"))
    added_ms = None
    if BACKOFF in median_ms and BASELINE in median_ms:
        added_ms = median_ms[BACKOFF] - median_ms[BASELINE]
        lines += ["", "Added cost over the bare command (median − median of `true`):", ""]
        for name in names:
            if name != BASELINE:
                lines.append(f"- `{name}`: {median_ms[name] - median_ms[BASELINE]:.2f} ms")
        per_round = [b - t for b, t in zip(round_medians[BACKOFF], round_medians[BASELINE])]
        lines.append("- `backoff -- true` in each round (round median − `true`'s round median): "
                     + ", ".join(f"{a * 1000:.3f}" for a in per_round) + " ms")
        peers = [n for n in names if n not in (BASELINE, BACKOFF)]
        for name in peers:
            peer_added = median_ms[name] - median_ms[BASELINE]
            if peer_added > 0:
                lines.append(f"- backoff's added cost ÷ `{name}`'s: {added_ms / peer_added:.2f}×")
    return lines, (added_ms, per_round if added_ms is not None else [])


def simulate_time_section(directory):
    path = os.path.join(directory, "simulate-time.json")
    if not os.path.exists(path):
        return [], None
    with open(path) as handle:
        result = json.load(handle)["results"][0]
    times = result["times"]
    lines = [
        f"Simulation run time ({len(times)} runs, hyperfine `-N`):",
        "",
        "| command | median | mean ± σ | min | max | user (mean) | system (mean) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| `{result['command']}` | {statistics.median(times):.3f} s | {result['mean']:.3f} ± "
        f"{result['stddev'] or 0:.3f} s | {min(times):.3f} s | {max(times):.3f} s | "
        f"{result['user']:.3f} s | {result['system']:.3f} s |",
    ]
    return lines, statistics.median(times)


def simulate_table(directory):
    path = os.path.join(directory, "simulate.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    if not rows:
        return []
    ref = next((r for r in rows if r["strategy"] == REFERENCE_STRATEGY), None)
    lines = [
        f"Simulation output (`simulate.jsonl`; {rows[0]['clients']} clients, "
        f"{rows[0]['runs']} runs averaged):",
        "",
        "| strategy | mean_calls | mean_completion_ms | calls ÷ full jitter's | "
        "completion ÷ full jitter's |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        calls_ratio = completion_ratio = "–"
        if ref:
            calls_ratio = f"{row['mean_calls'] / ref['mean_calls']:.2f}×"
            completion_ratio = f"{row['mean_completion_ms'] / ref['mean_completion_ms']:.2f}×"
        lines.append(
            f"| {row['strategy']} | {row['mean_calls']:,.1f} | {row['mean_completion_ms']:,.1f} | "
            f"{calls_ratio} | {completion_ratio} |")
    fewest = min(rows, key=lambda r: r["mean_calls"])
    fastest = min(rows, key=lambda r: r["mean_completion_ms"])
    lines += ["", f"Fewest calls: {fewest['strategy']}. Shortest completion: {fastest['strategy']}."]

    others = sorted(glob.glob(os.path.join(directory, "simulate-seed-*.jsonl")))
    if others:
        runs = {1: rows}
        for path in others:
            seed = int(path.rsplit("-", 1)[1].split(".")[0])
            with open(path) as handle:
                runs[seed] = [json.loads(line) for line in handle if line.strip()]
        seeds = sorted(runs)
        lines += ["", f"The same experiment with seeds {', '.join(map(str, seeds))} "
                  "(range over the seeds):", "",
                  "| strategy | mean_calls min – max | mean_completion_ms min – max | "
                  "rank by calls (each seed) | rank by completion (each seed) |",
                  "|---|---:|---:|---|---|"]
        for row in rows:
            name = row["strategy"]
            per_seed = [next(r for r in runs[s] if r["strategy"] == name) for s in seeds]
            calls = [r["mean_calls"] for r in per_seed]
            done = [r["mean_completion_ms"] for r in per_seed]
            rank_calls = ", ".join(
                str(1 + sorted(r["mean_calls"] for r in runs[s]).index(c)) for s, c in zip(seeds, calls))
            rank_done = ", ".join(
                str(1 + sorted(r["mean_completion_ms"] for r in runs[s]).index(d))
                for s, d in zip(seeds, done))
            lines.append(f"| {name} | {min(calls):,.1f} – {max(calls):,.1f} | "
                         f"{min(done):,.1f} – {max(done):,.1f} | {rank_calls} | {rank_done} |")
    return lines


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "."
    out = benchlib.summary_head("backoff benchmark summary",
                                os.path.join(directory, "machine.txt"))

    overhead_lines, overhead = overhead_section(directory)
    added_ms, per_round = overhead if overhead else (None, [])
    out += overhead_lines + [""]
    time_lines, sim_s = simulate_time_section(directory)
    out += time_lines + [""]
    table = simulate_table(directory)
    out += table + ([""] if table else [])

    out += ["Targets:", ""]
    if added_ms is not None:
        verdict = "met" if added_ms < OVERHEAD_TARGET_MS else "MISSED"
        under = sum(1 for a in per_round if a * 1000 < OVERHEAD_TARGET_MS)
        # Say so when the pooled median and the round medians disagree.
        if added_ms < OVERHEAD_TARGET_MS and under < len(per_round):
            verdict += f" on the pooled median only; under target in {under} of {len(per_round)} rounds"
        elif added_ms >= OVERHEAD_TARGET_MS and under:
            verdict += f"; under target in {under} of {len(per_round)} rounds"
        out.append(f"- backoff's added cost over `true`, median {added_ms:.3f} ms "
                   f"(target < {OVERHEAD_TARGET_MS} ms): {verdict}")
    if sim_s is not None:
        verdict = "met" if sim_s < SIMULATE_TARGET_S else "MISSED"
        out.append(f"- simulate median {sim_s:.3f} s (target < {SIMULATE_TARGET_S} s): {verdict}")
    out.append("")
    out += benchlib.checks_block(os.path.join(directory, "checks.txt"))
    print("\n".join(out))


if __name__ == "__main__":
    main()
