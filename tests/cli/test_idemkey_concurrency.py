"""idemkey under concurrency and SIGKILL: nothing lost, nothing done twice, state intact."""

import os
import random
import signal
import subprocess
import time
import unittest

from sluice_cli import ToolTestCase, also_through_pgbouncer, on_both_backends, rounds, tool_path


@on_both_backends
@also_through_pgbouncer
class IdemkeyConcurrency(ToolTestCase):
    tool = "idemkey"

    def test_2_8_and_32_processes_on_one_key_execute_once(self):
        for processes in (2, 8, 32):
            with self.subTest(processes=processes):
                db = self.state(f"s{processes}.db")
                out = f"out{processes}.txt"
                command = [tool_path("idemkey"), "--db", db, "run", "--key", "same", "--",
                           "sh", "-c", f"echo ran >> {out}"]
                children = [subprocess.Popen(command, cwd=self.dir, env=self.env,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                            for _ in range(processes)]
                statuses = []
                for child in children:
                    _, err = child.communicate(timeout=120)
                    statuses.append(child.returncode)
                    if child.returncode == 75:
                        self.assertIn(b"in progress", err)
                self.assertEqual(self.read(out), b"ran\n")
                self.assertTrue(set(statuses) <= {0, 75}, statuses)
                self.assertStateIntact(db)

    def test_concurrent_first_opens_of_new_state_files(self):
        # 8 processes create and migrate each new file at once; none may see it half-made.
        for index in range(rounds(15, 200)):
            db = self.state(f"new{index}.db")
            command = [tool_path("idemkey"), "--db", db, "run", "--key", "k", "--", "true"]
            children = [subprocess.Popen(command, cwd=self.dir, env=self.env, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE) for _ in range(8)]
            for child in children:
                _, err = child.communicate(timeout=120)
                self.assertIn(child.returncode, (0, 75), err)

    def test_1000_keys_across_8_processes_each_execute_exactly_once(self):
        # 8 idemkey processes per key: a fifth of the keys in the sanitizer pass (depth short).
        # On a server each process also loads libpq and connects (about 20 ms): a tenth of the
        # keys there, all of them in the long tier.
        db = self.state("s.db")
        count = rounds(1000, 1000) if self.backend == "sqlite" else rounds(100, 1000)
        keys = [f"key-{index}" for index in range(count)]
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
        self.assertStateIntact(db)

    def key_states(self, db):
        return dict(self.state_rows(db, "SELECT key, state FROM idemkey_keys"))

    def executions(self, key):
        if not os.path.exists(self.path("log.txt")):
            return 0
        return sum(1 for line in self.read("log.txt").decode().splitlines() if line.split()[0] == key)

    def run_key(self, db, key, minute, kill_after=None):
        command = [tool_path("idemkey"), "--db", db, "--now", f"2026-03-01T{10 + minute // 60:02}:{minute % 60:02}:00Z",
                   "run", "--key", key, "--", "sh", "-c", f'echo "{key} $IDEMKEY_ATTEMPT" >> log.txt']
        child = subprocess.Popen(command, cwd=self.dir, env=self.env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        if kill_after is not None:
            time.sleep(kill_after)
            child.send_signal(signal.SIGKILL)
        return child.wait()

    def test_sigkill_at_random_points_never_corrupts_or_duplicates(self):
        db = self.state("s.db")
        rng = random.Random(7)
        keys = ["k0", "k1", "k2"]
        round_count = rounds(15, 300)
        for round_number in range(round_count):
            key = rng.choice(keys)
            completed_before = self.key_states(db).get(key) == "completed"
            executed_before = self.executions(key)
            # Two minutes per round: a killed holder's 90 s lease has expired by the next round.
            self.run_key(db, key, 2 * round_number, kill_after=rng.uniform(0, 0.03))
            self.assertStateIntact(db)
            if completed_before:
                self.assertEqual(self.executions(key), executed_before, f"{key} ran after completing")
        for key in keys:
            executed_before = self.executions(key)
            completed_before = self.key_states(db).get(key) == "completed"
            self.assertEqual(self.run_key(db, key, 2 * round_count + 10), 0)
            self.assertEqual(self.key_states(db)[key], "completed")
            expected = executed_before if completed_before else executed_before + 1
            self.assertEqual(self.executions(key), expected)

if __name__ == "__main__":
    unittest.main()
