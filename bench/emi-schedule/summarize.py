#!/usr/bin/env python3
"""Summarise a bench/emi-schedule/run.sh result directory as Markdown (stdout).

Reads DIR/run-machine.txt, DIR/run-rounds.tsv, DIR/run-N.json (hyperfine exports),
DIR/run-inprocess.txt and DIR/run-checks.txt (run.sh's files; calc.sh's are not read). Prints
only figures found in those files.
"""

import glob
import os
import statistics
import sys

sys.dont_write_bytecode = True  # no bench/__pycache__ left in the checkout
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

TARGET_MS = 5.0
BASELINE = "true"
EMI = "emi-schedule calc (360)"
PEER = "python3 calc_decimal.py (360)"
PY_START = "python3 -c pass"
PATH_PEER = "PATH python3 calc_decimal.py (360)"


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "."
    out = benchlib.summary_head("emi-schedule calc benchmark summary",
                                os.path.join(directory, "run-machine.txt"))

    files = sorted(glob.glob(os.path.join(directory, "run-[0-9]*.json")))
    pooled, round_medians, user, system = benchlib.pool_rounds(files, "median", "user", "system")
    order = [BASELINE, EMI, PEER, PY_START, PATH_PEER]
    names = [n for n in order if n in pooled] + sorted(n for n in pooled if n not in order)
    median_ms = {name: statistics.median(times) * 1000 for name, times in pooled.items()}
    if names:
        runs = len(pooled[names[0]]) // len(files)
        out += [
            f"Whole-process time: {len(files)} hyperfine round(s), {runs} runs each (no shell, "
            "`-N`; command order rotated per round). Times in ms.",
            "",
            "| command | median (all runs) | p10 | p90 | min | max | median of each round "
            "| user + sys (mean) | added over `true` | this ÷ emi-schedule |",
            "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
        ]
        for name in names:
            ms = [t * 1000 for t in pooled[name]]
            rounds = benchlib.milliseconds_list(round_medians[name])
            cpu = (statistics.mean(user[name]) + statistics.mean(system[name])) * 1000
            added = "–"
            if BASELINE in median_ms and name != BASELINE:
                added = f"{median_ms[name] - median_ms[BASELINE]:+.2f}"
            ratio = "–"
            if EMI in median_ms:
                ratio = f"{median_ms[name] / median_ms[EMI]:.2f}×"
            out.append(
                f"| `{name}` | {median_ms[name]:.2f} | {benchlib.percentile(ms, 0.1):.2f} | "
                f"{benchlib.percentile(ms, 0.9):.2f} | {min(ms):.2f} | {max(ms):.2f} | {rounds} | "
                f"{cpu:.2f} | {added} | {ratio} |")
        out += benchlib.rounds_note(os.path.join(directory, "run-rounds.tsv"))
        out.append("")

    inprocess = os.path.join(directory, "run-inprocess.txt")
    if os.path.exists(inprocess):
        out += benchlib.read_lines(inprocess) + [""]

    if EMI in median_ms:
        emi = median_ms[EMI]
        emi_ms = [t * 1000 for t in pooled[EMI]]
        p90 = benchlib.percentile(emi_ms, 0.9)
        worst_round = max(round_medians[EMI]) * 1000
        out += ["Comparison and target:", ""]
        if PEER in median_ms:
            out.append(f"- Python peer ÷ emi-schedule (medians): {median_ms[PEER] / emi:.1f}×")
            if BASELINE in median_ms and emi > median_ms[BASELINE]:
                base = median_ms[BASELINE]
                out.append("- on the added cost over `true` (median − `true`'s): "
                           f"{(median_ms[PEER] - base) / (emi - base):.1f}×")
            if PY_START in median_ms:
                out.append(f"- Python start-up alone (`{PY_START}`) ÷ emi-schedule: "
                           f"{median_ms[PY_START] / emi:.1f}×; the peer spends "
                           f"{median_ms[PEER] - median_ms[PY_START]:.2f} ms beyond start-up")
        if PATH_PEER in median_ms:
            out.append(f"- the same peer under the other `python3` (`{PATH_PEER}`) ÷ emi-schedule: "
                       f"{median_ms[PATH_PEER] / emi:.1f}×")
        verdict = "met" if emi < TARGET_MS else "MISSED"
        if emi < TARGET_MS:
            verdict += (f" (p90 {p90:.2f} ms, slowest round median {worst_round:.2f} ms, "
                        f"max {max(emi_ms):.2f} ms; {sum(t >= TARGET_MS for t in emi_ms)} of "
                        f"{len(emi_ms)} runs at or over {TARGET_MS:g} ms)")
        out.append(f"- emi-schedule calc, 360 months, whole process: median {emi:.2f} ms "
                   f"(target < {TARGET_MS:g} ms): {verdict}")
        rounds_path = os.path.join(directory, "run-rounds.tsv")
        if os.path.exists(rounds_path):
            busy = [int(r["busy_before_pct"]) for r in benchlib.read_tsv(rounds_path)]
            noisy = sum(b > 10 for b in busy)
            if noisy:
                out.append(f"- caution: in {noisy} of {len(busy)} round(s) the CPUs were over 10% "
                           "busy with other work just before; those timings include waiting for a CPU")
        out.append("")

    out += benchlib.checks_block(os.path.join(directory, "run-checks.txt"))
    print("\n".join(out))


if __name__ == "__main__":
    main()
