"""audit under concurrency and SIGKILL: many appenders at once keep seq gap-free and the chain
unforked; a follower killed at random moments writes every entry exactly once."""

import json
import os
import random
import signal
import subprocess
import time

from sluice_cli import DEPTH, ToolTestCase, on_both_backends, rounds, tool_path


@on_both_backends
class AuditConcurrency(ToolTestCase):
    tool = "audit"

    def audit(self, db, *args, **kwargs):
        return self.run_tool("--db", db, *args, timeout=300, **kwargs)

    def start_appender(self, db, worker, count, batch):
        lines = "".join(json.dumps({"worker": worker, "i": i}) + "\n" for i in range(count))
        self.write(f"in{worker}.jsonl", lines)
        return subprocess.Popen([tool_path("audit"), "--db", db, "--busy-timeout", "120s",
                                 "append", "--actor", f"w{worker}", "--action", "put",
                                 "--batch", str(batch), f"in{worker}.jsonl"],
                                cwd=self.dir, env=self.env, stderr=subprocess.PIPE)

    def test_concurrent_appenders_interleave_without_gaps_or_forks(self):
        # 8 x 200 at normal depth (32 x 10,000 under SLUICE_TEST_DEPTH=long).
        processes = 32 if DEPTH == "long" else 8
        count = rounds(200, 10000)
        db = self.state("a.db")
        appenders = [self.start_appender(db, worker, count, batch=7 + worker)
                     for worker in range(processes)]
        for appender in appenders:
            _, err = appender.communicate(timeout=600)
            self.assertEqual(appender.returncode, 0, err)
        entries = [json.loads(line) for line in self.audit(db, "read").out.splitlines()]
        self.assertEqual([entry["seq"] for entry in entries], list(range(1, processes * count + 1)))
        seen = [(entry["payload"]["worker"], entry["payload"]["i"]) for entry in entries]
        self.assertEqual(sorted(seen), [(w, i) for w in range(processes) for i in range(count)])
        for worker in range(processes):
            mine = [i for w, i in seen if w == worker]
            self.assertEqual(mine, list(range(count)))
        verdict = self.audit(db, "verify")
        self.assertEqual(verdict.status, 0, verdict)
        self.assertEqual(json.loads(verdict.out)["size"], processes * count)
        self.assertStateIntact(db)

    def test_follower_killed_at_random_moments_writes_each_entry_once(self):
        db = self.state("f.db")
        total = rounds(600, 5000)
        appender = self.start_appender(db, 0, total, batch=1)
        rng = random.Random(2607)
        output = self.path("out.jsonl")
        kills = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with open(output, "ab") as sink:
                follower = subprocess.Popen([tool_path("audit"), "--db", db, "follow", "--cursor",
                                             "sink", "--poll", "5ms"], cwd=self.dir,
                                            env=self.env, stdout=sink,
                                            stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.0, 0.03))
            follower.send_signal(signal.SIGKILL)
            follower.wait()
            kills += 1
            if appender.poll() is not None and kills >= rounds(100, 1000):
                break
        _, err = appender.communicate(timeout=300)
        self.assertEqual(appender.returncode, 0, err)
        # Drain without a limit that could stop early: the cursor tells how far it got.
        while self.last_seq(output) < total:
            with open(output, "ab") as sink:
                subprocess.run([tool_path("audit"), "--db", db, "follow", "--cursor", "sink",
                                "--limit", str(total - self.last_seq(output))],
                               cwd=self.dir, env=self.env, stdout=sink, timeout=60, check=True)
        seqs = [json.loads(line)["seq"] for line in self.read("out.jsonl").splitlines()]
        self.assertEqual(seqs, list(range(1, total + 1)), f"after {kills} kills")

    def last_seq(self, output):
        if not os.path.exists(output) or os.path.getsize(output) == 0:
            return 0
        with open(output, "rb") as handle:
            return json.loads(handle.read().splitlines()[-1])["seq"]
