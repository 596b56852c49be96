#!/usr/bin/env python3
"""The timed part of bench/jobq/run.sh: jobq next to a Python sqlite3 job queue in the
litequeue/goqite shape, in the same run. Usage: bench.py JOBQ OUT JOBS ROUNDS [--postgresql].

For each state (an SQLite file; a throw-away PostgreSQL server with --postgresql):
  enqueue   `jobq add` of JOBS payloads from stdin (one process, one transaction);
  work      `jobq work -j W -- true` over JOBS no-op jobs, W = 1 and 4: claim, run `true`, ack;
  claim+ack W loops (W = 1 and 4) of `jobq claim -n 500 | jobq ack` (batched claims, acked in
            one transaction per batch) until nothing is due.
The peer, in Python's sqlite3 on a file (litequeue's schema and statements: a messages table,
claim in BEGIN IMMEDIATE with UPDATE ... RETURNING, ack by UPDATE), gets the same jobs:
  enqueue   one INSERT per message in one transaction;
  loop      W processes, each claim then ack per message, in-process (no command run);
  loop+true the same, running `true` per message as jobq work does.
Every run is checked first: every job done exactly once (jobq stats; the peer's table).
Rows go to OUT/measurements.tsv (bench/lib.sh's columns); a summary to OUT/summary.md."""

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from multiprocessing import Process

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PEER_SCHEMA = """
CREATE TABLE IF NOT EXISTS Queue (
  data TEXT NOT NULL, message_id INTEGER PRIMARY KEY, status INTEGER NOT NULL DEFAULT 0,
  in_time INTEGER NOT NULL, lock_time INTEGER, done_time INTEGER);
CREATE INDEX IF NOT EXISTS TIdx ON Queue(message_id, status);
"""


def record(out, benchmark, role, name, run, seconds, command, verdict="ok"):
    with open(os.path.join(out, "measurements.tsv"), "a") as handle:
        handle.write("\t".join([benchmark, role, name, str(run), f"{seconds:.6f}", "", "0",
                                verdict, command]) + "\n")


def jobq_run(jobq, location, *args, stdin=None):
    started = time.perf_counter()
    result = subprocess.run([jobq, "--db", location, *args], input=stdin, capture_output=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"bench.py: jobq {' '.join(args)} exited {result.returncode}: "
                         f"{result.stderr.decode()}")
    return elapsed, result.stdout


def jobq_done(jobq, location):
    _, out = jobq_run(jobq, location, "stats")
    rows = [json.loads(line) for line in out.decode().splitlines()]
    return sum(row["done"] for row in rows), sum(row["waiting"] + row["running"] for row in rows)


def peer_worker(path, with_command):
    connection = sqlite3.connect(path, isolation_level=None, timeout=60)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    while True:
        connection.execute("BEGIN IMMEDIATE")
        row = connection.execute(
            "UPDATE Queue SET status = 1, lock_time = ? WHERE message_id = (SELECT message_id "
            "FROM Queue WHERE status = 0 ORDER BY message_id LIMIT 1) RETURNING message_id, data",
            (time.time_ns(),)).fetchone()
        connection.execute("COMMIT")
        if row is None:
            return
        if with_command:
            subprocess.run(["true"], input=row[1].encode())
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("UPDATE Queue SET status = 2, done_time = ? WHERE message_id = ?",
                           (time.time_ns(), row[0]))
        connection.execute("COMMIT")


