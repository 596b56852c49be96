"""reindex under crashes and concurrent writes: SIGKILL at random instants of `run` (and at
each phase boundary) while another process writes to the table; `run` again ends with the
table under the alias equal to what the writer's model says, and the file intact."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import unittest

from sluice_cli import ToolTestCase, rounds

NEW_TABLE = ("CREATE TABLE {name} (val INTEGER, k TEXT NOT NULL, id INTEGER PRIMARY KEY);\n"
             "CREATE INDEX t_k_v2 ON {name} (k)")


class Writer(threading.Thread):
    """The application: random writes through its own connection, mirrored in a model."""

    def __init__(self, path, seed):
        super().__init__(daemon=True)
        self.path = path
        self.rng = random.Random(seed)
        self.model = {}
        self.stop = threading.Event()
        self.writes = 0
        self.error = None

    def load(self, rows):
        connection = sqlite3.connect(self.path)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, val INTEGER)")
        data = [(i, f"k{i % 97}", i % 1000) for i in range(1, rows + 1)]
        connection.executemany("INSERT INTO t VALUES (?, ?, ?)", data)
        connection.commit()
        connection.close()
        self.model = {i: (k, v) for i, k, v in data}

    def one_write(self, connection):
        rng = self.rng
        key = rng.randrange(1, 30000)
        row = (f"k{rng.randrange(500)}", rng.randrange(1000))
        choice = rng.randrange(5)
        if choice == 0:
            connection.execute("INSERT OR REPLACE INTO t (id, k, val) VALUES (?, ?, ?)", (key, *row))
            self.model[key] = row
        elif choice == 1:
            connection.execute("UPDATE t SET k = ?, val = ? WHERE id = ?", (*row, key))
            if key in self.model:
                self.model[key] = row
        elif choice == 2:
            connection.execute("DELETE FROM t WHERE id = ?", (key,))
            self.model.pop(key, None)
        elif choice == 3 and key not in self.model and self.model:
            old = rng.choice(list(self.model)) if len(self.model) < 50 else rng.randrange(1, 30000)
            if old in self.model:
                connection.execute("UPDATE t SET id = ? WHERE id = ?", (key, old))
                self.model[key] = self.model.pop(old)
        else:
            connection.execute("INSERT INTO t (id, k, val) VALUES (?, ?, ?) ON CONFLICT DO UPDATE "
                               "SET val = val + excluded.val", (key, *row))
            if key in self.model:
                self.model[key] = (self.model[key][0], self.model[key][1] + row[1])
            else:
                self.model[key] = row

    def run(self):
        connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            while not self.stop.is_set():
                self.one_write(connection)
                self.writes += 1
                time.sleep(0.001)
        except Exception as error:  # reported by the test
            self.error = error
        finally:
            connection.close()


class Crashes(ToolTestCase):
    tool = "reindex"

    def setUp(self):
        super().setUp()
        self.db = self.path("app.db")
        self.write("v2.sql", NEW_TABLE)

    def run_args(self, *extra):
        return ["run", "--db", self.db, "--table", "t", "--dest-ddl", self.path("v2.sql"),
                "--batch", "150", "--lock-timeout", "10s", "--busy-timeout", "10s", *extra]

    def table_rows(self, table="t"):
        connection = sqlite3.connect(self.db)
        try:
            return {i: (k, v) for i, k, v in connection.execute(f"SELECT id, k, val FROM {table}")}
        finally:
            connection.close()

    def integrity(self):
        connection = sqlite3.connect(self.db)
        try:
            return connection.execute("PRAGMA integrity_check").fetchall()
        finally:
            connection.close()

    def phase(self):
        result = self.run_tool("status", "--db", self.db, "--job", "t")
        return json.loads(result.out)["phase"] if result.status == 0 else None

    def test_sigkill_at_random_instants_while_the_application_writes(self):
        # Each job is killed until a run gets it to the switch (about 8 kills); --long runs
        # many jobs, each from its own seed, for hundreds of kills in all.
        total = 0
        for job in range(rounds(2, 40)):
            with self.subTest(job=job):
                total += self.kill_one_job_repeatedly(20261129 + job)
        print(f"\n  reindex run: {rounds(2, 40)} jobs, {total} SIGKILLs landed mid-run",
              file=sys.stderr)

    def kill_one_job_repeatedly(self, seed):
        for name in ("app.db", "app.db-wal", "app.db-shm"):
            if os.path.exists(self.path(name)):
                os.remove(self.path(name))
        rng = random.Random(seed)
        writer = Writer(self.db, seed=seed)
        writer.load(20000)
        writer.start()
        kills = 0
        for attempt in range(400):
            # Throttled so that a kill lands before, during or after the copy.
            child = self.start_tool(*self.run_args("--max-rows-per-sec", "20000"),
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.0, 0.25))  # the kill instant, not a wait for an event
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                kills += 1
            child.wait()
            child.stderr.close()
            if self.phase() == "switched":
                break
        final = self.run_tool(*self.run_args(), timeout=300)
        self.assertStatus(final, 0)
        writer.stop.set()
        writer.join()
        self.assertIsNone(writer.error)
        self.assertGreater(kills, 3, f"seed {seed}")
        self.assertGreater(writer.writes, 100)
        self.assertEqual(self.phase(), "switched")
        self.assertEqual(self.table_rows("t"), writer.model, f"seed {seed}")
        self.assertEqual(self.integrity(), [("ok",)])
        connection = sqlite3.connect(self.db)
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_schema")}
        connection.close()
        self.assertIn("t__v1", names)
        self.assertNotIn("t__v2", names)
        return kills

    def test_kill_at_each_phase_boundary_then_run(self):
        """The state a kill between two commands leaves is the recorded phase: from each one,
        run finishes the job with nothing lost."""
        for boundary in ("started", "mid-backfill", "backfilled", "switched"):
            with self.subTest(boundary=boundary):
                for name in ("app.db", "app.db-wal", "app.db-shm"):
                    if os.path.exists(self.path(name)):
                        os.remove(self.path(name))
                writer = Writer(self.db, seed=len(boundary))
                writer.load(3000)
                start = self.run_tool("start", "--db", self.db, "--table", "t", "--dest-ddl",
                                      self.path("v2.sql"))
                self.assertStatus(start, 0)
                connection = sqlite3.connect(self.db, isolation_level=None)
                if boundary == "mid-backfill":
                    killed = self.start_tool("backfill", "--db", self.db, "--batch", "10",
                                             "--max-rows-per-sec", "2000")
                    time.sleep(0.3)
                    killed.send_signal(signal.SIGKILL)
                    killed.wait()
                    self.assertEqual(self.phase(), "backfilling")
                if boundary in ("backfilled", "switched"):
                    self.assertStatus(self.run_tool("backfill", "--db", self.db), 0)
                if boundary == "switched":
                    self.assertStatus(self.run_tool("switch", "--db", self.db), 0)
                for _ in range(300):
                    writer.one_write(connection)
                connection.close()
                self.assertStatus(self.run_tool(*self.run_args()), 0)
                self.assertEqual(self.phase(), "switched")
                self.assertEqual(self.table_rows("t"), writer.model)
                self.assertEqual(self.integrity(), [("ok",)])


if __name__ == "__main__":
    unittest.main()
