#!/usr/bin/python3
"""bench/ttl/bench.py [--rows N] [--rate R] [--ttl PATH] [--out DIR] [--repeats K]
                     [--measurements FILE]

Expiry of half of an N-row WAL table `events(id INTEGER PRIMARY KEY, payload TEXT, created_at
INTEGER)` (odd ids a day and more old, even ids recent, so that every key range mixes expired and
live rows), done three ways on fresh copies of the same file, each while a writer process
(bench/writer_latency.py) runs R small transactions a second (an UPDATE of a random row's
payload, or an INSERT of a live row, alternating) and logs each one's latency:

  ttl          ttl sweep --older-than 1d, with its defaults (batches of 1000, 30ms pauses);
  delete       one DELETE FROM events WHERE created_at < cutoff, in one transaction;
  pt-archiver  the pt-archiver loop in Python: SELECT the next 1000 expired ids by key after the
               last one, DELETE them by id, COMMIT, repeat (no sleep: pt-archiver's default).

Correctness first: after each method no expired row may remain and every live row (the N/2
and the writer's inserts) must be there, or the run stops with exit 1. The methods alternate
(ttl, delete, pt-archiver, ttl, ...), K times. Prints a Markdown table of wall times and the
writer's worst latency during each; with --measurements, rows in bench/lib.sh's
measurements.tsv form.
"""

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from writer_latency import Writer, worst  # noqa: E402

NOW = 1772366400  # 2026-03-01T12:00:00Z, the sweep's --now
CUTOFF = NOW - 86400
UPDATE = "UPDATE events SET payload = ? WHERE id = ?"
INSERT = f"INSERT INTO events (payload, created_at) VALUES (?, ? + {NOW})"  # live rows

ARCHIVER = r"""
import sqlite3, sys
path, cutoff = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(path, isolation_level=None, timeout=60)
last = 0
while True:
    ids = [row[0] for row in c.execute(
        "SELECT id FROM events WHERE id > ? AND created_at < ? ORDER BY id LIMIT 1000",
        (last, cutoff))]
    if not ids:
        break
    c.execute("BEGIN IMMEDIATE")
    c.execute(f"DELETE FROM events WHERE id IN ({','.join('?' * len(ids))})", ids)
    c.execute("COMMIT")
    last = ids[-1]
"""

DELETE = r"""
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
c.execute("BEGIN IMMEDIATE")
c.execute("DELETE FROM events WHERE created_at < ?", (int(sys.argv[2]),))
c.execute("COMMIT")
"""


def generate(path, rows):
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT, "
                       "created_at INTEGER)")
    connection.executemany(
        "INSERT INTO events VALUES (?, ?, ?)",
        ((i, f"payload of event {i}", CUTOFF - 1000 - i if i % 2 else NOW - i % 3600)
         for i in range(1, rows + 1)))
    connection.commit()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def commands(method, ttl, path):
    if method == "ttl":
        return [ttl, "sweep", "--db", path, "--table", "events", "--column", "created_at",
                "--older-than", "1d", "--now", "@" + str(NOW), "--progress", "never"]
    script = DELETE if method == "delete" else ARCHIVER
    return [sys.executable, "-c", script, path, str(CUTOFF)]


COMMAND_NAMES = {"ttl": "ttl sweep --older-than 1d (batch 1000, pause 30ms)",
                 "delete": "DELETE FROM events WHERE created_at < cutoff (one transaction)",
                 "pt-archiver": "pt-archiver-style loop in Python (1000 ids a batch, no sleep)"}


def check(path, rows, writes):
    connection = sqlite3.connect(path)
    expired, total = connection.execute(
        "SELECT count(*) FILTER (WHERE created_at < ?), count(*) FROM events", (CUTOFF,)).fetchone()
    connection.close()
    inserted = writes // 2  # the writer alternates UPDATE (even writes) and INSERT (odd)
    if expired != 0 or total != rows // 2 + inserted:
        raise SystemExit(f"{path}: wrong result: {expired} expired rows left, {total} rows "
                         f"(expected {rows // 2} live + {inserted} inserted)")


def record(path, benchmark, role, name, run, seconds, command):
    if path:
        with open(path, "a") as handle:
            handle.write("\t".join([benchmark, role, name, str(run), f"{seconds:.6f}", "", "0",
                                    "ok", command]) + "\n")


def expire(args, work, original, method, run):
    copy = os.path.join(work, f"{method}.db")
    shutil.copy(original, copy)
    os.sync()
    writer = Writer(copy, args.rate, args.rows, work, method, UPDATE, INSERT)
    began = time.monotonic()
    result = subprocess.run(commands(method, args.ttl, copy), capture_output=True, text=True)
    ended = time.monotonic()
    latencies = writer.finish()
    if result.returncode != 0:
        raise SystemExit(f"{method} failed ({result.returncode}): {result.stderr}")
    check(copy, args.rows, len(latencies))
    latency, count = worst(latencies, began, ended)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(copy + suffix):
            os.remove(copy + suffix)
    return ended - began, latency, count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--ttl", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                      "build", "bin", "ttl"))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", default=tempfile.gettempdir())
    parser.add_argument("--measurements")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="ttl-bench-", dir=args.out)
    original = os.path.join(work, "original.db")
    generate(original, args.rows)
    print(f"table: {args.rows} rows ({args.rows // 2} expired), "
          f"{os.path.getsize(original) / 2**20:.1f} MiB file; writer: {args.rate:.0f} tx/s")
    print()
    print("| method | run | wall s | rows/s | writer worst latency ms (transactions) |")
    print("|---|---|---|---|---|")
    results = {method: [] for method in COMMAND_NAMES}
    for run in range(1, args.repeats + 1):
        for method in COMMAND_NAMES:
            wall, latency, count = expire(args, work, original, method, run)
            results[method].append((wall, latency))
            print(f"| {method} | {run} | {wall:.2f} | {args.rows / 2 / wall:,.0f} | "
                  f"{latency:.1f} ({count}) |", flush=True)
            role = "tool" if method == "ttl" else "peer"
            record(args.measurements, f"expiry of {args.rows // 2} of {args.rows} rows under a "
                   f"writer at {args.rate:.0f} tx/s: wall time", role, method, run, wall,
                   COMMAND_NAMES[method])
            record(args.measurements, f"expiry of {args.rows // 2} of {args.rows} rows under a "
                   f"writer at {args.rate:.0f} tx/s: the writer's worst transaction latency",
                   role, method, run, latency / 1000, COMMAND_NAMES[method])
    print()
    for method, runs in results.items():
        print(f"{method}: median wall {statistics.median(w for w, _ in runs):.2f} s, "
              f"worst writer latency {max(l for _, l in runs):.1f} ms")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
