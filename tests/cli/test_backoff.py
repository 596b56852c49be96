"""backoff run/schedule/simulate: every documented behaviour and exit status, with real processes."""

import json
import os
import shutil
import signal
import subprocess
import time
import unittest

from sluice_cli import BUILD, ToolTestCase, also_through_pgbouncer, on_both_backends, sqlite_only, tool_path

# Fails until the attempt named in the environment reaches $GOAL; logs each attempt.
UNTIL_GOAL = 'echo "$BACKOFF_ATTEMPT $BACKOFF_MAX_ATTEMPTS" >> attempts.txt; ' \
             '[ "$BACKOFF_ATTEMPT" -ge "$GOAL" ]'


def events(text):
    return [json.loads(line) for line in text.splitlines() if line]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split(") ")[1][0] != "Z"


def dead_within(pid, seconds=5):
    """True once pid is gone. A signal is delivered asynchronously: a process sent SIGKILL may
    still show as running for a moment after the sender returned (seen on a loaded machine)."""
    deadline = time.monotonic() + seconds
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not pid_alive(pid)


class BackoffCommandLine(ToolTestCase):
    tool = "backoff"

    def test_help_is_0_and_bad_usage_is_2(self):
        for args in (["--help"], ["run", "--help"], ["schedule", "--help"], ["simulate", "--help"]):
            self.assertStatus(self.run_tool(*args), 0)
        self.assertError(self.run_tool("--bogus", "--", "true"), 2, "--bogus")
        self.assertError(self.run_tool(), 2, "no command")
        self.assertError(self.run_tool("--attempts", "0", "--", "true"), 2, "--max-time")
        self.assertError(self.run_tool("--base", "1.5ms", "--", "true"), 2, "--base")
        self.assertError(self.run_tool("--base", "soon", "--", "true"), 2, "soon")
        self.assertError(self.run_tool("--multiplier", "0.5", "--", "true"), 2, "--multiplier")
        self.assertError(self.run_tool("--jitter", "some", "--", "true"), 2, "--jitter")
        self.assertError(self.run_tool("--retry-on", "1,x", "--", "true"), 2, "--retry-on")
        self.assertError(self.run_tool("simulate", "--strategy", "linear"), 2, "linear")

    def test_seed_outside_0_to_2_64_minus_1_is_a_usage_error(self):
        for command in (["schedule"], ["simulate", "--runs", "1", "--clients", "2"], ["run"]):
            for seed in ("-1", "18446744073709551616", "99999999999999999999999", "0x10", "1e3"):
                with self.subTest(command=command[0], seed=seed):
                    self.assertError(self.run_tool(*command, "--seed", seed, "--", "true"), 2,
                                     "--seed", seed)
        self.assertStatus(self.run_tool("schedule", "--seed", "18446744073709551615"), 0)
        # The largest seed is taken as it is, not clamped: the same draws as asking for it again.
        largest = self.run_tool("schedule", "--jitter", "full", "--seed", "18446744073709551615")
        smaller = self.run_tool("schedule", "--jitter", "full", "--seed", "18446744073709551614")
        self.assertNotEqual(largest.stdout, smaller.stdout)

    def test_the_first_operand_starts_the_command_whose_options_stay_its_own(self):
        # No "--": backoff's options end at the command, as in timeout(1) and flock(1).
        result = self.run_tool("--attempts", "2", "printf", "%s|", "--timeout", "1s", "--seed", "-1")
        self.assertEqual((result.status, result.out), (0, "--timeout|1s|--seed|-1|"))
        result = self.run_tool("run", "--base=1ms", "-q", "printf", "%s|", "--attempts", "0")
        self.assertEqual((result.status, result.out), (0, "--attempts|0|"))
        # The command's options are not backoff's: --attempts 3 of the command is not applied.
        report = self.run_tool("--attempts", "2", "--base", "1ms", "--report", "-", "sh", "-c",
                               "exit 1", "--attempts", "3")
        self.assertEqual(report.status, 1)
        self.assertEqual(report.out.count('"event":"attempt_start"'), 2, report)
        # A word that looks like an option of backoff's, after "--", is the command's too.
        result = self.run_tool("--attempts", "1", "--", "printf", "%s|", "--attempts", "3")
        self.assertEqual((result.status, result.out), (0, "--attempts|3|"))
        self.assertError(self.run_tool("--bogus", "printf", "x"), 2, "--bogus")

    def test_version_names_tool_and_revision(self):
        result = self.run_tool("--version")
        self.assertStatus(result, 0)
        self.assertRegex(result.out, r"^backoff \d+\.\d+\.\d+ \(sluice, git ")


