"""checkpoint run/show/list/reset: the next-line convention (STORM-2607's off-by-one), every
line processed at least once across failures and SIGKILL, already-complete runs, changed
inputs refused, and the documented statuses."""

import json
import os
import random
import signal
import subprocess
import time

from sluice_cli import ToolTestCase, on_both_backends, rounds, tool_path

T0 = "2026-03-01T12:00:00Z"


@on_both_backends
class Checkpoint(ToolTestCase):
    tool = "checkpoint"

    def setUp(self):
        super().setUp()
        self.db = self.state("c.db")

    def cp(self, *args, **kwargs):
        return self.run_tool("--db", self.db, *args, **kwargs)

    def lines(self, count):
        return "".join(f"line {i}\n" for i in range(1, count + 1))

    def show(self, job="j"):
        result = self.cp("show", "--job", job)
        self.assertStatus(result, 0)
        return json.loads(result.out)

    def test_help_is_0_bad_flag_is_2(self):
        self.assertStatus(self.run_tool("--help"), 0)
        self.assertStatus(self.run_tool("run", "--help"), 0)
        self.assertError(self.run_tool("run", "--job", "j", "--bogus", "--", "cat"), 2, "--bogus")
        self.assertError(self.cp("run", "--job", "j", "--every", "0", "--", "cat"), 2, "--every")
        self.assertError(self.cp("run", "--job", "j", "--every-time", "5", "--", "cat"), 2,
                         "--every-time")
        self.assertError(self.cp("run", "--job", "bad\x01job", "--", "cat"), 2, "job")

    def test_run_feeds_every_line_then_reports_already_complete(self):
        self.write("in.txt", self.lines(10))
        result = self.cp("--now", T0, "run", "--job", "j", "--every", "3", "--input", "in.txt",
                         "--", "sh", "-c", "cat >> out.txt")
        self.assertStatus(result, 0)
        self.assertEqual(self.read("out.txt").decode(), self.lines(10))
        job = self.show()
        self.assertEqual((job["next_line"], job["state"], job["input"], job["input_size"]),
                         (11, "complete", "in.txt", len(self.lines(10))))
        self.assertEqual(job["updated_at"], T0)
        again = self.cp("run", "--job", "j", "--input", "in.txt", "--", "sh", "-c",
                        "cat >> out.txt")
        self.assertStatus(again, 3)
        self.assertIn("already complete", again.err)
        self.assertEqual(self.read("out.txt").decode(), self.lines(10))

    def test_failure_after_line_k_resumes_at_the_chunk_of_k(self):
        # STORM-2607's shape: the committed offset is the next line to process, never one
        # past a line that was not done.
        count, every = 10, 3
        self.write("in.txt", self.lines(count))
        for k in range(1, count + 1):
            with self.subTest(k=k):
                self.cp("reset", "--job", "j")
                if os.path.exists(self.path("out.txt")):
                    os.remove(self.path("out.txt"))
                failing = self.cp("run", "--job", "j", "--every", str(every), "--input",
                                  "in.txt", "--", "sh", "-c",
                                  f"cat >> out.txt; ! grep -qx 'line {k}' out.txt")
                self.assertStatus(failing, 1)
                first_of_chunk = (k - 1) // every * every + 1
                self.assertEqual(self.show()["next_line"], first_of_chunk)
                done = self.cp("run", "--job", "j", "--every", str(every), "--input", "in.txt",
                               "--", "sh", "-c", "cat >> out.txt")
                self.assertStatus(done, 0)
                seen = self.read("out.txt").decode().splitlines()
                expected = (self.lines(k if k % every == 0 else min(count, first_of_chunk
                                                                     + every - 1))
                            + self.lines(count)[len(self.lines(first_of_chunk - 1)):])
                self.assertEqual(seen, expected.splitlines())

    def test_sigkill_at_random_moments_processes_every_line_at_least_once(self):
        count = rounds(2000, 20000)
        self.write("in.txt", self.lines(count))
        rng = random.Random(2607)
        command = [tool_path("checkpoint"), "--db", self.db, "run", "--job", "j", "--every",
                   "50", "--input", "in.txt", "--", "sh", "-c", "cat >> out.txt"]
        for _ in range(rounds(15, 100)):
            child = subprocess.Popen(command, cwd=self.dir, env=self.env,
                                     stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.0, 0.05))
            child.send_signal(signal.SIGKILL)
            child.wait()
        while True:
            result = subprocess.run(command, cwd=self.dir, env=self.env, capture_output=True,
                                    timeout=300)
            if result.returncode in (0, 3):
                break
        seen = self.read("out.txt").decode().splitlines()
        self.assertEqual(set(seen), set(self.lines(count).splitlines()))
        self.assertEqual(seen[-1], f"line {count}")
        self.assertEqual(self.show()["state"], "complete")

    def test_sigterm_stops_without_moving_past_the_chunk(self):
        self.write("in.txt", self.lines(6))
        child = self.start_tool("--db", self.db, "run", "--job", "j", "--every", "2",
                                "--input", "in.txt", "--", "sh", "-c",
                                "cat >> out.txt; if grep -qx 'line 4' out.txt; then "
                                "touch started; exec sleep 60; fi", stderr=subprocess.PIPE)
        self.wait_for_file("started")
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=60)
        self.assertEqual(child.returncode, 143)
        self.assertEqual((self.show()["next_line"], self.show()["state"]), (3, "running"))

    def test_every_time_runs_the_lines_before_a_pause_while_it_lasts(self):
        child = self.start_tool("--db", self.db, "run", "--job", "p", "--every-time", "100ms",
                                "--", "sh", "-c", "cat >> out.txt", stdin=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        child.stdin.write(b"a\nb\n")
        child.stdin.flush()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not os.path.exists(self.path("out.txt"))
                                               or self.read("out.txt") != b"a\nb\n"):
            time.sleep(0.02)
        try:
            self.assertEqual(self.read("out.txt"), b"a\nb\n")
            self.assertEqual(self.show("p")["next_line"], 3)
        finally:
            child.stdin.write(b"c\n")
            child.stdin.close()
            child.wait(timeout=60)
            child.stderr.close()
        self.assertEqual(child.returncode, 0)
        self.assertEqual(self.read("out.txt"), b"a\nb\nc\n")
        self.assertEqual((self.show("p")["next_line"], self.show("p")["state"]), (4, "complete"))

    def test_changed_input_is_refused_unless_restart(self):
        self.write("in.txt", self.lines(4))
        self.assertStatus(self.cp("run", "--job", "j", "--input", "in.txt", "--", "true"), 0)
        self.write("in.txt", self.lines(5))
        refused = self.cp("run", "--job", "j", "--input", "in.txt", "--", "sh", "-c",
                          "cat >> out.txt")
        self.assertError(refused, 65, "input changed", "--restart")
        self.assertFalse(os.path.exists(self.path("out.txt")))
        restarted = self.cp("run", "--job", "j", "--restart", "--input", "in.txt", "--", "sh",
                            "-c", "cat >> out.txt")
        self.assertStatus(restarted, 0)
        self.assertEqual(self.read("out.txt").decode(), self.lines(5))

    def test_stdin_pipe_and_list_and_reset(self):
        result = self.cp("run", "--job", "p", "--", "sh", "-c", "cat >> out.txt",
                         stdin=self.lines(3))
        self.assertStatus(result, 0)
        job = self.show("p")
        self.assertEqual((job["next_line"], job["input"], job["input_size"]), (4, "<stdin>", None))
        listed = [json.loads(line)["job"] for line in self.cp("list").out.splitlines()]
        self.assertEqual(listed, ["p"])
        self.assertStatus(self.cp("reset", "--job", "p"), 0)
        self.assertStatus(self.cp("reset", "--job", "p"), 1)
        self.assertStatus(self.cp("show", "--job", "p"), 1)

    def test_a_pipe_shorter_than_the_checkpoint_is_refused_not_completed(self):
        failing = self.cp("run", "--job", "p", "--every", "2", "--", "sh", "-c",
                          "cat >> out.txt; ! grep -qx 'line 5' out.txt", stdin=self.lines(6))
        self.assertStatus(failing, 1)
        self.assertEqual(self.show("p")["next_line"], 5)
        shorter = self.cp("run", "--job", "p", "--", "sh", "-c", "cat >> out.txt",
                          stdin=self.lines(3))
        self.assertError(shorter, 65, "job 'p'", "has 3 lines", "line 5", "--restart")
        self.assertEqual((self.show("p")["next_line"], self.show("p")["state"]), (5, "running"))
        resumed = self.cp("run", "--job", "p", "--", "sh", "-c", "cat > rest.txt",
                          stdin=self.lines(6))
        self.assertStatus(resumed, 0)
        self.assertEqual(self.read("rest.txt").decode(), "line 5\nline 6\n")

    def test_missing_input_and_command(self):
        self.assertError(self.cp("run", "--job", "j", "--input", "absent.txt", "--", "cat"), 66,
                         "absent.txt")
        self.write("in.txt", "x\n")
        self.assertStatus(self.cp("run", "--job", "j", "--input", "in.txt", "--",
                                  "no-such-command-here"), 127)
        self.assertEqual(self.show()["next_line"], 1)
