"""rollup's store under SIGKILL and concurrent writers: each file is one transaction, so a
store killed at any instant of an ingest, then ingested again, equals a clean ingest; and
ingests of different files running at once equal one ingest of them all."""

import os
import random
import signal
import sqlite3
import subprocess
import time
import unittest

from sluice_cli import ToolTestCase, on_both_backends, rounds
from test_rollup import lines, random_events

SETTINGS = ["--tier", "1m:3d", "--tier", "1h:30d", "--tier", "day:forever", "--by", "campaign",
            "--agg", "count,sum:cost,max:cost,stddev:cost,last:status,distinct:user,p99:latency",
            "--allowed-lateness", "1d", "--now", "2026-03-05T00:00:00Z"]


@on_both_backends
class RollupConcurrencyTest(ToolTestCase):
    tool = "rollup"

    def make_files(self, count, events_each):
        rng = random.Random(count)
        names = []
        for index in range(count):
            rows = random_events(rng, events_each, 1772409600 + index * 7000, 200000)
            names.append(self.write(f"f{index}.jsonl", lines(rows)))
        return names

    def dump(self, db):
        return [self.run_tool("query", "--db", self.state(db), "--tier", tier).out
                for tier in ("1m", "1h", "day")]

    def test_sigkill_during_ingest_then_rerun_equals_a_clean_ingest(self):
        files = self.make_files(6, 200)
        clean = self.run_tool("ingest", "--db", self.state("clean"), *SETTINGS, *files)
        self.assertStatus(clean, 0)
        expected = self.dump("clean")
        rng = random.Random(5)
        for round_number in range(rounds(2, 25)):
            db = f"k{round_number}"
            child = self.start_tool("ingest", "--db", self.state(db), *SETTINGS, *files,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.02, 0.2))
            child.send_signal(signal.SIGKILL)
            child.wait()
            if self.backend == "sqlite" and os.path.exists(self.state(db)):
                with sqlite3.connect(self.state(db)) as connection:
                    self.assertEqual(connection.execute("PRAGMA integrity_check").fetchone()[0],
                                     "ok")
            self.assertStatus(self.run_tool("ingest", "--db", self.state(db), *SETTINGS, *files),
                              0)
            self.assertEqual(self.dump(db), expected, round_number)

    def test_concurrent_ingests_equal_one_ingest(self):
        files = self.make_files(4, 150)
        self.assertStatus(self.run_tool("ingest", "--db", self.state("clean"), *SETTINGS, *files),
                          0)
        children = [self.start_tool("ingest", "--db", self.state("c"), "--busy-timeout", "60s",
                                    *SETTINGS,
                                    *files[i::2], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE) for i in range(2)]
        for child in children:
            _, err = child.communicate(timeout=120)
            self.assertEqual(child.returncode, 0, err)
        self.assertEqual(self.dump("c"), self.dump("clean"))


if __name__ == "__main__":
    unittest.main()
