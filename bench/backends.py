#!/usr/bin/env python3
"""The state backends side by side, in one run (bench/RESULTS.md, "State on PostgreSQL"):

  - backoff --budget: one take per process (a failed first attempt, a paid retry), whole
    process, on an SQLite file, on PostgreSQL over a unix socket and through pgbouncer; beside
    it `backoff -- true`, which opens no state (what SQLite users and everyone else pay);
  - price publish: SKUS catalog lines x 10 markets into fresh state on each backend (rows
    copied with COPY on PostgreSQL);
  - idemkey claims: 1, 8 and 32 processes, each running `idemkey run --key K -- true` for
    its share of distinct keys; claims per second on each backend;
  - idemkey run replay: the whole process, for a key that completed, on each backend, beside
    `flock -n FILE true`;
  - idemkey filter: RECORDS JSON lines with 10% duplicates into fresh state on each backend,
    beside the naive way on the server: psql running one INSERT ... ON CONFLICT DO NOTHING per
    record.

Usage: bench/backends.py [--bin BUILD/bin] [--runs N] [--skus N] [--claims N] [--records N]
                         [--sections budget,claims,publish,replay,filter]
Starts its own throw-away server with scripts/pg and stops it at the end.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from pgserver import throwaway_server  # noqa: E402

MARKETS = "DE,FR,GB,JP,IN,US,CH,KW,BR,KR"
SETTINGS = [
    ["tax", "set", "--country", "DE", "--rate", "19%", "--inclusive"],
    ["tax", "set", "--country", "FR", "--rate", "20%", "--inclusive"],
    ["tax", "set", "--country", "US", "--rate", "8.875%", "--exclusive"],
    ["rule", "set", "--currency", "EUR", "--rule", "end-99"],
    ["rule", "set", "--currency", "JPY", "--rule", "ceil:10"],
    ["ppp", "set", "--country", "IN", "--plr", "0.24"],
]


def timed(command, runs, **kwargs):
    """Median and 95th percentile wall time of `command` in milliseconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def psql(url, sql):
    subprocess.run(["psql", url, "-qAtc", sql], check=True, capture_output=True)


class Backends:
    """Fresh state locations on each backend."""

    def __init__(self, work, url, bouncer):
        self.work, self.url, self.bouncer, self.count = work, url, bouncer, 0

    def fresh(self):
        self.count += 1
        name = f"bench_{self.count}"
        psql(self.url, f"CREATE SCHEMA {name}")
        psql(self.url, f"CREATE DATABASE {name}")
        targets = [("SQLite file", os.path.join(self.work, f"{name}.db")),
                   ("PostgreSQL, unix socket", f"{self.url}&options=-csearch_path%3D{name}")]
        if self.bouncer:
            targets.append(("PostgreSQL through pgbouncer",
                            self.bouncer.replace("/postgres?", f"/{name}?", 1)))
        return targets


def budget_rows(options, backends):
    backoff = os.path.join(options.bin, "backoff")
    rows = []
    median, p95 = timed([backoff, "--", "true"], options.runs)
    rows.append(("`backoff -- true` (no state)", median, p95))
    for label, location in backends.fresh():
        take = [backoff, "--budget", "api", "--db", location, "--base", "0", "--attempts", "2",
                "--quiet", "--", "false"]
        median, p95 = timed(take, options.runs)
        rows.append((f"`backoff --budget` one take, {label}", median, p95))
    print("\n### backoff --budget: one take per process (whole process)\n")
    print("| command | runs | median | p95 |\n|---|---|---|---|")
    for label, median, p95 in rows:
        print(f"| {label} | {options.runs} | {median:.2f} ms | {p95:.2f} ms |")


