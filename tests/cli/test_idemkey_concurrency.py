"""idemkey under concurrency and SIGKILL: nothing lost, nothing done twice, state intact."""

import os
import random
import signal
import sqlite3
import subprocess
import time
import unittest

from sluice_cli import ToolTestCase, tool_path


class IdemkeyConcurrency(ToolTestCase):
    tool = "idemkey"

    def integrity(self, db):
        with sqlite3.connect(db) as connection:
            return connection.execute("PRAGMA integrity_check").fetchone()[0]

    def test_32_processes_on_one_key_execute_once(self):
        db = self.path("s.db")
        command = [tool_path("idemkey"), "--db", db, "run", "--key", "same", "--",
                   "sh", "-c", "echo ran >> out.txt"]
        children = [subprocess.Popen(command, cwd=self.dir, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE) for _ in range(32)]
        statuses = []
        for child in children:
            out, err = child.communicate(timeout=120)
            statuses.append(child.returncode)
            if child.returncode == 75:
                self.assertIn(b"in progress", err)
        self.assertEqual(self.read("out.txt"), b"ran\n")
        self.assertTrue(set(statuses) <= {0, 75}, statuses)
        self.assertEqual(self.integrity(db), "ok")

    def test_1000_keys_across_8_processes_each_execute_exactly_once(self):
        db = self.path("s.db")
        keys = [f"key-{index}" for index in range(1000)]
        scripts = []
        for worker in range(8):
            order = keys[:]
            random.Random(worker).shuffle(order)
            self.write(f"keys{worker}.txt", "\n".join(order) + "\n")
            scripts.append(
                f'while read k; do "{tool_path("idemkey")}" --db "{db}" run --key "$k" -- '
                f'sh -c \'echo "$IDEMKEY_KEY" >> out.txt\'; '
                f'status=$?; [ $status = 0 ] || [ $status = 75 ] || echo "$k $status" >> bad.txt; '
                f'done < keys{worker}.txt')
        children = [subprocess.Popen(["sh", "-c", script], cwd=self.dir, env=self.env,
                                     stderr=subprocess.DEVNULL) for script in scripts]
        for child in children:
            child.wait(timeout=600)
        self.assertFalse(os.path.exists(self.path("bad.txt")), self.read("bad.txt") if os.path.exists(self.path("bad.txt")) else "")
        lines = self.read("out.txt").decode().splitlines()
        self.assertEqual(sorted(lines), sorted(keys))  # every key once, none twice
        self.assertEqual(self.integrity(db), "ok")

    def test_sigkill_at_random_points_never_corrupts_or_duplicates(self):
        db = self.path("s.db")
        rng = random.Random(7)
        for round_number in range(12):
            key = f"k{round_number % 3}"
            child = subprocess.Popen(
                [tool_path("idemkey"), "--db", db, "run", "--key", key, "--lease", "1h", "--",
                 "sh", "-c", f'echo "{key} $IDEMKEY_ATTEMPT" >> log.txt'],
                cwd=self.dir, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0, 0.01))
            child.send_signal(signal.SIGKILL)
            child.wait()
            self.assertEqual(self.integrity(db), "ok")
        # Whatever the kills left, each key is either completed, in progress (stealable), or absent.
        with sqlite3.connect(db) as connection:
            rows = connection.execute("SELECT key, state, attempt FROM idemkey_keys").fetchall()
        for key, state, attempt in rows:
            self.assertIn(state, ("completed", "in_progress"))
            self.assertGreaterEqual(attempt, 1)


if __name__ == "__main__":
    unittest.main()