class BackoffRun(ToolTestCase):
    tool = "backoff"

    def attempts(self):
        if not os.path.exists(self.path("attempts.txt")):
            return []
        return self.read("attempts.txt").decode().splitlines()

    def run_until(self, goal, *args, **kwargs):
        env = dict(self.env, GOAL=str(goal))
        return self.run_tool("--base", "1ms", "--seed", "1", *args, "--", "sh", "-c", UNTIL_GOAL,
                             env=env, **kwargs)

    def test_success_on_attempt_k_passes_status_through(self):
        result = self.run_until(3, "--report", "report.jsonl")
        self.assertStatus(result, 0)
        self.assertEqual(self.attempts(), ["1 5", "2 5", "3 5"])
        report = events(self.read("report.jsonl").decode())
        self.assertEqual([e["event"] for e in report],
                         ["attempt_start", "attempt_end", "sleep"] * 2 +
                         ["attempt_start", "attempt_end", "success", "summary"])
        self.assertEqual(report[-1]["result"], "success")
        self.assertEqual(report[-1]["attempts"], 3)
        self.assertEqual(report[1]["status"], 1)
        self.assertIn("attempt 1 failed (exit status 1); retrying in", result.err)

    def test_exhaustion_exits_with_the_last_status(self):
        result = self.run_tool("--attempts", "3", "--base", "0", "--", "sh", "-c",
                               'echo x >> attempts.txt; exit $((10 + BACKOFF_ATTEMPT))')
        self.assertStatus(result, 13)
        self.assertEqual(len(self.attempts()), 3)
        self.assertIn("giving up: exit status 13 after 3 attempts", result.err)

    def test_exit_code_on_giveup_replaces_the_status(self):
        result = self.run_tool("--attempts", "2", "--base", "0", "--exit-code-on-giveup", "99",
                               "--", "false")
        self.assertStatus(result, 99)

    def test_stop_on_takes_precedence_and_retry_on_limits(self):
        stop = self.run_tool("--base", "0", "--retry-on", "7", "--stop-on", "7", "--", "sh", "-c",
                             "echo x >> attempts.txt; exit 7")
        self.assertStatus(stop, 7)
        self.assertEqual(len(self.attempts()), 1)
        self.assertIn("exit status 7 is in --stop-on", stop.err)
        os.remove(self.path("attempts.txt"))
        other = self.run_tool("--base", "0", "--retry-on", "75", "--", "sh", "-c",
                              "echo x >> attempts.txt; exit 3")
        self.assertStatus(other, 3)
        self.assertEqual(len(self.attempts()), 1)
        self.assertIn("not in --retry-on", other.err)
        os.remove(self.path("attempts.txt"))
        retried = self.run_tool("--base", "0", "--retry-on", "75", "--attempts", "3", "--", "sh",
                                "-c", "echo x >> attempts.txt; exit 75")
        self.assertStatus(retried, 75)
        self.assertEqual(len(self.attempts()), 3)

    def test_default_stop_on_codes_are_not_retried(self):
        for code in (126, 127, 130, 143):
            result = self.run_tool("--base", "0", "--report", "r.jsonl", "--", "sh", "-c",
                                   f"exit {code}")
            self.assertStatus(result, code)
        starts = [e for e in events(self.read("r.jsonl").decode()) if e["event"] == "attempt_start"]
        self.assertEqual(len(starts), 4)

    def test_success_codes(self):
        result = self.run_tool("--base", "0", "--success", "0,3", "--", "sh", "-c",
                               "echo x >> attempts.txt; exit 3")
        self.assertStatus(result, 3)
        self.assertEqual(len(self.attempts()), 1)

    def test_command_not_found_is_127_and_not_executable_126_without_retries(self):
        missing = self.run_tool("--base", "0", "--report", "r.jsonl", "--exit-code-on-giveup", "9",
                                "--", "no-such-command-xyz")
        self.assertError(missing, 127, "no-such-command-xyz: command not found")
        self.write("plain.txt", "not a program")
        denied = self.run_tool("--base", "0", "--", "./plain.txt")
        self.assertError(denied, 126, "plain.txt")
        report = events(self.read("r.jsonl").decode())
        self.assertEqual(sum(e["event"] == "attempt_start" for e in report), 1)
        self.assertEqual(report[-2]["reason"], "not_found")

    def test_timeout_kills_a_child_that_ignores_sigterm_and_its_grandchildren(self):
        script = ('trap "" TERM; (trap "" TERM; sleep 60) & echo $! >> grandchildren.txt; '
                  'sleep 60')
        started = time.monotonic()
        result = self.run_tool("--base", "0", "--attempts", "2", "--timeout", "300ms",
                               "--kill-after", "200ms", "--report", "r.jsonl", "--", "sh", "-c",
                               script)
        elapsed = time.monotonic() - started
        self.assertStatus(result, 124)
        self.assertLess(elapsed, 10)
        grandchildren = [int(p) for p in self.read("grandchildren.txt").split()]
        self.assertEqual(len(grandchildren), 2)  # a timed-out attempt is retried
        for pid in grandchildren:
            self.assertTrue(dead_within(pid), pid)
        ends = [e for e in events(self.read("r.jsonl").decode()) if e["event"] == "attempt_end"]
        self.assertEqual([(e["status"], e["timed_out"], e["signal"]) for e in ends],
                         [(124, True, 9), (124, True, 9)])

    def test_no_retry_on_timeout(self):
        result = self.run_tool("--base", "0", "--timeout", "100ms", "--no-retry-on-timeout", "--",
                               "sh", "-c", "echo x >> attempts.txt; sleep 60")
        self.assertStatus(result, 124)
        self.assertEqual(len(self.attempts()), 1)

    def test_max_time_ends_the_running_attempt_with_124(self):
        started = time.monotonic()
        result = self.run_tool("--max-time", "500ms", "--kill-after", "100ms", "--", "sleep", "60")
        elapsed = time.monotonic() - started
        self.assertStatus(result, 124)
        self.assertGreaterEqual(elapsed, 0.5)
        self.assertLess(elapsed, 2.5)
        self.assertIn("--max-time", result.err)

    def test_max_time_never_starts_a_sleep_past_the_deadline(self):
        # Attempt 1 fails at once; the sleeps are 500-1000 ms, then 1000-2000 ms. The second
        # sleep would end at 1.5 s or later, past the 1.4 s deadline, so backoff gives up after
        # attempt 2 with its status. (With an 1.8 s deadline, as this test once had, about one
        # run in eleven drew sleeps that fit and rightly made a third attempt.)
        started = time.monotonic()
        result = self.run_tool("--base", "1s", "--max-time", "1400ms", "--attempts", "0",
                               "--report", "r.jsonl", "--", "sh", "-c",
                               "echo x >> attempts.txt; exit 4")
        elapsed = time.monotonic() - started
        self.assertStatus(result, 4)
        self.assertEqual(len(self.attempts()), 2)
        self.assertLess(elapsed, 1.4)
        self.assertEqual(events(self.read("r.jsonl").decode())[-2]["reason"], "deadline")

    def test_unlimited_attempts_stop_at_the_deadline(self):
        started = time.monotonic()
        result = self.run_tool("--base", "10ms", "--cap", "20ms", "--attempts", "0",
                               "--max-time", "600ms", "--report", "r.jsonl", "--", "sh", "-c",
                               "echo x >> attempts.txt; exit 2")
        elapsed = time.monotonic() - started
        # Either a sleep would pass the deadline (give up with the last status, 2) or the
        # deadline ends an attempt that is running (124): which one depends on timing.
        giveup = events(self.read("r.jsonl").decode())[-2]
        self.assertEqual(giveup["reason"], "deadline")
        self.assertIn(result.status, (2, 124), result)
        self.assertEqual(giveup["status"], result.status)
        self.assertGreater(len(self.attempts()), 5)
        self.assertLess(elapsed, 2.5)

    def test_environment_of_each_attempt(self):
        started = time.monotonic()
        result = self.run_tool("--base", "300ms", "--jitter", "none", "--attempts", "2", "--",
                               "sh", "-c",
                               'echo "$BACKOFF_ATTEMPT $BACKOFF_MAX_ATTEMPTS $BACKOFF_ELAPSED_MS"'
                               " >> attempts.txt; exit 1")
        wall_ms = (time.monotonic() - started) * 1000
        self.assertStatus(result, 1)
        lines = [line.split() for line in self.attempts()]
        self.assertEqual([(a, m) for a, m, _ in lines], [("1", "2"), ("2", "2")])
        # The first attempt starts as soon as backoff has (a loaded machine may take a few
        # milliseconds); the second after the 300 ms sleep; neither after backoff ended.
        first, second = int(lines[0][2]), int(lines[1][2])
        self.assertLess(first, 300)
        self.assertGreaterEqual(second - first, 300)
        self.assertLessEqual(second, wall_ms)

    def test_replay_stdin_feeds_every_attempt_the_same_bytes(self):
        data = bytes(range(256)) * 1000
        result = self.run_tool("--base", "0", "--replay-stdin", "--", "sh", "-c",
                               'cat > "in.$BACKOFF_ATTEMPT"; [ "$BACKOFF_ATTEMPT" -ge 3 ]',
                               stdin=data)
        self.assertStatus(result, 0)
        for attempt in (1, 2, 3):
            self.assertEqual(self.read(f"in.{attempt}"), data)

    def test_replay_stdin_over_the_limit_is_65_before_any_attempt(self):
        result = self.run_tool("--replay-stdin=1KiB", "--", "sh", "-c", "touch ran.txt",
                               stdin=b"x" * 2000)
        self.assertError(result, 65, "<stdin>")
        self.assertFalse(os.path.exists(self.path("ran.txt")))

    def test_hold_stdout_passes_on_only_the_successful_attempt(self):
        pipeline = (f"printf 'input\\n' | {tool_path('backoff')} --base 0 --replay-stdin "
                    "--hold-stdout --quiet -- sh -c 'cat; echo \"out $BACKOFF_ATTEMPT\"; [ $BACKOFF_ATTEMPT -ge 3 ]' "
                    "| tr a-z A-Z")
        completed = subprocess.run(["sh", "-c", pipeline], capture_output=True, cwd=self.dir,
                                   env=self.env, timeout=60)
        self.assertEqual(completed.returncode, 0, completed)
        self.assertEqual(completed.stdout, b"INPUT\nOUT 3\n")
        self.assertEqual(completed.stderr, b"input\nout 1\ninput\nout 2\n")

    def test_hold_stdout_spills_large_output_to_a_file_exactly(self):
        self.write("big.bin", os.urandom(300_000))
        result = self.run_tool("--base", "0", "--hold-stdout=4KiB", "--", "sh", "-c",
                               'cat big.bin; [ "$BACKOFF_ATTEMPT" -ge 2 ]')
        self.assertStatus(result, 0)
        self.assertEqual(result.stdout, self.read("big.bin"))
        self.assertEqual(result.stderr.count(self.read("big.bin")), 1)

    def test_closed_stdout_pipe_does_not_turn_into_retries(self):
        pipeline = f"{tool_path('backoff')} --base 0 --report r.jsonl -- yes | head -n 1"
        completed = subprocess.run(["sh", "-c", pipeline], capture_output=True, cwd=self.dir,
                                   env=self.env, timeout=60)
        self.assertEqual(completed.stdout, b"y\n")
        report = events(self.read("r.jsonl").decode())
        self.assertEqual(sum(e["event"] == "attempt_start" for e in report), 1)
        self.assertEqual(report[-2]["reason"], "stdout_closed")
        self.assertEqual(report[-1]["exit_status"], 141)

    def test_sigint_during_a_sleep_ends_at_once_with_130(self):
        child = self.start_tool("--base", "60s", "--report", "r.jsonl", "--", "false",
                                stderr=subprocess.DEVNULL)
        self.wait_for_sleep_event()
        started = time.monotonic()
        child.send_signal(signal.SIGINT)
        self.assertEqual(child.wait(timeout=10), 130)
        self.assertLess(time.monotonic() - started, 2)
        report = events(self.read("r.jsonl").decode())
        self.assertEqual((report[-1]["result"], report[-1]["exit_status"]), ("interrupted", 130))
        self.assertEqual(sum(e["event"] == "attempt_start" for e in report), 1)

    def wait_for_sleep_event(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if os.path.exists(self.path("r.jsonl")) and b'"sleep"' in self.read("r.jsonl"):
                return
            time.sleep(0.01)
        self.fail("backoff never slept")

    def test_sigterm_during_an_attempt_is_forwarded_to_its_process_group(self):
        child = self.start_tool("--base", "0", "--", "sh", "-c",
                                "sleep 60 & echo $! > grandchild.txt; wait",
                                stderr=subprocess.DEVNULL)
        self.wait_for_file("grandchild.txt")
        while not self.read("grandchild.txt").strip():
            time.sleep(0.01)
        grandchild = int(self.read("grandchild.txt"))
        child.send_signal(signal.SIGTERM)
        self.assertEqual(child.wait(timeout=10), 143)
        self.assertTrue(dead_within(grandchild), grandchild)

    def test_report_appends_one_summary_per_run(self):
        for _ in range(2):
            self.assertStatus(self.run_tool("--report", "r.jsonl", "--", "true"), 0)
        report = events(self.read("r.jsonl").decode())
        self.assertEqual([e["event"] for e in report],
                         ["attempt_start", "attempt_end", "success", "summary"] * 2)

    def test_report_file_that_cannot_be_created_is_73(self):
        result = self.run_tool("--report", "no/such/dir/r.jsonl", "--", "true")
        self.assertError(result, 73, "no/such/dir/r.jsonl")

    def test_command_words_are_passed_exactly(self):
        result = self.run_tool("--", "printf", "<%s>", "[a b]", "[x,y]", "[]", "a,b")
        self.assertStatus(result, 0)
        self.assertEqual(result.out, "<[a b]><[x,y]><[]><a,b>")

    def test_seeded_run_sleeps_what_schedule_prints_even_with_stagger(self):
        result = self.run_tool("--seed", "11", "--base", "10ms", "--attempts", "4", "--stagger",
                               "5ms", "--report", "-", "--", "false")
        self.assertStatus(result, 1)
        slept = [e["ms"] for e in events(result.out) if e["event"] == "sleep" and e["attempt"] > 0]
        schedule = self.run_tool("schedule", "--seed", "11", "--base", "10ms", "--attempts", "4")
        self.assertEqual(slept, [row["sleep_ms"] for row in events(schedule.out)])

    def test_a_command_that_succeeds_after_catching_the_signal_is_a_success(self):
        child = self.start_tool("--hold-stdout", "--", "sh", "-c",
                                'trap "echo caught; exit 0" TERM; touch ready; '
                                "while :; do sleep 0.05; done",
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.wait_for_file("ready")
        child.send_signal(signal.SIGTERM)
        out, _ = child.communicate(timeout=10)
        self.assertEqual(child.returncode, 0)
        self.assertEqual(out, b"caught\n")

    def test_stagger_sleeps_before_the_first_attempt(self):
        result = self.run_tool("--stagger", "200ms", "--seed", "4", "--report", "-", "--", "true")
        self.assertStatus(result, 0)
        first = events(result.out)[0]
        self.assertEqual((first["event"], first["reason"], first["attempt"]), ("sleep", "stagger", 0))
        self.assertLessEqual(first["ms"], 200)


class BackoffDelays(ToolTestCase):
    """--delays: a fixed list of sleeps, as `retry -d 1,5,30`."""
    tool = "backoff"

    def test_each_delay_once_then_give_up_by_default(self):
        result = self.run_tool("--delays", "50ms,150ms", "--report", "r.jsonl", "--", "sh", "-c",
                               'date +%s%N >> started.txt; echo "$BACKOFF_MAX_ATTEMPTS" >> max.txt; '
                               "exit 3")
        self.assertStatus(result, 3)
        self.assertIn("giving up: exit status 3 after 3 attempts", result.err)
        self.assertEqual(self.read("max.txt").split(), [b"3"] * 3)
        report = events(self.read("r.jsonl").decode())
        self.assertEqual([(e["ms"], e["source"]) for e in report if e["event"] == "sleep"],
                         [(50, "schedule"), (150, "schedule")])
        started = [int(line) for line in self.read("started.txt").split()]
        waits = [(later - earlier) / 1e6 for earlier, later in zip(started, started[1:])]
        self.assertGreaterEqual(waits[0], 50)
        self.assertGreaterEqual(waits[1], 150)
        self.assertLess(sum(waits), 200 + 1100, "tolerance for a loaded machine")

    def test_the_last_delay_repeats_up_to_attempts_and_jitter_draws_below_it(self):
        result = self.run_tool("--delays", "1ms,4ms", "--attempts", "5", "--report", "-", "--",
                               "false")
        self.assertStatus(result, 1)
        self.assertEqual([e["ms"] for e in events(result.out) if e["event"] == "sleep"],
                         [1, 4, 4, 4])
        rows = events(self.run_tool("schedule", "--delays", "10ms,100ms", "--attempts", "4",
                                    "--jitter", "equal", "--seed", "3").out)
        self.assertEqual([(r["min_ms"], r["max_ms"]) for r in rows], [(5, 10), (50, 100), (50, 100)])
        for row in rows:
            self.assertTrue(row["min_ms"] <= row["sleep_ms"] <= row["max_ms"], row)

    def test_schedule_prints_the_list(self):
        result = self.run_tool("schedule", "--delays", "1s,5s,30s", "--format", "csv")
        self.assertStatus(result, 0)
        self.assertEqual([line.split(",")[5] for line in result.out.splitlines()[1:]],
                         ["1000", "5000", "30000"])

    def test_conflicting_or_malformed_delays_are_usage_errors(self):
        for option, value in (("--base", "2s"), ("--multiplier", "3"), ("--cap", "1m")):
            with self.subTest(option=option):
                self.assertError(self.run_tool("--delays", "1s", option, value, "--", "true"), 2,
                                 "--delays", option)
        self.assertError(self.run_tool("--delays", "1s", "--jitter", "decorrelated", "--", "true"),
                         2, "--jitter decorrelated cannot be used with --delays")
        self.assertError(self.run_tool("--delays", "1s,,2s", "--", "true"), 2, "empty delay")
        self.assertError(self.run_tool("--delays", "1.5s", "--", "true"), 2, "--delays", "1.5s")
        self.assertError(self.run_tool("schedule", "--delays", "1s,5"), 2, "--delays", "'5'")


# Writes the attempt's wait request ($ASK_1 for attempt 1, ...), notes when the attempt started
# (nanoseconds) and where its request file was, and fails until attempt $GOAL.
ASK_AND_FAIL = 'date +%s%N >> started.txt; echo "$BACKOFF_RETRY_AFTER_FILE" >> files.txt; ' \
               '[ -f "$BACKOFF_RETRY_AFTER_FILE" ] && [ ! -s "$BACKOFF_RETRY_AFTER_FILE" ] || exit 99; ' \
               'eval "printf %s \\"\\$ASK_$BACKOFF_ATTEMPT\\"" > "$BACKOFF_RETRY_AFTER_FILE"; ' \
               '[ "$BACKOFF_ATTEMPT" -ge "$GOAL" ]'


class BackoffRetryAfter(ToolTestCase):
    """The command's own wait (BACKOFF_RETRY_AFTER_FILE), measured on the wall clock."""
    tool = "backoff"

    def ask(self, *args, goal=2, **asks):
        env = dict(self.env, GOAL=str(goal), **{f"ASK_{n}": v for n, v in asks.items()})
        started = time.monotonic()
        result = self.run_tool("--seed", "1", "--report", "r.jsonl", *args, "--", "sh", "-c",
                               ASK_AND_FAIL, env=env)
        return result, time.monotonic() - started

    def waits_ms(self):
        started = [int(line) for line in self.read("started.txt").split()]
        return [(later - earlier) / 1e6 for earlier, later in zip(started, started[1:])]

    def sleeps(self):
        return [(e["ms"], e["source"], e["requested_ms"])
                for e in events(self.read("r.jsonl").decode()) if e["event"] == "sleep"]

    def test_the_wait_asked_for_replaces_the_schedule_and_the_file_is_removed(self):
        # Without the request the sleep would be 5 s; the command asks for 0.2 s.
        result, elapsed = self.ask("--base", "5s", "--jitter", "none", **{"1": "0.2\n"})
        self.assertStatus(result, 0)
        self.assertEqual(self.sleeps(), [(200, "retry_after", 200)])
        [wait] = self.waits_ms()
        self.assertGreaterEqual(wait, 200)
        self.assertLess(wait, 2000, "far below the schedule's 5 s (a loaded machine is slow)")
        self.assertLess(elapsed, 4)
        self.assertIn("retrying in 200ms (BACKOFF_RETRY_AFTER_FILE)", result.err)
        files = self.read("files.txt").decode().split()
        self.assertEqual(len(set(files)), 2)  # a fresh file for each attempt
        for path in files:
            self.assertFalse(os.path.exists(path), path)

    def test_neither_cap_nor_jitter_applies_but_min_delay_does(self):
        result, _ = self.ask("--base", "10ms", "--cap", "10ms", "--jitter", "full", "--min-delay",
                             "100ms", goal=3, **{"1": "300ms", "2": "0"})
        self.assertStatus(result, 0)
        self.assertEqual(self.sleeps(), [(300, "retry_after", 300), (100, "retry_after", 0)])
        first, second = self.waits_ms()
        self.assertGreaterEqual(first, 300)
        self.assertGreaterEqual(second, 100)
        self.assertLess(first + second, 400 + 1100, "tolerance for a loaded machine")

    def test_a_wait_past_the_deadline_gives_up_at_once(self):
        result, elapsed = self.ask("--max-time", "2s", "--attempts", "0", goal=9, **{"1": "30"})
        self.assertStatus(result, 1)
        self.assertLess(elapsed, 1.5)
        giveup = events(self.read("r.jsonl").decode())[-2]
        self.assertEqual((giveup["event"], giveup["reason"], giveup["attempt"]), ("giveup", "deadline", 1))
        self.assertIn("a 30000ms sleep (BACKOFF_RETRY_AFTER_FILE) would pass --max-time", result.err)

    def test_bad_content_is_a_warning_and_the_schedule_sleeps(self):
        result, _ = self.ask("--base", "20ms", "--jitter", "none", "--quiet", **{"1": "soon"})
        self.assertStatus(result, 0)
        self.assertEqual(self.sleeps(), [(20, "schedule", None)])
        self.assertEqual(result.err, "backoff: warning: attempt 1: BACKOFF_RETRY_AFTER_FILE ignored: "
                                     "'soon' is not a delay (use seconds, a duration such as 1500ms, "
                                     "an HTTP-date or an RFC 3339 time)\n")

    def test_without_a_request_file_the_attempts_run_without_the_variable_warned_once(self):
        env = dict(self.env, TMPDIR=self.path("no-such-dir"))
        script = 'echo "${BACKOFF_RETRY_AFTER_FILE-unset}" >> seen; [ "$BACKOFF_ATTEMPT" = 3 ]'
        result = self.run_tool("--base", "1ms", "--jitter", "none", "--quiet", "--", "sh", "-c",
                               script, env=env)
        self.assertStatus(result, 0)
        with open(self.path("seen")) as seen:
            self.assertEqual(seen.read(), "unset\nunset\nunset\n")
        directory = self.path("no-such-dir")
        self.assertEqual(result.err, "backoff: warning: cannot create BACKOFF_RETRY_AFTER_FILE in "
                                     f"{directory}: No such file or directory; attempts run "
                                     "without it\n")

    def test_the_last_attempt_and_a_success_ignore_the_request(self):
        result, elapsed = self.ask("--attempts", "1", goal=9, **{"1": "30"})
        self.assertStatus(result, 1)
        self.assertLess(elapsed, 1.5)
        result, elapsed = self.ask(goal=1, **{"1": "30"})
        self.assertStatus(result, 0)
        self.assertLess(elapsed, 1.5)


class BackoffOutputPatterns(ToolTestCase):
    """--retry-on-output and --stop-on-output: the output still reaches the user, unchanged."""
    tool = "backoff"

    def run_script(self, *args, script):
        return self.run_tool("--base", "1ms", "--report", "r.jsonl", *args, "--", "sh", "-c", script)

    def report(self):
        return events(self.read("r.jsonl").decode())

    def test_a_success_whose_output_matches_is_retried_and_all_output_passes_through(self):
        result = self.run_script("--retry-on-output", "^busy", script=(
            'echo "out $BACKOFF_ATTEMPT"; '
            'if [ "$BACKOFF_ATTEMPT" -lt 3 ]; then echo "busy, try later" >&2; fi'))
        self.assertStatus(result, 0)
        self.assertEqual(result.out, "out 1\nout 2\nout 3\n")
        self.assertEqual([line for line in result.err.splitlines() if not line.startswith("backoff:")],
                         ["busy, try later"] * 2)
        self.assertIn("attempt 1 failed (exit status 0, output matched --retry-on-output)", result.err)
        self.assertEqual([e["output_match"] for e in self.report() if e["event"] == "attempt_end"],
                         ["retry_on_output", "retry_on_output", None])

    def test_giving_up_after_a_matched_success_is_1_or_the_giveup_code(self):
        result = self.run_script("--attempts", "2", "--retry-on-output", "rate limit",
                                 script="echo 'error: rate limit'")
        self.assertStatus(result, 1)
        self.assertEqual(result.out, "error: rate limit\n" * 2)
        self.assertIn("exiting 1, not its success status 0", result.err)
        self.assertEqual((self.report()[-1]["result"], self.report()[-1]["exit_status"]),
                         ("giveup", 1))
        result = self.run_script("--attempts", "2", "--retry-on-output", "rate limit",
                                 "--exit-code-on-giveup", "9", script="echo 'rate limit'")
        self.assertStatus(result, 9)

    def test_a_match_makes_a_status_retryable_that_retry_on_leaves_out(self):
        result = self.run_script("--retry-on", "75", "--retry-on-output", "deadlock", script=(
            'echo x >> attempts.txt; [ "$BACKOFF_ATTEMPT" -ge 2 ] || { echo deadlock; exit 3; }'))
        self.assertStatus(result, 0)
        self.assertEqual(self.read("attempts.txt"), b"x\nx\n")

    def test_stop_on_output_gives_up_at_once_and_wins_over_retry_on_output(self):
        result = self.run_script("--retry-on-output", "error", "--stop-on-output", "credentials",
                                 script="echo 'error: bad credentials' >&2; exit 5")
        self.assertStatus(result, 5)
        self.assertEqual(sum(e["event"] == "attempt_start" for e in self.report()), 1)
        self.assertEqual(self.report()[-2]["reason"], "stop_on_output")
        self.assertIn("giving up: exit status 5; its output matched --stop-on-output", result.err)
        # A success whose output matches --stop-on-output is still a success.
        success = self.run_tool("--stop-on-output", "x", "--retry-on-output", "x", "--", "echo", "x")
        self.assertEqual((success.status, success.out), (0, "x\n"))

    def test_a_long_line_without_newline_passes_through_exactly_and_is_matched(self):
        self.write("big.bin", b"y" * 300_000 + b" rate limit")
        result = self.run_script("--attempts", "2", "--retry-on-output", "rate limit",
                                 script="cat big.bin")
        self.assertStatus(result, 1)
        self.assertEqual(result.stdout, self.read("big.bin") * 2)

    def test_hold_stdout_still_holds_watched_output(self):
        result = self.run_script("--hold-stdout", "--retry-on-output", "retry me", script=(
            'echo "out $BACKOFF_ATTEMPT"; [ "$BACKOFF_ATTEMPT" -ge 2 ] || echo "retry me"'))
        self.assertStatus(result, 0)
        self.assertEqual(result.out, "out 2\n")
        self.assertIn("out 1\nretry me\n", result.err)

    def test_a_bad_pattern_is_a_usage_error_before_anything_runs(self):
        result = self.run_tool("--retry-on-output", "(unclosed", "--", "touch", "ran")
        self.assertError(result, 2, "--retry-on-output", "(unclosed", "not an extended regular expression")
        self.assertFalse(os.path.exists(self.path("ran")))


@on_both_backends
@also_through_pgbouncer
class BackoffBudget(ToolTestCase):
    tool = "backoff"

    def test_budget_shared_by_concurrent_processes_drains_to_empty(self):
        for count in (2, 8, 32):
            with self.subTest(processes=count):
                self.drain_budget_with(count)

    def drain_budget_with(self, count):
        children = [
            self.start_tool("--budget", "api", "--db", self.state(f"budget{count}"), "--base", "0",
                            "--attempts", "0", "--max-time", "60s", "--quiet", "--report",
                            f"r{count}-{n}.jsonl", "--", "false")
            for n in range(count)
        ]
        self.assertEqual([child.wait(timeout=60) for child in children], [1] * count)
        reports = [events(self.read(f"r{count}-{n}.jsonl").decode()) for n in range(count)]
        starts = sum(e["event"] == "attempt_start" for report in reports for e in report)
        # Each process's first attempt, then 100 paid retries in all: none lost, none extra.
        self.assertEqual(starts, count + 500 // 5)
        for report in reports:
            self.assertEqual(report[-2]["reason"], "budget")
            self.assertEqual(report[-1]["budget_tokens"], 0)

    def test_an_empty_budget_gives_up_at_once_and_a_success_refunds(self):
        self.drain_budget_with(2)
        # An empty bucket gives up at once; a clean success refunds one token.
        self.assertStatus(self.run_tool("--budget", "api", "--db", self.state("budget2"), "--", "true"), 0)
        result = self.run_tool("--budget", "api", "--db", self.state("budget2"), "--base", "0",
                               "--report", "-", "--", "false")
        self.assertStatus(result, 1)
        report = events(result.out)
        self.assertEqual(sum(e["event"] == "attempt_start" for e in report), 1)
        self.assertEqual(report[-1]["budget_tokens"], 1)

    def test_busy_budget_never_turns_a_success_into_75(self):
        self.assertStatus(self.run_tool("--budget", "k", "--db", self.state("b"), "--", "true"), 0)
        self.hold_write_lock(self.state("b"), "backoff_budget")
        success = self.run_tool("--budget", "k", "--db", self.state("b"), "--busy-timeout", "100ms",
                                "--", "true")
        self.assertStatus(success, 0)
        self.assertIn("not refunded", success.err)
        failure = self.run_tool("--budget", "k", "--db", self.state("b"), "--busy-timeout", "100ms",
                                "--base", "0", "--report", "-", "--", "sh", "-c", "exit 3")
        self.assertStatus(failure, 3)
        self.assertEqual(events(failure.out)[-2]["reason"], "budget_unavailable")

    def test_success_after_retries_refunds_what_it_took(self):
        env = dict(self.env, GOAL="3")
        result = self.run_tool("--budget", "k", "--db", self.state("b"), "--base", "0", "--report", "-",
                               "--", "sh", "-c", UNTIL_GOAL, env=env)
        self.assertStatus(result, 0)
        self.assertEqual(events(result.out)[-1]["budget_tokens"], 500)

    def test_a_static_build_without_its_twin_is_69_for_a_server(self):
        # The static backoff re-executes its dynamically linked twin for a server; copied
        # away from it, it says where it looked. (Sanitizer builds are dynamic: no twin.)
        if self.backend == "sqlite" or not os.path.exists(
                os.path.join(BUILD, "libexec", "sluice", "backoff")):
            self.skipTest("needs a server and the static build")
        os.mkdir(self.path("bin"))
        shutil.copy(tool_path("backoff"), self.path("bin"))
        result = subprocess.run([self.path("bin/backoff"), "--budget", "k", "--db", self.state("b"),
                                 "--", "true"], capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 69, result.stderr)
        self.assertIn(f"needs {self.dir}/libexec/sluice/backoff for a postgresql:// state",
                      result.stderr)

    @sqlite_only
    def test_foreign_state_file_is_65_and_untouched(self):
        import sqlite3
        connection = sqlite3.connect(self.path("other.db"))
        connection.execute("CREATE TABLE t (x)")
        connection.commit()
        connection.close()
        before = self.read("other.db")
        result = self.run_tool("--budget", "k", "--db", "other.db", "--", "true")
        self.assertEqual(result.status, 65, result)
        self.assertEqual(self.read("other.db"), before)


class BackoffSchedule(ToolTestCase):
    tool = "backoff"

    def test_seeded_schedule_is_reproducible_and_within_bounds(self):
        args = ("schedule", "--seed", "7", "--attempts", "8", "--base", "100ms", "--cap", "2s")
        first = self.run_tool(*args)
        self.assertStatus(first, 0)
        self.assertEqual(first.stdout, self.run_tool(*args).stdout)
        rows = events(first.out)
        self.assertEqual([r["attempt"] for r in rows], list(range(2, 9)))
        total = 0
        for row in rows:
            ceiling = min(2000, 100 * 2 ** (row["after_failures"] - 1))
            self.assertEqual(row["ceiling_ms"], ceiling)
            self.assertEqual((row["min_ms"], row["max_ms"]), (ceiling - ceiling // 2, ceiling))
            self.assertTrue(row["min_ms"] <= row["sleep_ms"] <= row["max_ms"], row)
            total += row["sleep_ms"]
            self.assertEqual(row["total_ms"], total)
        self.assertEqual(list(rows[0]), ["attempt", "after_failures", "ceiling_ms", "min_ms",
                                         "max_ms", "sleep_ms", "total_ms", "total_min_ms",
                                         "total_max_ms"])

    def test_unseeded_schedule_names_the_seed_that_reproduces_it(self):
        result = self.run_tool("schedule", "--jitter", "full")
        self.assertStatus(result, 0)
        seed = result.err.split("--seed ")[1].split()[0]
        again = self.run_tool("schedule", "--jitter", "full", "--seed", seed)
        self.assertEqual(again.stdout, result.stdout)

    def test_no_jitter_schedule_is_the_plain_exponential(self):
        result = self.run_tool("schedule", "--jitter", "none", "--base", "1s", "--multiplier", "3",
                               "--attempts", "4", "--format", "csv")
        self.assertStatus(result, 0)
        lines = result.out.splitlines()
        self.assertEqual(lines[0].split(",")[:6],
                         ["attempt", "after_failures", "ceiling_ms", "min_ms", "max_ms", "sleep_ms"])
        self.assertEqual([line.split(",")[5] for line in lines[1:]], ["1000", "3000", "9000"])


class BackoffSimulate(ToolTestCase):
    tool = "backoff"

    def test_all_strategies_one_record_each_and_reproducible(self):
        args = ("simulate", "--clients", "20", "--runs", "5", "--seed", "1")
        result = self.run_tool(*args)
        self.assertStatus(result, 0)
        rows = events(result.out)
        self.assertEqual([r["strategy"] for r in rows],
                         ["none", "expo", "equal", "full", "decorrelated"])
        for row in rows:
            self.assertEqual(list(row), ["strategy", "clients", "runs", "mean_calls",
                                         "mean_completion_ms"])
            self.assertEqual((row["clients"], row["runs"]), (20, 5))
            self.assertGreaterEqual(row["mean_calls"], 20)
        self.assertEqual(self.run_tool(*args).stdout, result.stdout)


if __name__ == "__main__":
    unittest.main()
