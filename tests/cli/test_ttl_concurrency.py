"""ttl sweep killed with SIGKILL at random instants, in an SQLite file and (OnPostgres) on the
test server: each run has deleted whole batches, and the next run with the same --now ends
with exactly the rows a single run leaves (every expired row gone, no live row touched)."""

import random
import subprocess
import time
import unittest

from sluice_cli import ToolTestCase, is_server_url, on_both_backends, rounds
from test_ttl import NOW, make_events, run_sql


@on_both_backends
class TtlSweepKilled(ToolTestCase):
    tool = "ttl"

    def ids(self, location):
        return [int(row[0]) for row in self.state_rows(location, "SELECT id FROM events ORDER BY id")]

    def sweep(self, location):
        return ["sweep", "--db", location, "--table", "events", "--column", "created_at",
                "--older-than", "1d", "--now", NOW, "--batch", "10", "--pause", "20ms"]

    def test_a_rerun_after_sigkill_ends_with_the_same_table(self):
        rng = random.Random(11)
        killed = 0
        for round_number in range(rounds(2, 20)):
            location = self.state(f"app{round_number}.db")
            if not is_server_url(location):
                run_sql(location, "PRAGMA journal_mode=WAL")
            live = make_events(location, 1000, seed=round_number)
            expired = 1000 - len(live)
            child = self.start_tool(*self.sweep(location), stdout=subprocess.DEVNULL)
            # Kill once the sweep is under way (some rows gone), at a random point after.
            deadline = time.monotonic() + 30
            while len(self.ids(location)) == 1000 and child.poll() is None:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.2))
            killed += child.poll() is None
            child.kill()
            child.wait()
            left = self.ids(location)
            self.assertTrue(set(live) <= set(left), f"round {round_number}: a live row went")
            gone = 1000 - len(left)
            self.assertGreater(gone, 0)
            # Whole batches: on a sweep of expired rows only, a multiple of --batch (or all).
            self.assertTrue(gone % 10 == 0 or gone == expired, f"{gone} rows gone")
            self.assertStateIntact(location)
            result = self.run_tool(*self.sweep(location))
            self.assertStatus(result, 0)
            self.assertEqual(self.ids(location), live, f"round {round_number}")
        self.assertGreater(killed, 0, "no sweep was killed before it finished")


if __name__ == "__main__":
    unittest.main()
