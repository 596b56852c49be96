#!/usr/bin/python3
"""bench/reindex/bench.py [--rows N] [--rate R] [--reindex PATH] [--out DIR] [--migrations M]
                         [--repeats K] [--methods LIST] [--measurements FILE]

One migration of a 1,000,000-row WAL table `users(id INTEGER PRIMARY KEY, email, name, score
TEXT, created)`: rename `name` to `full_name`, retype `score` TEXT -> INTEGER, index `email`.
It is done three ways on fresh copies of the same file, each while a writer process runs R
small write transactions a second (an UPDATE of a random row's score, or an INSERT, alternating)
with a 60 s busy timeout, recording each transaction's latency (BEGIN IMMEDIATE to COMMIT
returned, including any wait for the lock):

  reindex      reindex start / backfill / verify / switch (each timed; phases timestamped);
  transform    sqlite-utils transform (--rename, --type) then sqlite-utils create-index;
  12-step      the hand-run rebuild of SQLite's ALTER TABLE documentation in one transaction:
               CREATE TABLE new; INSERT INTO new SELECT ...; DROP TABLE old; ALTER TABLE new
               RENAME TO old; CREATE INDEX; COMMIT (python3's sqlite3).

Then, without the writer, `reindex backfill` alone (rows/s), with its default pauses for
waiting writers and with --lock-pause 0. Correctness first: after each
method the table must hold the rows the writer's model says (id, email, score as integers)
and reindex verify must exit 0.
Each method migrates M fresh copies, the methods alternating (reindex, transform, 12-step,
reindex, ...); --methods chooses among them (transform needs sqlite-utils).
Prints a Markdown table; writes the raw latencies to OUT/latencies-METHOD-N.txt, and, with
--measurements, one row per migration and per backfill in bench/lib.sh's measurements.tsv form.
"""

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from writer_latency import Writer as LatencyWriter, worst  # noqa: E402

# The writer's two transactions, alternating: an UPDATE of a random row's score (a random
# value, a random id in 1..rows) and an INSERT (an email, the write's number).
UPDATE = "UPDATE users SET score = ? WHERE id = ?"
INSERT = "INSERT INTO users (email, score) VALUES (?, ?)"


def Writer(path, rate, rows, work, name):
    return LatencyWriter(path, rate, rows, work, name, UPDATE, INSERT)

DDL_V2 = """CREATE TABLE {name} (id INTEGER PRIMARY KEY, email TEXT NOT NULL, full_name TEXT,
                     score INTEGER, created TEXT);
CREATE INDEX users_email_v2 ON {name} (email);
"""
SELECT = "id, email, name AS full_name, CAST(score AS INTEGER) AS score, created"


def generate(path, rows):
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, "
                       "name TEXT, score TEXT, created TEXT)")
    rng = random.Random(1)
    batch = []
    for i in range(1, rows + 1):
        batch.append((i, f"user{i}@example.com", f"User Number {i}", str(rng.randrange(10**6)),
                      f"2026-{1 + i % 12:02}-{1 + i % 28:02}T10:00:00Z"))
        if len(batch) == 100_000:
            connection.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?)", batch)
            batch = []
    connection.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?)", batch)
    connection.commit()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def timed(command, **kwargs):
    began = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    ended = time.monotonic()
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({result.returncode}): {result.stderr}")
    return began, ended, result


def check_rows(path, rows, score_column="score"):
    connection = sqlite3.connect(path)
    count, types = connection.execute(
        f"SELECT count(*), group_concat(DISTINCT typeof({score_column})) FROM users "
        f"WHERE id <= ?", (rows,)).fetchone()
    names = [row[1] for row in connection.execute("PRAGMA table_info(users)")]
    connection.close()
    if count != rows or "full_name" not in names or types not in ("integer", "integer,null"):
        raise SystemExit(f"{path}: wrong result: {count} rows, columns {names}, score {types}")


def run_reindex(reindex, path, rate, rows, work):
    with open(os.path.join(work, "v2.sql"), "w") as handle:
        handle.write(DDL_V2)
    writer = Writer(path, rate, rows, work, "reindex")
    common = ["--db", path, "--job", "users"]
    phases = {}
    phases["start"] = timed([reindex, "start", *common, "--table", "users", "--dest-ddl",
                             os.path.join(work, "v2.sql"), "--select", SELECT])
    phases["backfill"] = timed([reindex, "backfill", *common, "--progress", "never"])
    phases["verify"] = timed([reindex, "verify", *common])
    phases["switch"] = timed([reindex, "switch", *common, "--lock-timeout", "10s"])
    latencies = writer.finish()
    check_rows(path, rows)
    return phases, latencies


def run_transform(path, rate, rows, work):
    writer = Writer(path, rate, rows, work, "transform")
    phases = {"transform": timed(["sqlite-utils", "transform", path, "users", "--rename", "name",
                                  "full_name", "--type", "score", "integer"])}
    phases["create-index"] = timed(["sqlite-utils", "create-index", path, "users", "email"])
    latencies = writer.finish()
    check_rows(path, rows)
    return phases, latencies


TWELVE_STEP = r"""
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
c.execute("PRAGMA foreign_keys=OFF")
c.execute("BEGIN IMMEDIATE")
c.execute("CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL, full_name TEXT, score INTEGER, created TEXT)")
c.execute("INSERT INTO users_new SELECT id, email, name, CAST(score AS INTEGER), created FROM users")
c.execute("DROP TABLE users")
c.execute("ALTER TABLE users_new RENAME TO users")
c.execute("CREATE INDEX users_email ON users (email)")
c.execute("PRAGMA foreign_key_check")
c.execute("COMMIT")
"""


