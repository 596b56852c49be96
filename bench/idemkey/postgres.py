#!/usr/bin/env python3
"""idemkey on its two backends, in one run (bench/RESULTS.md, "idemkey on PostgreSQL"):

  - replay of a completed key, whole process: SQLite file, PostgreSQL on a unix socket, and
    the same server through pgbouncer in transaction pooling; beside it, what loading libpq
    alone costs (dlopen of libpq.so.5 in a C program);
  - filter throughput: records with 10% duplicates into fresh state on each backend.

Usage: bench/idemkey/postgres.py [--idemkey BUILD/bin/idemkey] [--runs N] [--records N]
Starts its own throw-away server with scripts/pg and stops it at the end.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from pgserver import throwaway_server  # noqa: E402

DLOPEN_C = r"""
#include <dlfcn.h>
#include <stdio.h>
int main(void) { return dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL) ? 0 : 1; }
"""


def timed(command, runs, **kwargs):
    """Median and 95th percentile wall time of `command` in milliseconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def psql(url, sql):
    subprocess.run(["psql", url, "-qAtc", sql], check=True, capture_output=True)


def schema_url(url, schema):
    psql(url, f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
    return f"{url}&options=-csearch_path%3D{schema}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--idemkey", default=os.path.join(ROOT, "build", "bin", "idemkey"))
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--records", type=int, default=100000)
    options = parser.parse_args()
    work = tempfile.mkdtemp(prefix="sluice-bench-pg-")
    with throwaway_server() as (url, bouncer):
        run(options, work, url, bouncer)


def run(options, work, url, bouncer):
    idemkey = options.idemkey
    replay = ["run", "--key", "replayed", "--", "true"]
    targets = [("SQLite file", os.path.join(work, "s.db")),
               ("PostgreSQL, unix socket", schema_url(url, "bench_direct"))]
    if bouncer:
        psql(url, "DROP DATABASE IF EXISTS bench_bouncer")
        psql(url, "CREATE DATABASE bench_bouncer")
        targets.append(("PostgreSQL through pgbouncer (transaction pooling)",
                        bouncer.replace("/postgres?", "/bench_bouncer?", 1)))
    print(f"| replay of a completed key ({options.runs} runs) | median ms | p95 ms |")
    print("|---|---|---|")
    for name, db in targets:
        subprocess.run([idemkey, "--db", db, *replay], check=True)
        median, p95 = timed([idemkey, "--db", db, *replay], options.runs)
        print(f"| {name} | {median:.2f} | {p95:.2f} |")
    source = os.path.join(work, "dlopen.c")
    with open(source, "w") as handle:
        handle.write(DLOPEN_C)
    subprocess.run(["cc", "-O2", "-o", os.path.join(work, "dlopen"), source], check=True)
    median, p95 = timed([os.path.join(work, "dlopen")], options.runs)
    print(f"| dlopen(\"libpq.so.5\") alone, whole process | {median:.2f} | {p95:.2f} |")
    median, p95 = timed(["true"], options.runs)
    print(f"| `true` | {median:.2f} | {p95:.2f} |")

    rng = random.Random(1)
    ids = [f"u{index}" for index in range(options.records)]
    lines = [json.dumps({"id": key, "v": 1}, separators=(",", ":")) for key in ids]
    lines += [json.dumps({"id": rng.choice(ids), "v": 1}, separators=(",", ":"))
              for _ in range(options.records // 9)]
    rng.shuffle(lines)
    events = os.path.join(work, "events.jsonl")
    with open(events, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print()
    print(f"| filter, {len(lines):,} records (10% duplicates), fresh state, 3 runs | best s | records/s |")
    print("|---|---|---|")
    for name, make in [("SQLite file", lambda index: os.path.join(work, f"f{index}.db")),
                       ("PostgreSQL, unix socket",
                        lambda index: schema_url(url, f"bench_filter_{index}"))]:
        best = None
        for index in range(3):
            db = make(index)
            started = time.perf_counter()
            subprocess.run([idemkey, "--db", db, "--quiet", "filter", "--key-field", "id", events],
                           check=True, stdout=subprocess.DEVNULL)
            elapsed = time.perf_counter() - started
            best = elapsed if best is None else min(best, elapsed)
        print(f"| {name} | {best:.2f} | {len(lines) / best:,.0f} |")


if __name__ == "__main__":
    sys.exit(main())
