"""The writer-latency harness of the benchmarks that change an application's SQLite table
while it is written (bench/reindex, bench/ttl): a writer process doing small transactions at a
fixed rate, each one's latency (BEGIN IMMEDIATE to COMMIT returned, including any wait for the
lock) logged, and the worst latency within a window. Imported by path (bench/ on sys.path).

WRITER's transactions alternate: `update` bound to (a random value below 10**6, a random id in
1..rows), and `insert` bound to (the text "w<n>@example.com", n), n the write's number.
"""

import os
import subprocess
import sys
import time


WRITER = r"""
import os, random, sqlite3, sys, time
path, rate, log, stop, ready = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rows, update, insert = int(sys.argv[6]), sys.argv[7], sys.argv[8]
connection = sqlite3.connect(path, isolation_level=None, timeout=60)
connection.execute("PRAGMA synchronous=NORMAL")
rng = random.Random(2)
out = open(log, "w")
open(ready, "w").close()
interval = 1.0 / rate
next_at = time.monotonic()
n = 0
while not os.path.exists(stop):
    began = time.monotonic()
    connection.execute("BEGIN IMMEDIATE")
    if n % 2 == 0:
        connection.execute(update, (rng.randrange(10**6), rng.randrange(1, rows + 1)))
    else:
        connection.execute(insert, (f"w{n}@example.com", n))
    connection.execute("COMMIT")
    ended = time.monotonic()
    out.write(f"{began:.6f} {ended - began:.6f}\n")
    n += 1
    next_at += interval
    pause = next_at - time.monotonic()
    if pause > 0:
        time.sleep(pause)
    else:
        next_at = time.monotonic()  # fell behind (blocked): do not burst to catch up
out.close()
"""


class Writer:
    """The writer process: UPDATE and INSERT (SQL with two parameters each, see WRITER)
    alternating at RATE transactions a second on the SQLite file PATH, each one's latency
    logged; a second of baseline writes before the constructor returns, and after finish()."""

    def __init__(self, path, rate, rows, work, name, update, insert):
        self.log = os.path.join(work, f"latencies-{name}.txt")
        self.stop = os.path.join(work, "stop")
        ready = os.path.join(work, "ready")
        for file in (self.stop, ready):
            if os.path.exists(file):
                os.remove(file)
        self.process = subprocess.Popen([sys.executable, "-c", WRITER, path, str(rate), self.log,
                                         self.stop, ready, str(rows), update, insert])
        while not os.path.exists(ready):
            time.sleep(0.01)
        time.sleep(1.0)  # a second of baseline writes before the migration

    def finish(self):
        time.sleep(1.0)
        open(self.stop, "w").close()
        self.process.wait()
        with open(self.log) as handle:
            return [tuple(map(float, line.split())) for line in handle]


def worst(latencies, start, end):
    inside = [latency for began, latency in latencies if start <= began + latency and began <= end]
    return (max(inside) * 1000 if inside else 0.0), len(inside)