def run_twelve_step(path, rate, rows, work):
    writer = Writer(path, rate, rows, work, "12-step")
    phases = {"rebuild": timed([sys.executable, "-c", TWELVE_STEP, path])}
    latencies = writer.finish()
    check_rows(path, rows)
    return phases, latencies


def backfill_alone(reindex, path, work, repeats, extra):
    rates = []
    for _ in range(repeats):
        copy = os.path.join(work, "alone.db")
        shutil.copy(path, copy)
        os.sync()  # the copy's dirty pages are written back before the clock starts
        subprocess.run([reindex, "start", "--db", copy, "--table", "users", "--dest-ddl",
                        os.path.join(work, "v2.sql"), "--select", SELECT], check=True,
                       capture_output=True)
        began, ended, result = timed([reindex, "backfill", "--db", copy, "--report",
                                      "--progress", "never", *extra])
        last = json.loads(result.stdout.splitlines()[-1])
        rates.append(last["rows_scanned"] / (ended - began))
        subprocess.run([reindex, "verify", "--db", copy], check=True, capture_output=True)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(copy + suffix):
                os.remove(copy + suffix)
    return rates


PEER_NAMES = {"reindex": "reindex start/backfill/verify/switch",
              "transform": "sqlite-utils transform + create-index",
              "12-step": "12-step rebuild in one transaction"}


def record(path, benchmark, role, name, run, seconds, command):
    """Appends one row to bench/lib.sh's measurements.tsv (no RSS: the writer is measured)."""
    if path:
        with open(path, "a") as handle:
            handle.write("\t".join([benchmark, role, name, str(run), f"{seconds:.6f}", "", "0",
                                    "ok", command]) + "\n")


def migrate(args, work, original, name, run):
    """One migration of a fresh copy by method NAME; prints its table rows, returns
    (the writer's worst latency in ms over the whole migration, its wall time in s)."""
    copy = os.path.join(work, f"{name}.db")
    shutil.copy(original, copy)
    os.sync()
    if name == "reindex":
        phases, latencies = run_reindex(args.reindex, copy, args.rate, args.rows, work)
    else:
        method = run_transform if name == "transform" else run_twelve_step
        phases, latencies = method(copy, args.rate, args.rows, work)
    for step, (began, ended, _) in phases.items():
        latency, count = worst(latencies, began, ended)
        print(f"| {name} | {run} | {step} | {ended - began:.2f} | {latency:.1f} ({count}) |")
    first = min(began for began, _, _ in phases.values())
    last = max(ended for _, ended, _ in phases.values())
    latency, count = worst(latencies, first, last)
    all_latencies = sorted(l for _, l in latencies)
    p99 = all_latencies[int(len(all_latencies) * 0.99)] * 1000
    print(f"| {name} | {run} | **whole migration** | {last - first:.2f} | **{latency:.1f}** "
          f"({count}; p99 of the writer's whole run {p99:.2f}) |")
    shutil.copy(os.path.join(work, f"latencies-{name}.txt"),
                os.path.join(args.out, f"latencies-{name}-{run}.txt"))
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(copy + suffix):
            os.remove(copy + suffix)
    return latency, last - first


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--reindex", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "bin", "reindex"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=tempfile.gettempdir())
    parser.add_argument("--migrations", type=int, default=1)
    parser.add_argument("--methods", default="reindex,transform,12-step")
    parser.add_argument("--measurements")
    args = parser.parse_args()
    methods = args.methods.split(",")
    work = tempfile.mkdtemp(prefix="reindex-bench-", dir=args.out)
    original = os.path.join(work, "original.db")
    generate(original, args.rows)
    size = os.path.getsize(original)
    print(f"table: {args.rows} rows, {size / 2**20:.1f} MiB file; writer: {args.rate:.0f} tx/s")
    print()
    print("| method | migration | step | wall s | writer worst latency ms (transactions) |")
    print("|---|---|---|---|---|")
    latency_benchmark = (f"migration of {args.rows} rows under a writer at {args.rate:.0f} tx/s: "
                         "the writer's worst transaction latency")
    wall_benchmark = f"migration of {args.rows} rows under a writer at {args.rate:.0f} tx/s: wall time"
    for run in range(1, args.migrations + 1):
        for name in methods:
            latency_ms, wall = migrate(args, work, original, name, run)
            role = "tool" if name == "reindex" else "peer"
            record(args.measurements, latency_benchmark, role, name, run, latency_ms / 1000,
                   PEER_NAMES[name])
            record(args.measurements, wall_benchmark, role, name, run, wall, PEER_NAMES[name])
    print()
    for label, extra in (("default (--lock-pause 30ms)", []), ("--lock-pause 0", ["--lock-pause", "0"])):
        rates = backfill_alone(args.reindex, original, work, args.repeats, extra)
        for run, rate in enumerate(rates, 1):
            record(args.measurements, f"reindex backfill alone of {args.rows} rows (no writer)",
                   "tool", f"reindex backfill {label}", run, args.rows / rate,
                   f"reindex backfill --db FILE --report {' '.join(extra)}".strip())
        print(f"reindex backfill alone (no writer), {label}, {args.repeats} runs: "
              f"median {statistics.median(rates):,.0f} rows/s "
              f"(min {min(rates):,.0f}, max {max(rates):,.0f})")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
