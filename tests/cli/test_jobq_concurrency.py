"""jobq under concurrency and SIGKILL: N `jobq work` processes over M jobs. Every job runs to
done exactly once when nothing fails; with workers SIGKILLed at random every job still
reaches done, and no job's command ever runs twice at the same time."""

import glob
import hashlib
import json
import os
import random
import signal
import subprocess
import time
import unittest

from sluice_cli import DEPTH, ToolTestCase, on_both_backends, rounds, tool_path

# The job's command: a directory per job marks it running; finding it there already means two
# runs overlap. Each run appends the job's id to runs.txt (O_APPEND: whole lines). With
# LONG_EVERY=40, one job in 40 runs for 2 s, past the 1 s lease, so that a worker killed while running it leaves its
# command running after the lease expired: a second run would overlap it. HOST is the
# worker's host (its own SLUICE_STATE_DIR): jobq promises no overlap on one host.
COMMAND = ('mark="running/$HOST.$JOBQ_ID"; '
           'if ! mkdir "$mark" 2>/dev/null; then echo "$JOBQ_ID" >> overlaps.txt; fi; '
           'echo $PPID > "$mark/worker"; '
           'if [ "$LONG_EVERY" != 0 ] && [ $((JOBQ_ID % LONG_EVERY)) = 0 ]; then sleep 2; '
           'else sleep 0.0$((JOBQ_ID % 5)); fi; '
           'echo "$JOBQ_ID" >> runs.txt; rm -r "$mark"')