def publish_rows(options, backends):
    price = os.path.join(options.bin, "price")
    catalog = os.path.join(backends.work, "catalog.jsonl")
    rates = os.path.join(backends.work, "rates.jsonl")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "price", "gen_catalog.py"),
                    "--count", str(options.skus), "--catalog", catalog, "--rates", rates],
                   check=True, capture_output=True)
    print(f"\n### price publish: {options.skus} SKUs x 10 markets, fresh state\n")
    print("| backend | rows | wall | rows/s |\n|---|---|---|---|")
    for label, location in backends.fresh():
        subprocess.run([price, "rates", "load", "--db", location, rates], check=True,
                       capture_output=True)
        for setting in SETTINGS:
            subprocess.run([price, *setting, "--db", location], check=True, capture_output=True)
        started = time.perf_counter()
        with open(catalog, "rb") as source:
            subprocess.run([price, "publish", "--db", location, "--countries", MARKETS,
                            "--date", "2026-03-02"], stdin=source, check=True,
                           stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        rows = options.skus * 10
        print(f"| {label} | {rows} | {wall:.1f} s | {rows / wall:,.0f} |")


def claim_rows(options, backends):
    idemkey = os.path.join(options.bin, "idemkey")
    print(f"\n### idemkey claims: {options.claims} distinct keys, `idemkey run --key K -- true`\n")
    print("| backend | processes | wall | claims/s |\n|---|---|---|---|")
    for processes in (1, 8, 32):
        for label, location in backends.fresh():
            per = options.claims // processes
            script = (f'for i in $(seq 1 {per}); do "{idemkey}" --db "$1" run --key "w$2-$i" '
                      f'-- true || exit 1; done')
            started = time.perf_counter()
            children = [subprocess.Popen(["sh", "-c", script, "sh", location, str(worker)],
                                         cwd=backends.work)
                        for worker in range(processes)]
            if any(child.wait() != 0 for child in children):
                raise SystemExit(f"a claim failed ({label}, {processes} processes)")
            wall = time.perf_counter() - started
            print(f"| {label} | {processes} | {wall:.2f} s | {per * processes / wall:,.0f} |")


def replay_rows(options, backends):
    idemkey = os.path.join(options.bin, "idemkey")
    lock = os.path.join(backends.work, "flock.lock")
    rows = [("`flock -n FILE true`", *timed(["flock", "-n", lock, "true"], options.runs))]
    for label, location in backends.fresh():
        replay = [idemkey, "--db", location, "run", "--key", "k", "--", "true"]
        subprocess.run(replay, check=True, capture_output=True)
        rows.append((f"`idemkey run` replay, {label}", *timed(replay, options.runs)))
    print("\n### idemkey run: replay of a completed key (whole process)\n")
    print("| command | runs | median | p95 |\n|---|---|---|---|")
    for label, median, p95 in rows:
        print(f"| {label} | {options.runs} | {median:.2f} ms | {p95:.2f} ms |")


def filter_input(work, records):
    """RECORDS JSON lines, a tenth of them repeating an earlier key, in a fixed random order."""
    rng = random.Random(20261207)
    distinct = records - records // 10
    keys = [f"order-{index}" for index in range(distinct)]
    keys += [rng.choice(keys) for _ in range(records - distinct)]
    rng.shuffle(keys)
    path = os.path.join(work, "filter.jsonl")
    with open(path, "w") as out:
        for key in keys:  # a repeated key repeats its whole record
            out.write(json.dumps({"id": key, "amount": int(key[6:]) % 1000}) + "\n")
    return path, keys


def naive_filter(url, work, keys):
    """One statement per record through psql, on the server directly: the seconds it took."""
    name = f"naive_{len(keys)}"
    psql(url, f"CREATE SCHEMA {name}; CREATE TABLE {name}.seen (key text PRIMARY KEY)")
    script = os.path.join(work, "naive.sql")
    with open(script, "w") as out:
        out.write(f"SET search_path = {name};\n")
        for key in keys:
            out.write(f"INSERT INTO seen VALUES ('{key}') ON CONFLICT DO NOTHING;\n")
    started = time.perf_counter()
    subprocess.run(["psql", url, "-qX", "-v", "ON_ERROR_STOP=1", "-f", script], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def filter_rows(options, backends):
    idemkey = os.path.join(options.bin, "idemkey")
    path, keys = filter_input(backends.work, options.records)
    print(f"\n### idemkey filter: {options.records} records, 10% duplicates, fresh state\n")
    print("| backend | records | wall | records/s |\n|---|---|---|---|")
    for label, location in backends.fresh():
        started = time.perf_counter()
        with open(path, "rb") as source:
            subprocess.run([idemkey, "--db", location, "filter", "--key-field", "id"],
                           stdin=source, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        print(f"| `idemkey filter`, {label} | {options.records} | {wall:.1f} s | "
              f"{options.records / wall:,.0f} |")
    wall = naive_filter(backends.url, backends.work, keys)
    print(f"| naive: psql, one `INSERT ... ON CONFLICT DO NOTHING` per record, PostgreSQL, unix "
          f"socket | {options.records} | {wall:.1f} s | {options.records / wall:,.0f} |")


SECTIONS = {"budget": budget_rows, "claims": claim_rows, "publish": publish_rows,
            "replay": replay_rows, "filter": filter_rows}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--skus", type=int, default=1000000)
    parser.add_argument("--claims", type=int, default=1920)
    parser.add_argument("--records", type=int, default=1000000)
    parser.add_argument("--sections", default=",".join(SECTIONS))
    options = parser.parse_args()
    chosen = options.sections.split(",")
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {unknown[0]} (sections: {', '.join(SECTIONS)})")
    work = tempfile.mkdtemp(prefix="sluice-bench-backends-")
    try:
        with throwaway_server() as (url, bouncer):
            backends = Backends(work, url, bouncer)
            for name in chosen:
                SECTIONS[name](options, backends)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
