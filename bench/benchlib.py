"""What the bench/<tool>/summarize.py scripts share: reading a run's files (hyperfine JSON
exports, run.sh's TSVs and checks file) and the Markdown pieces more than one summary prints.

A summary prints only figures found in those files, so each function here reads or formats;
none measures. Imported by path: a summarize.py puts bench/ first on sys.path.
"""

import csv
import json
import os
import statistics

NOT_MEASURED = "–"


def read_lines(path):
    """The lines of a text file without their newlines, to copy into a summary as they are."""
    with open(path) as handle:
        return [line.rstrip("\n") for line in handle]


def read_tsv(path):
    """The rows of a run.sh TSV (a header line, then tab-separated fields) as dicts."""
    with open(path) as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def group_by(rows, column):
    """{value of COLUMN: [rows]}, both in file order: the tables list commands in the order
    run.sh timed them."""
    groups = {}
    for row in rows:
        groups.setdefault(row[column], []).append(row)
    return groups


def summary_head(title, machine_path):
    """A summary's title and the run's machine file in a code block, so that every figure below
    comes with the machine, the binary and the load it was measured under."""
    return [f"# {title}", "", "```", *read_lines(machine_path), "```", ""]


def percentile(values, fraction):
    """The value at FRACTION of the way through the sorted values (nearest rank, no
    interpolation), so that a reported p90 is a time some run really took."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def pool_rounds(paths, *fields):
    """Pools hyperfine --export-json files, one per round, by command name: returns every run's
    time over all rounds (the medians and percentiles are over all of them), then for each of
    FIELDS (hyperfine's per-round figures: "median", "user", "system") its value in each round,
    to show how far the rounds disagree."""
    times = {}
    per_round = [{} for _ in fields]
    for path in paths:
        with open(path) as handle:
            for result in json.load(handle)["results"]:
                name = result["command"]
                times.setdefault(name, []).extend(result["times"])
                for values, field in zip(per_round, fields):
                    values.setdefault(name, []).append(result[field])
    return (times, *per_round)


def milliseconds_list(seconds):
    """Seconds as a comma-separated list of milliseconds: the median of each round, in order."""
    return ", ".join(f"{value * 1000:.2f}" for value in seconds)


def rounds_note(path):
    """The sentence on how busy the machine was around each timed round, from run.sh's rounds
    TSV: millisecond timings move with other work on a 2-core machine. Nothing without the file
    (a smoke run measures no busy share)."""
    if not os.path.exists(path):
        return []
    return ["", "Machine during each round (CPU busy share in the second before it; "
            "1-minute load average before and after): " + "; ".join(
                f"round {row['round']}: {row['busy_before_pct']}% busy, load "
                f"{row['loadavg_before']} → {row['loadavg_after']}" for row in read_tsv(path))]


def checks_block(path, failure_prefixes=("FAIL",)):
    """The "Correctness checks: N ok, M failed" line, then every line of the checks file that is
    not ok (failures, their details, skipped peers), so no speed is read without its checks.
    Nothing when the run wrote no checks file. A line counts as failed when it starts with one
    of FAILURE_PREFIXES; idemkey's summary passes "" and so counts every line that is not ok."""
    if not os.path.exists(path):
        return []
    lines = read_lines(path)
    others = [line for line in lines if not line.startswith("ok")]
    failed = [line for line in others if line.startswith(failure_prefixes)]
    return ([f"Correctness checks: {len(lines) - len(others)} ok, {len(failed)} failed"]
            + [f"- {line}" for line in others])


def cell(text):
    """Text for a Markdown table cell (GitHub tables split on an unescaped pipe)."""
    return text.replace("|", "\\|")


def cpu_seconds(row):
    """A timed run's CPU time, user + system (GNU time's %U and %S in run.sh's TSV)."""
    return float(row["user_s"]) + float(row["sys_s"])


def peak_rss_text(kib):
    """Peak RSS over runs, "median MiB (max)", or a dash when no run measured it (no GNU time)."""
    if not kib:
        return NOT_MEASURED
    return f"{statistics.median(kib) / 1024:.1f} MiB ({max(kib) / 1024:.1f})"


def counted(row):
    """Whether a timed run enters the figures: it exited 0 and its answer was right (the check
    texts run.sh writes for a right answer, or "-" for a floor, which gives none). A stopped or
    wrong run is shown as such instead."""
    return row["status"] == "0" and row["check"].startswith(("ok", "-", "reference", "same"))


def counted_medians(runs):
    """(median wall s, median CPU s, largest peak RSS KiB) of the counted runs, or None when
    none counts."""
    ok = [row for row in runs if counted(row)]
    if not ok:
        return None
    return (statistics.median(float(row["wall_s"]) for row in ok),
            statistics.median(cpu_seconds(row) for row in ok),
            max(int(row["maxrss_kib"]) for row in ok))


def not_counted_row(label, runs):
    """The throughput table's row for a command none of whose runs counts: what the first run's
    check says, and after how long."""
    first = runs[0]
    return (f"| {label} | {len(runs)} | {first['check']} after {float(first['wall_s']):.1f} s | "
            f"{' | '.join([NOT_MEASURED] * 7)} | {first['check']} |")


def throughput_row(label, runs, count, size, ratio_wall, ratio_cpu, answer):
    """The throughput table's row for a command's counted RUNS over COUNT items (events, points)
    in SIZE bytes: runs, median wall, min – max, items/s and MB/s at the median, median CPU, peak
    RSS, then the two ratios and the answer as the caller words them."""
    walls = [float(row["wall_s"]) for row in runs]
    wall = statistics.median(walls)
    cpu = statistics.median(cpu_seconds(row) for row in runs)
    rss = [int(row["maxrss_kib"]) for row in runs]
    return (f"| {label} | {len(runs)} | {wall:.3f} s | {min(walls):.3f} – {max(walls):.3f} s | "
            f"{count / wall:,.0f} | {size / wall / 1e6:,.0f} | {cpu:.2f} s | "
            f"{peak_rss_text(rss)} | {ratio_wall} | {ratio_cpu} | {answer} |")