def peer_round(directory, jobs, workers, with_command):
    path = os.path.join(directory, f"peer-{workers}-{int(with_command)}.db")
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.executescript(PEER_SCHEMA)
    started = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany("INSERT INTO Queue (data, in_time) VALUES (?, ?)",
                           ((json.dumps({"n": n}), time.time_ns()) for n in range(jobs)))
    connection.execute("COMMIT")
    enqueue = time.perf_counter() - started
    started = time.perf_counter()
    processes = [Process(target=peer_worker, args=(path, with_command)) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    work = time.perf_counter() - started
    done = connection.execute("SELECT count(*) FROM Queue WHERE status = 2").fetchone()[0]
    if done != jobs:
        raise SystemExit(f"bench.py: the peer finished {done} of {jobs} messages")
    os.remove(path)
    return enqueue, work


def jobq_round(jobq, location, jobs, workers):
    payloads = "".join(json.dumps({"n": n}) + "\n" for n in range(jobs)).encode()
    enqueue, _ = jobq_run(jobq, location, "add", "--queue", f"w{workers}", stdin=payloads)
    work, _ = jobq_run(jobq, location, "-q", "work", "--queues", f"w{workers}", "-j",
                       str(workers), "--", "true")
    return enqueue, work


BATCH_LOOP = ('while :; do out=$("$0" --db "$1" claim --queues "$2" -n 500); status=$?; '
              'if [ $status -eq 3 ]; then exit 0; fi; [ $status -eq 0 ] || exit 1; '
              'printf "%s\\n" "$out" | "$0" --db "$1" ack > /dev/null || exit 1; done')


def jobq_batches(jobq, location, jobs, workers):
    payloads = "".join(json.dumps({"n": n}) + "\n" for n in range(jobs)).encode()
    jobq_run(jobq, location, "add", "--queue", f"b{workers}", stdin=payloads)
    started = time.perf_counter()
    loops = [subprocess.Popen(["sh", "-c", BATCH_LOOP, jobq, location, f"b{workers}"])
             for _ in range(workers)]
    for loop in loops:
        if loop.wait() != 0:
            raise SystemExit("bench.py: a claim | ack loop failed")
    return time.perf_counter() - started


def main():
    jobq, out, jobs, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    postgresql = "--postgresql" in sys.argv[5:]
    lines = [f"jobs per run: {jobs}; rounds: {rounds}; rates are jobs per second (median round)"]
    rates = {}

    def note(name, seconds_list):
        seconds_list.sort()
        median = seconds_list[len(seconds_list) // 2]
        rates[name] = jobs / median
        cell = name.replace("|", "\\|")
        lines.append(f"| {cell} | {median:.3f} s | {jobs / median:,.0f} |")

    with tempfile.TemporaryDirectory(prefix="jobq-bench-") as directory:
        states = [("SQLite", lambda r: os.path.join(directory, f"jobq-{r}.db"))]
        server = None
        if postgresql:
            from pgserver import throwaway_server
            server = throwaway_server()
            url, _ = server.__enter__()
            states.append(("PostgreSQL", lambda r, url=url: url))
        try:
            lines += ["", "| what | time | jobs/s |", "|---|---|---|"]
            for label, location_of in states:
                for workers in (1, 4):
                    enqueue_times, work_times = [], []
                    for run in range(rounds):
                        location = location_of(f"{workers}-{run}")
                        if label == "PostgreSQL":
                            subprocess.run(["psql", location, "-qc",
                                            "DROP TABLE IF EXISTS jobq_jobs, jobq_events, "
                                            "jobq_turns, jobq_groups, sluice_meta CASCADE"],
                                           capture_output=True)
                        enqueue, work = jobq_round(jobq, location, jobs, workers)
                        done, left = jobq_done(jobq, location)
                        if done != jobs or left != 0:
                            raise SystemExit(f"bench.py: jobq on {label} finished {done} of {jobs}")
                        record(out, f"jobq enqueue ({label})", "tool", "jobq add", run, enqueue,
                               "jobq add < payloads")
                        record(out, f"jobq work -j {workers} -- true ({label})", "tool",
                               "jobq work", run, work, f"jobq work -j {workers} -- true")
                        enqueue_times.append(enqueue)
                        work_times.append(work)
                    if workers == 1:
                        note(f"jobq add, {jobs} jobs, one process ({label})", enqueue_times)
                    note(f"jobq work -j {workers} -- true ({label})", work_times)
                    batch_times = []
                    for run in range(rounds):
                        location = location_of(f"batch-{workers}-{run}")
                        seconds = jobq_batches(jobq, location, jobs, workers)
                        done, left = jobq_done(jobq, location)
                        if left != 0:
                            raise SystemExit(f"bench.py: {left} jobs left after claim | ack")
                        record(out, f"jobq claim -n 500 | jobq ack, {workers} loop(s) ({label})",
                               "tool", "jobq claim+ack", run, seconds, "jobq claim -n 500 | jobq ack")
                        batch_times.append(seconds)
                    note(f"jobq claim -n 500 | jobq ack, {workers} loop(s) ({label})", batch_times)
            for workers in (1, 4):
                for with_command in (False, True):
                    enqueue_times, work_times = [], []
                    for run in range(rounds):
                        enqueue, work = peer_round(directory, jobs, workers, with_command)
                        name = f"python sqlite3 loop, {workers} process(es)" + \
                            (", running true per job" if with_command else "")
                        record(out, f"peer {name}", "peer", "python sqlite3", run, work, name)
                        enqueue_times.append(enqueue)
                        work_times.append(work)
                    if workers == 1 and not with_command:
                        note("python sqlite3 enqueue (one transaction)", enqueue_times)
                    note(name + " (claim+ack)", work_times)
        finally:
            if server is not None:
                server.__exit__(None, None, None)
    with open(os.path.join(out, "summary.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