@on_both_backends
class JobqConcurrency(ToolTestCase):
    tool = "jobq"

    def add_jobs(self, count):
        payloads = "".join(json.dumps({"n": n}) + "\n" for n in range(count))
        result = self.run_tool("add", "--backoff-base", "0s", "--max-attempts", "1000",
                               stdin=payloads, timeout=120)
        self.assertStatus(result, 0)
        os.mkdir(self.path("running"))

    def worker(self, name, stderr=subprocess.DEVNULL, host="a", long_every=0):
        # On PostgreSQL the workers are on two hosts, each with its own state directory (where
        # the per-host job locks live); SQLite state is on one host.
        env = dict(self.env, HOST=host, LONG_EVERY=str(long_every))
        if self.backend != "sqlite":
            env["SLUICE_STATE_DIR"] = self.path(f"host-{host}")
        return subprocess.Popen([tool_path("jobq"), "-q", "work", "--lease", "1s", "--worker",
                                 name, "--", "sh", "-c", COMMAND],
                                cwd=self.dir, env=env, stdout=subprocess.DEVNULL,
                                stderr=stderr)

    def host_of(self, index):
        return "a" if self.backend == "sqlite" or index % 2 == 0 else "b"

    def states(self):
        counts = {}
        for line in self.run_tool("stats").out.splitlines():
            for state, count in json.loads(line).items():
                if state in ("waiting", "running", "done", "dead", "cancelled"):
                    counts[state] = counts.get(state, 0) + count
        return counts

    def runs(self):
        if not os.path.exists(self.path("runs.txt")):
            return []
        return [int(line) for line in self.read("runs.txt").split()]

    def kill_a_long_runner(self, workers):
        """SIGKILLs the worker of a running 2 s job; 1 when one was found."""
        for mark in glob.glob(self.path("running/*.*")):
            if int(mark.rsplit(".", 1)[1]) % 40 != 0:
                continue
            try:
                with open(os.path.join(mark, "worker")) as handle:
                    pid = int(handle.read())
            except (OSError, ValueError):
                continue
            for worker in workers:
                if worker.pid == pid and worker.poll() is None:
                    worker.send_signal(signal.SIGKILL)
                    worker.wait()
                    return 1
        return 0

    def test_workers_run_every_job_exactly_once(self):
        processes, jobs = rounds(8, 32), rounds(400, 10000)
        self.add_jobs(jobs)
        workers = [self.worker(f"w{index}", subprocess.PIPE, self.host_of(index))
                   for index in range(processes)]
        for worker in workers:
            _, err = worker.communicate(timeout=600)
            self.assertEqual(worker.returncode, 0, err)
        self.assertEqual(sorted(self.runs()), list(range(1, jobs + 1)))
        self.assertFalse(os.path.exists(self.path("overlaps.txt")))
        self.assertEqual(self.states(), {"waiting": 0, "running": 0, "done": jobs, "dead": 0,
                                         "cancelled": 0})

    def test_workers_killed_at_random_still_finish_every_job_never_twice_at_once(self):
        processes, jobs = rounds(8, 32), rounds(200, 10000)
        self.add_jobs(jobs)
        chooser = random.Random(24)
        deadline = time.monotonic() + 300
        workers = [self.worker(f"w{index}", host=self.host_of(index), long_every=40)
                   for index in range(processes)]
        kills = 0
        generation = 0
        long_kills = 0
        while time.monotonic() < deadline:
            time.sleep(chooser.uniform(0.05, 0.3))
            if long_kills == 0:
                long_kills += self.kill_a_long_runner(workers)
            victim = chooser.randrange(len(workers))
            if workers[victim].poll() is None and kills < rounds(12, 200):
                workers[victim].send_signal(signal.SIGKILL)
                workers[victim].wait()
                kills += 1
            for index, worker in enumerate(workers):
                if worker.poll() is not None:
                    # Drained or killed: start another while jobs remain (leases of killed
                    # workers expire after 1s, and their commands must end first).
                    generation += 1
                    workers[index] = self.worker(f"w{index}.{generation}",
                                                 host=self.host_of(index), long_every=40)
            if self.states().get("done") == jobs:
                break
        for worker in workers:
            worker.kill()
            worker.wait()
        self.assertGreater(kills, 0)
        self.assertEqual(long_kills, 1)  # a command outlived its killed worker's lease
        self.assertEqual(self.states().get("done"), jobs)
        self.assertEqual(set(self.runs()), set(range(1, jobs + 1)))
        self.assertFalse(os.path.exists(self.path("overlaps.txt")),
                         self.read("overlaps.txt") if os.path.exists(self.path("overlaps.txt")) else b"")

    def test_split_and_work_over_a_large_file_cover_every_line_once(self):
        # 1 GB at SLUICE_TEST_DEPTH=long (the size); a few MB otherwise.
        size = 1 << 30 if DEPTH == "long" else 4 << 20
        path = self.path("big.txt")
        with open(path, "wb") as handle:
            line, written = 0, 0
            while written < size:
                block = b"".join(b"line %d %s\n" % (n, b"x" * (n % 50))
                                 for n in range(line, line + 10000))
                handle.write(block)
                written += len(block)
                line += 10000
        chunk = "16MiB" if DEPTH == "long" else "256KiB"
        added = self.run_tool("split", "big.txt", "--chunk", chunk, "--batch", "big", timeout=600)
        self.assertStatus(added, 0)
        worker = self.run_tool("-q", "work", "-j", "4", "--", "sh", "-c",
                               f"{tool_path('jobq')} chunk | sha256sum", timeout=1800)
        self.assertStatus(worker, 0)
        results = [json.loads(line) for line in
                   self.run_tool("results", "--batch", "big", timeout=600).out.splitlines()]
        jobs = [json.loads(line) for line in self.run_tool("list", "--limit", "1000000").out.splitlines()]
        ranges = sorted((job["payload"]["offset"], job["payload"]["length"]) for job in jobs)
        offset = 0
        with open(path, "rb") as handle:
            for (start, length), result in zip(ranges, results):
                self.assertEqual(start, offset)
                handle.seek(start)
                data = handle.read(length)
                self.assertTrue(data.endswith(b"\n"))
                self.assertEqual(result["result"].split()[0], hashlib.sha256(data).hexdigest())
                offset += length
        self.assertEqual(offset, os.path.getsize(path))
        self.assertEqual(len(results), len(ranges))

if __name__ == "__main__":
    unittest.main()
