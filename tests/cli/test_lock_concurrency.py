"""lock under contention: mutual exclusion (no lost update), shared against exclusive, ordered
acquisition of random subsets without deadlock, on SQLite, PostgreSQL and kernel locks."""

import os
import random
import subprocess
import unittest

from sluice_cli import DEPTH, ToolTestCase, on_both_backends, rounds, tool_path

# Read, pause, write: without mutual exclusion two workers read the same value and one
# increment is lost.
INCREMENT = 'v=$(cat counter); sleep 0.001; echo $((v + 1)) > counter'


@on_both_backends
class LockConcurrency(ToolTestCase):
    tool = "lock"

    def workers(self, count, script):
        children = [subprocess.Popen(["sh", "-c", script.format(worker=worker)], cwd=self.dir,
                                     env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                    for worker in range(count)]
        self.children.extend(children)
        failures = []
        for child in children:
            out, err = child.communicate(timeout=600)
            if child.returncode != 0:
                failures.append((child.returncode, out, err))
        self.assertEqual(failures, [])

    def counted(self, mode_args, processes, increments):
        self.write("counter", "0\n")
        lock = tool_path("lock")
        script = (f"for i in $(seq {increments}); do "
                  f"{lock} {mode_args} -- sh -c '{INCREMENT}' || exit $?; done")
        self.workers(processes, script)
        self.assertEqual(int(self.read("counter")), processes * increments)

    def test_processes_incrementing_a_counter_under_lock_run_lose_no_update(self):
        # 8 x 18 at normal depth (each grant is synced: synchronous=FULL); the 32
        # processes and thousands of increments at long.
        processes = 32 if DEPTH == "long" else rounds(8, 32)
        increments = rounds(18, 100) if self.backend == "sqlite" else rounds(15, 100)
        self.counted("run counter --ttl 30s --wait 5m", processes, increments)
        # Every grant got its own token: the high-water mark counts them all.
        last = self.state_rows(self.state_location(),
                               "SELECT last_token FROM lock_names WHERE name = 'counter'")
        self.assertEqual(last, [(str(processes * increments),)])

    def test_kernel_locks_lose_no_update_either(self):
        if self.backend != "sqlite":
            self.skipTest("kernel locks keep no state")
        processes = 32 if DEPTH == "long" else rounds(8, 32)
        self.counted("--local run counter --wait 5m", processes, rounds(25, 100))

    def test_shared_holders_run_together_and_exclude_an_exclusive_one(self):
        lock = tool_path("lock")
        # Each shared holder waits until both are in: they can only finish if they overlap.
        script = (f"{lock} run r --shared --ttl 30s -- sh -c "
                  "'touch in{worker}; while [ ! -e in0 ] || [ ! -e in1 ]; do sleep 0.01; done; "
                  "while [ ! -e done ]; do sleep 0.01; done'")
        children = [subprocess.Popen(["sh", "-c", script.format(worker=worker)], cwd=self.dir,
                                     env=self.env, stdin=subprocess.DEVNULL)
                    for worker in range(2)]
        self.children.extend(children)
        self.wait_for_file("in0")
        self.wait_for_file("in1")
        excluded = self.run_tool("run", "r", "--nonblock", "--", "touch", "writer")
        self.assertStatus(excluded, 75)
        self.assertIn(b"shared", excluded.stderr)
        self.write("done", "")
        for child in children:
            self.assertEqual(child.wait(timeout=60), 0)
        self.assertStatus(self.run_tool("run", "r", "--nonblock", "--", "touch", "writer"), 0)
        self.assertTrue(os.path.exists(self.path("writer")))

    def test_random_subsets_of_five_locks_in_random_order_never_deadlock(self):
        # Each run takes a random subset of a..e, named in a random order, and checks inside
        # that it alone holds each of them (mkdir fails when another holder's directory is
        # there).
        lock = tool_path("lock")
        names = ["a", "b", "c", "d", "e"]
        runs = rounds(12, 200)
        for worker in range(6):
            generator = random.Random(worker)
            lines = []
            for _ in range(runs):
                subset = generator.sample(names, generator.randint(1, 5))
                check = "; ".join(f"mkdir held-{name} || touch violation" for name in subset)
                release = "; ".join(f"rmdir held-{name}" for name in subset)
                lines.append(f"{lock} run {' '.join(subset)} --ttl 30s --wait 2m -- "
                             f"sh -c '{check}; {release}' || exit $?")
            self.write(f"worker{worker}.sh", "\n".join(lines) + "\n")
        self.workers(6, "sh worker{worker}.sh")
        self.assertFalse(os.path.exists(self.path("violation")))

    def test_sigkill_at_random_instants_never_hands_out_a_token_twice(self):
        # Runs started one after another, every third SIGKILLed at a random instant (while it
        # acquires, while CMD runs, while it releases): each grant's token is logged by its
        # CMD; none may appear twice, and the lock is usable at the end.
        generator = random.Random(25)
        count = rounds(12, 200)
        for index in range(count):
            child = self.start_tool("run", "k", "--ttl", "500ms", "--wait", "1m", "--", "sh",
                                    "-c", "echo $LOCK_TOKEN >> tokens",
                                    stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if index % 3 == 2:
                try:
                    child.wait(timeout=generator.uniform(0, 0.06))
                except subprocess.TimeoutExpired:
                    child.kill()
            child.wait(timeout=120)
        tokens = self.read("tokens").split() if os.path.exists(self.path("tokens")) else []
        self.assertEqual(len(tokens), len(set(tokens)), tokens)
        self.assertGreaterEqual(len(tokens), count - count // 3)
        final = self.run_tool("run", "k", "--ttl", "5s", "--wait", "1m", "--", "sh", "-c",
                              "echo $LOCK_TOKEN")
        self.assertStatus(final, 0)
        self.assertGreater(int(final.out), max(map(int, tokens)))
        self.assertStateIntact(self.state_location())

    def state_location(self):
        return self.env.get("SLUICE_STATE_URL") or os.path.join(self.env["SLUICE_STATE_DIR"],
                                                                "lock.db")


if __name__ == "__main__":
    unittest.main()
