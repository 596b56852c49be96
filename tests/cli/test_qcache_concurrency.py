"""qcache under concurrency and SIGKILL: request coalescing (one computation for many misses),
takeover after a killed computer's lease, and exactly one stale-while-revalidate refresh."""

import os
import signal
import subprocess
import time
import unittest

from sluice_cli import DEPTH, on_both_backends, tool_path
from test_qcache import QcacheCase

T0 = "2026-03-01T12:00:00Z"


@on_both_backends
class QcacheConcurrency(QcacheCase):
    def start(self, *args):
        return subprocess.Popen([tool_path("qcache"), "--db", self.db, *args], cwd=self.dir,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def test_processes_missing_one_key_at_once_run_it_once(self):
        processes = 32 if DEPTH == "long" else 8
        # Slow enough that every process arrives while the first computes.
        script = "echo run >> runs.txt; sleep 0.5; printf 'the \\000 result'"
        children = [self.start("run", "--ttl", "1h", "--", "sh", "-c", script)
                    for _ in range(processes)]
        for child in children:
            out, err = child.communicate(timeout=120)
            self.assertEqual((child.returncode, out, err), (0, b"the \x00 result", b""))
        self.assertEqual(self.runs(), 1)
        counters = self.counters()
        self.assertEqual(counters["misses"], 1)
        self.assertEqual(counters["coalesced"] + counters["hits"], processes - 1)
        self.assertGreater(counters["coalesced"], 0)
        self.assertEqual(counters["computing"], 0)
        self.assertStateIntact(self.db)

    def test_a_waiter_takes_over_after_a_killed_computers_lease(self):
        # One argv (one key): the first run starts a long computation, a later one finishes.
        script = ("echo run >> runs.txt; if [ -e first ]; then printf second; "
                  "else touch first; echo $$ > sleeper.pid; exec sleep 60; fi")
        command = ["run", "--ttl", "1h", "--lease", "1s", "--", "sh", "-c", script]
        computer = self.start(*command)
        self.wait_for_file("sleeper.pid")
        # Read now: tearDown removes the directory before cleanups run.
        deadline = time.monotonic() + 30
        while not self.read("sleeper.pid").strip() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.addCleanup(self.kill_sleeper, int(self.read("sleeper.pid")))
        computer.kill()  # SIGKILL: its claim stays until the lease lapses
        computer.communicate(timeout=60)
        started = time.monotonic()
        waiter = self.start(*command)
        out, err = waiter.communicate(timeout=60)
        waited = time.monotonic() - started
        self.assertEqual((waiter.returncode, out, err), (0, b"second", b""))
        self.assertEqual(self.runs(), 2)
        self.assertLess(waited, 20)
        self.assertEqual(self.run_tool("--db", self.db, "run", "--ttl", "1h", "--lease", "1s",
                                       "--", "sh", "-c", script).stdout, b"second")
        self.assertEqual(self.runs(), 2)

    def test_a_waiter_runs_the_command_itself_after_lock_wait(self):
        # The first run computes until told to finish; the second gives up waiting after
        # --lock-wait and runs the same command itself.
        script = ("echo run >> runs.txt; touch started$(wc -l < runs.txt); "
                  "while [ ! -e finish ]; do sleep 0.05; done; printf done")
        computer = self.start("run", "--ttl", "1h", "--", "sh", "-c", script)
        self.wait_for_file("started1")
        impatient = self.start("run", "--ttl", "1h", "--lock-wait", "300ms", "--", "sh", "-c",
                               script)
        self.wait_for_file("started2")
        self.write("finish", "")
        for child in (computer, impatient):
            out, err = child.communicate(timeout=60)
            self.assertEqual((child.returncode, out, err), (0, b"done", b""))
        self.assertEqual(self.runs(), 2)
        self.assertEqual(self.counters()["misses"], 2)

    def test_waiters_of_a_result_not_cached_run_the_command_at_once(self):
        # The first computes for 0.5 s and fails (status 1 is not cached): the processes that
        # waited for it run the command themselves side by side, not one after the other.
        processes = 8 if DEPTH == "long" else 4
        script = "echo start >> log.txt; sleep 0.5; echo end >> log.txt; echo failed; exit 1"
        children = [self.start("run", "--ttl", "1h", "--", "sh", "-c", script)
                    for _ in range(processes)]
        for child in children:
            out, err = child.communicate(timeout=120)
            self.assertEqual((child.returncode, out, err), (1, b"failed\n", b""))
        log = self.read("log.txt").decode().split()
        self.assertEqual(log.count("start"), processes)
        # One after another, the log would alternate start, end, start, end, ...
        self.assertIn(["start", "start"], [log[i:i + 2] for i in range(len(log) - 1)])
        counters = self.counters()
        self.assertEqual((counters["misses"], counters["entries"], counters["computing"]),
                         (processes, 0, 0))

    @staticmethod
    def kill_sleeper(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass

    def test_stale_while_revalidate_serves_old_content_while_one_refresh_runs(self):
        processes = 32 if DEPTH == "long" else 8
        script = "echo run >> runs.txt; [ -e slow ] && sleep 2; cat version.txt"
        self.write("version.txt", "old\n")
        options = ["--now", T0, "run", "--ttl", "1m", "--stale-while-revalidate", "1h"]
        first = self.run_tool("--db", self.db, *options, "--", "sh", "-c", script)
        self.assertEqual(first.stdout, b"old\n")
        self.write("version.txt", "new\n")
        self.write("slow", "")
        stale = ["--now", "2026-03-01T12:05:00Z", *options[2:], "--", "sh", "-c", script]
        started = time.monotonic()
        children = [self.start(*stale) for _ in range(processes)]
        answered = []
        for child in children:
            answered.append(child.stdout.read())  # to the end of the output: the answer
        answered_after = time.monotonic() - started
        for child in children:
            child.communicate(timeout=60)
            self.assertEqual(child.returncode, 0)
        self.assertEqual(answered, [b"old\n"] * processes)
        # The refresher answered before its 2 s refresh ended (its outputs were let go).
        self.assertLess(answered_after, 2)
        self.assertEqual(self.runs(), 2)  # the first computation and one refresh
        counters = self.counters()
        self.assertEqual((counters["refreshes"], counters["stale_hits"]), (1, processes))
        later = self.run_tool("--db", self.db, *stale)
        self.assertEqual(later.stdout, b"new\n")
        self.assertEqual(self.runs(), 2)


if __name__ == "__main__":
    unittest.main()
