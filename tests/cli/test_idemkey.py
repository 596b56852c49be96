"""idemkey run/begin/finish/release/show/list/gc/stats: every documented scenario and status."""

import datetime
import hashlib
import json
import os
import sqlite3
import stat
import time
import unittest

from sluice_cli import ToolTestCase, also_through_pgbouncer, on_both_backends, sqlite_only

T0 = "2026-03-01T12:00:00Z"
COUNTER = 'echo run >> counter.txt; echo "attempt $IDEMKEY_ATTEMPT"'


@on_both_backends
@also_through_pgbouncer
class IdemkeyRun(ToolTestCase):
    tool = "idemkey"

    def runs(self):
        return self.read("counter.txt").count(b"run") if os.path.exists(self.path("counter.txt")) else 0

    def test_help_is_0_and_bad_flag_is_2(self):
        self.assertStatus(self.run_tool("--help"), 0)
        self.assertIn("Subcommands:", self.run_tool("--help").out)
        self.assertStatus(self.run_tool("run", "--help"), 0)
        self.assertError(self.run_tool("run", "--key", "k", "--bogus", "--", "true"), 2, "--bogus")
        self.assertError(self.run_tool(), 2)

    def test_version_names_tool_and_revision(self):
        result = self.run_tool("--version")
        self.assertStatus(result, 0)
        self.assertRegex(result.out, r"^idemkey \d+\.\d+\.\d+ \(sluice, git \S+\)\n$")

    def test_first_run_then_byte_identical_replay(self):
        script = "printf 'out\\000\\377bin'; printf 'err\\001' >&2; echo run >> counter.txt; exit 7"
        first = self.run_tool("run", "--key", "k1", "--status-file", "s.json", "--", "sh", "-c", script)
        self.assertStatus(first, 7)
        self.assertEqual(first.stdout, b"out\x00\xffbin")
        self.assertEqual(first.stderr, b"err\x01")
        self.assertEqual(json.loads(self.read("s.json")),
                         {"key": "k1", "scope": "default", "decision": "executed", "attempt": 1,
                          "exit": 7, "stored": True, "output_stored": True})
        second = self.run_tool("run", "--key", "k1", "--status-file", "s.json", "--", "sh", "-c", script)
        self.assertStatus(second, 7)
        self.assertEqual(second.stdout, first.stdout)
        self.assertEqual(second.stderr, first.stderr)
        self.assertEqual(json.loads(self.read("s.json"))["decision"], "replayed")
        self.assertEqual(self.runs(), 1)

    def test_large_binary_output_replays_exactly(self):
        payload = bytes(range(256)) * 4096  # 1 MiB
        self.write("payload.bin", payload)
        first = self.run_tool("run", "--key", "big", "--", "cat", "payload.bin")
        second = self.run_tool("run", "--key", "big", "--", "cat", "payload.bin")
        self.assertEqual(first.stdout, payload)
        self.assertEqual(second.stdout, payload)

    def test_different_request_is_65_and_runs_nothing(self):
        self.assertStatus(self.run_tool("run", "--key", "k", "--", "sh", "-c", COUNTER), 0)
        before = self.run_tool("show", "--key", "k").out
        result = self.run_tool("run", "--key", "k", "--", "sh", "-c", COUNTER + " # changed")
        self.assertError(result, 65, "key 'k' was first used for a different request")
        self.assertEqual(result.stdout, b"")
        self.assertEqual(self.runs(), 1)
        self.assertEqual(self.run_tool("show", "--key", "k").out, before)

    def test_a_given_fingerprint_lets_the_command_line_change(self):
        first = self.run_tool("run", "--key", "o1", "--fingerprint", "order 1 10.00 EUR", "--",
                              "sh", "-c", COUNTER + "; echo charged")
        self.assertStatus(first, 0)
        moved = self.run_tool("run", "--key", "o1", "--fingerprint", "order 1 10.00 EUR", "--",
                              "sh", "-c", "echo run >> counter.txt; echo charged # moved")
        self.assertStatus(moved, 0)
        self.assertEqual(moved.stdout, first.stdout)
        self.assertEqual(self.runs(), 1)
        self.assertError(self.run_tool("run", "--key", "o1", "--fingerprint", "order 1 12.00 EUR",
                                       "--", "true"), 65, "different request")
        # Framed apart: the text equal to a computed request's parts is another request.
        self.assertStatus(self.run_tool("run", "--key", "o2", "--", "true"), 0)
        self.assertError(self.run_tool("run", "--key", "o2", "--fingerprint", "true", "--",
                                       "true"), 65)
        self.assertError(self.run_tool("run", "--key", "o3", "--fingerprint", "x", "--env", "A",
                                       "--", "true"), 2, "--env")

    def test_conflict_exit_replaces_75_for_a_key_held_elsewhere(self):
        # begin holds the key with the fingerprint idemkey(1) documents for --fingerprint
        # TEXT: SHA-256 of the framed "idemkey-run-given-v1", TEXT.
        framed = b"".join(b"%d:%s" % (len(part), part)
                          for part in (b"idemkey-run-given-v1", b"job 7"))
        begun = self.run_tool("begin", "--key", "held", "--fingerprint",
                              hashlib.sha256(framed).hexdigest())
        self.assertStatus(begun, 0)
        run = ("run", "--key", "held", "--fingerprint", "job 7")
        self.assertError(self.run_tool(*run, "--", "true"), 75, "key 'held' is in progress")
        flock_style = self.run_tool(*run, "--conflict-exit", "1", "--", "true")
        self.assertError(flock_style, 1, "key 'held' is in progress")
        self.assertStatus(self.run_tool(*run, "--conflict-exit", "0", "--", "true"), 2)
        # A different request is still 65, whatever --conflict-exit says.
        self.assertStatus(self.run_tool("run", "--key", "done", "--", "true"), 0)
        self.assertStatus(self.run_tool("run", "--key", "done", "--conflict-exit", "1", "--",
                                        "false"), 65)

    def test_env_and_stdin_are_part_of_the_request(self):
        env = dict(self.env, REGION="eu")
        self.assertStatus(self.run_tool("run", "--key", "e", "--env", "REGION", "--", "true", env=env), 0)
        self.assertStatus(self.run_tool("run", "--key", "e", "--env", "REGION", "--", "true", env=env), 0)
        env["REGION"] = "us"
        self.assertError(self.run_tool("run", "--key", "e", "--env", "REGION", "--", "true", env=env), 65)
        fed = self.run_tool("run", "--key", "s", "--stdin", "--", "sh", "-c", "tr a-z A-Z", stdin="hello")
        self.assertEqual(fed.stdout, b"HELLO")
        again = self.run_tool("run", "--key", "s", "--stdin", "--", "sh", "-c", "tr a-z A-Z", stdin="hello")
        self.assertEqual(again.stdout, b"HELLO")
        other = self.run_tool("run", "--key", "s", "--stdin", "--", "sh", "-c", "tr a-z A-Z", stdin="bye")
        self.assertError(other, 65)

    def test_env_order_and_lists_do_not_change_the_request(self):
        env = dict(self.env, A="1", B="2")
        self.assertStatus(self.run_tool("run", "--key", "o", "--env", "A", "--env", "B", "--",
                                        "sh", "-c", COUNTER, env=env), 0)
        self.assertStatus(self.run_tool("run", "--key", "o", "--env", "B,A", "--",
                                        "sh", "-c", COUNTER, env=env), 0)
        self.assertEqual(self.runs(), 1)
        env["B"] = "3"
        self.assertError(self.run_tool("run", "--key", "o", "--env", "A,B", "--", "sh", "-c", COUNTER,
                                       env=env), 65)

    def test_wait_flag_never_swallows_the_command(self):
        result = self.run_tool("run", "--key", "w", "--wait", "--", "echo", "--ttl", "1s", "hello")
        self.assertEqual((result.status, result.out), (0, "--ttl 1s hello\n"))
        shown = json.loads(self.run_tool("show", "--key", "w").out)
        self.assertNotEqual(shown["expires_at"], None)
        self.assertError(self.run_tool("run", "--key", "w2", "--wait=soon", "--", "true"), 2, "--wait")

    def test_the_first_operand_starts_the_command_whose_options_stay_its_own(self):
        # No "--": idemkey's options end at the command, as in timeout(1) and flock(1).
        result = self.run_tool("run", "--key", "a", "echo", "hello", "--ttl", "1h")
        self.assertEqual((result.status, result.out), (0, "hello --ttl 1h\n"))
        shown = json.loads(self.run_tool("show", "--key", "a").out)
        self.assertEqual(shown["state"], "completed")
        # The default TTL (24h) applies, not the command's --ttl 1h.
        instant = lambda text: datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        self.assertEqual(instant(shown["expires_at"]) - instant(shown["completed_at"]),
                         datetime.timedelta(hours=24))
        cases = [
            (["--scope", "s", "run", "-k", "b", "--wait", "echo", "-k", "x"], "-k x\n"),
            (["run", "--key=c", "--lease", "5s", "printf", "%s|", "--key", "d", "--"], "--key|d|--|"),
            (["--db", "other.db", "run", "--key", "e", "sh", "-c", "echo $0", "--db"], "--db\n"),
        ]
        for args, output in cases:
            with self.subTest(args=args):
                result = self.run_tool(*args)
                self.assertEqual((result.status, result.out), (0, output), result)
        self.assertStatus(self.run_tool("--db", "other.db", "show", "--key", "e"), 0)
        self.assertError(self.run_tool("run", "--key", "f", "--bogus", "echo"), 2, "--bogus")
        self.assertError(self.run_tool("run", "--key", "g"), 2)

    def test_unwritable_status_file_fails_before_running(self):
        result = self.run_tool("run", "--key", "u", "--status-file", "/nonexistent-dir/s.json", "--",
                               "sh", "-c", COUNTER)
        self.assertError(result, 73, "/nonexistent-dir/s.json")
        self.assertEqual(self.runs(), 0)
        self.assertStatus(self.run_tool("run", "--key", "u", "--", "sh", "-c", COUNTER), 0)

    @sqlite_only
    def test_busy_state_after_the_run_is_waited_out_not_75(self):
        # A process holds the writer lock when the command ends; a 75 here would make a retry
        # wrapper run the command twice, so idemkey waits (up to the lease) and stores it.
        db = self.path("s.db")
        script = (f"flock {db}.lock -c ': > locked; sleep 1' >/dev/null 2>&1 & "
                  "while [ ! -e locked ]; do sleep 0.01; done; echo done")
        result = self.run_tool("--db", db, "--busy-timeout", "100ms", "run", "--key", "b", "--",
                               "sh", "-c", script)
        self.assertEqual((result.status, result.out), (0, "done\n"))
        shown = json.loads(self.run_tool("--db", db, "show", "--key", "b").out)
        self.assertEqual(shown["state"], "completed")

    def test_child_environment(self):
        script = 'echo "$IDEMKEY_KEY $IDEMKEY_SCOPE $IDEMKEY_ATTEMPT $IDEMKEY_DOWNSTREAM_KEY"'
        result = self.run_tool("--scope", "pay", "run", "--key", "order-1", "--", "sh", "-c", script)
        key, scope, attempt, downstream = result.out.split()
        self.assertEqual((key, scope, attempt), ("order-1", "pay", "1"))
        self.assertRegex(downstream, r"^[0-9a-f]{32}$")
        other_scope = self.run_tool("--scope", "refund", "run", "--key", "order-1", "--", "sh", "-c", script)
        self.assertNotEqual(other_scope.out.split()[3], downstream)

    def test_release_on_exit_stores_nothing(self):
        script = "echo run >> counter.txt; exit 75"
        for _ in range(2):
            result = self.run_tool("run", "--key", "r", "--release-on-exit", "69,75", "--", "sh", "-c", script)
            self.assertStatus(result, 75)
        self.assertEqual(self.runs(), 2)
        self.assertStatus(self.run_tool("show", "--key", "r"), 1)

    def test_failures_are_saved_by_default(self):
        script = "echo run >> counter.txt; exit 75"
        for _ in range(2):
            self.assertStatus(self.run_tool("run", "--key", "f", "--", "sh", "-c", script), 75)
        self.assertEqual(self.runs(), 1)

    def test_ttl_expiry_counts_as_new(self):
        args = ["--ttl", "1h", "--", "sh", "-c", COUNTER]
        self.assertStatus(self.run_tool("--now", T0, "run", "--key", "t", *args), 0)
        self.assertStatus(self.run_tool("--now", "2026-03-01T12:59:59Z", "run", "--key", "t", *args), 0)
        self.assertEqual(self.runs(), 1)
        again = self.run_tool("--now", "2026-03-01T13:00:00Z", "run", "--key", "t", *args)
        self.assertEqual(again.out, "attempt 1\n")
        self.assertEqual(self.runs(), 2)

    def test_scopes_are_independent(self):
        self.assertStatus(self.run_tool("--scope", "a", "run", "--key", "k", "--", "sh", "-c", COUNTER), 0)
        self.assertStatus(self.run_tool("--scope", "b", "run", "--key", "k", "--", "sh", "-c", COUNTER + " "), 0)
        self.assertEqual(self.runs(), 2)

    def test_invalid_keys_are_usage_errors(self):
        for key in ["", "has space", "x" * 256, "caf\u00e9", "tab\there"]:
            result = self.run_tool("run", "--key", key, "--", "sh", "-c", COUNTER)
            self.assertError(result, 2, "invalid key")
        self.assertStatus(self.run_tool("run", "--key", "x" * 255, "--", "true"), 0)
        self.assertError(self.run_tool("--scope", "a b", "run", "--key", "k", "--", "true"), 2, "invalid scope")
        self.assertEqual(self.runs(), 0)

    def test_bad_option_values_are_usage_errors(self):
        self.assertError(self.run_tool("run", "--key", "k", "--ttl", "5", "--", "true"), 2, "--ttl")
        self.assertError(self.run_tool("run", "--key", "k", "--lease", "-5s", "--", "true"), 2, "--lease")
        self.assertError(self.run_tool("--now", "2026-02-30T00:00:00Z", "run", "--key", "k", "--", "true"), 2, "--now")
        self.assertError(self.run_tool("run", "--key", "k", "--release-on-exit", "x", "--", "true"), 2)
        self.assertError(self.run_tool("run", "--key", "k", "--max-output", "lots", "--", "true"), 2)
        self.assertError(self.run_tool("run", "--key", "k", "--env", "A=B", "--", "true"), 2, "--env")
        self.assertError(self.run_tool("run", "--key", "k", "--env", "", "--", "true"), 2, "--env")
        self.assertError(self.run_tool("list", "--format", "2"), 2, "--format")
        bell = self.run_tool("run", "--key", "a\x07b", "--", "true")
        self.assertError(bell, 2, 'invalid key "a\\u0007b"')

    def test_missing_and_unexecutable_commands_release_the_key(self):
        result = self.run_tool("run", "--key", "m", "--", "no-such-command-sluice")
        self.assertError(result, 127, "no-such-command-sluice: command not found")
        self.write("plain.sh", "echo hi\n")
        result = self.run_tool("run", "--key", "m2", "--", "./plain.sh")
        self.assertError(result, 126)
        self.assertStatus(self.run_tool("show", "--key", "m"), 1)
        self.assertStatus(self.run_tool("show", "--key", "m2"), 1)

    def test_output_over_the_limit_keeps_the_exit_status_and_never_runs_again(self):
        script = "head -c 2000 /dev/zero; echo run >> counter.txt; exit 3"
        first = self.run_tool("run", "--key", "o", "--max-output", "1KiB", "--status-file",
                              "s.json", "--", "sh", "-c", script)
        self.assertStatus(first, 3)
        self.assertEqual(first.stdout, b"\x00" * 2000)  # passed through live all the same
        self.assertEqual(first.err, "idemkey: warning: the output of key 'o' is larger than "
                         "--max-output (1024 bytes); only its exit status is stored\n")
        self.assertEqual(json.loads(self.read("s.json")),
                         {"key": "o", "scope": "default", "decision": "executed", "attempt": 1,
                          "exit": 3, "stored": True, "output_stored": False})
        shown = json.loads(self.run_tool("show", "--key", "o").out)
        self.assertEqual((shown["state"], shown["exit"], shown["stored_bytes"], shown["output_stored"]),
                         ("completed", 3, 0, False))
        again = self.run_tool("run", "--key", "o", "--max-output", "1KiB", "--status-file",
                              "s.json", "--", "sh", "-c", script)
        self.assertStatus(again, 3)
        self.assertEqual(again.stdout, b"")
        self.assertEqual(again.err, "idemkey: warning: key 'o' ran before (attempt 1, exit status "
                         "3) but its output was not stored; replaying the exit status only\n")
        self.assertEqual(json.loads(self.read("s.json"))["decision"], "replayed")
        self.assertEqual(json.loads(self.read("s.json"))["output_stored"], False)
        self.assertEqual(self.runs(), 1)

    @sqlite_only
    def test_state_file_is_private_and_default_path(self):
        self.run_tool("run", "--key", "k", "--", "true")
        path = os.path.join(self.dir, "state", "idemkey.db")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with sqlite3.connect(path) as connection:
            self.assertEqual(connection.execute("PRAGMA journal_mode").fetchone()[0], "wal")
            self.assertEqual(connection.execute("PRAGMA integrity_check").fetchone()[0], "ok")

    @sqlite_only
    def test_foreign_and_newer_state_files_are_refused_untouched(self):
        foreign = self.path("app.db")
        with sqlite3.connect(foreign) as connection:
            connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
        before = self.read("app.db")
        self.assertError(self.run_tool("--db", foreign, "run", "--key", "k", "--", "true"), 65,
                         "not a sluice state file")
        self.assertEqual(self.read("app.db"), before)
        self.run_tool("--db", self.path("s.db"), "run", "--key", "k", "--", "true")
        with sqlite3.connect(self.path("s.db")) as connection:
            connection.execute("UPDATE sluice_meta SET version = 99 WHERE component = 'idemkey'")
        self.assertError(self.run_tool("--db", self.path("s.db"), "run", "--key", "k", "--", "true"), 65,
                         "newer version")

    @sqlite_only
    def test_missing_state_file_for_read_commands_is_66(self):
        for args in (["show", "--key", "k"], ["list"], ["stats"], ["gc"], ["release", "--key", "k"]):
            self.assertError(self.run_tool("--db", self.path("none.db"), *args), 66, "does not exist")
        self.assertFalse(os.path.exists(self.path("none.db")))

    @sqlite_only
    def test_uncreatable_state_file_is_73(self):
        self.assertError(self.run_tool("--db", "/nonexistent/dir/s.db", "run", "--key", "k", "--", "true"), 73)


@on_both_backends
class IdemkeyLeases(ToolTestCase):
    tool = "idemkey"

    # Attempt 1 signals that it started and blocks on a FIFO until the test lets it go.
    BLOCKING = ('echo "$$" > child.pid; if [ "$IDEMKEY_ATTEMPT" = 1 ]; then : > started; '
                'read line < gate; fi; echo "attempt $IDEMKEY_ATTEMPT"')

    def setUp(self):
        super().setUp()
        os.mkfifo(self.path("gate"))

    def open_gate(self):
        with open(self.path("gate"), "w") as gate:
            gate.write("go\n")

    def kill_holder_then_child(self, holder):
        """A crash of the holder: idemkey dies first, so it never sees its child end (killed
        the other way round, a holder that wins the race records the child's 137 as done)."""
        holder.kill()
        holder.wait()
        os.kill(int(self.read("child.pid")), 9)

    def start_holder(self, *extra, lease="90s", command=None):
        command = command or ["sh", "-c", self.BLOCKING]
        holder = self.start_tool("--now", T0, "run", "--key", "L", "--lease", lease, *extra,
                                 "--", *command,
                                 stdout=subprocess_pipe(), stderr=subprocess_pipe())
        self.wait_for_file("started")
        return holder

    def test_live_lease_is_75_and_wait_replays(self):
        holder = self.start_holder()
        busy = self.run_tool("--now", T0, "run", "--key", "L", "--", "sh", "-c", self.BLOCKING)
        self.assertError(busy, 75, "in progress")
        # --wait right before "--": the "--" must still end the options.
        waiter = self.start_tool("--now", T0, "run", "--key", "L", "--status-file", "w.json", "--wait",
                                 "--", "sh", "-c", self.BLOCKING,
                                 stdout=subprocess_pipe(), stderr=subprocess_pipe())
        self.open_gate()
        out, _ = holder.communicate(timeout=30)
        self.assertEqual((holder.returncode, out), (0, b"attempt 1\n"))
        waited_out, _ = waiter.communicate(timeout=30)
        self.assertEqual((waiter.returncode, waited_out), (0, b"attempt 1\n"))
        self.assertEqual(json.loads(self.read("w.json"))["decision"], "replayed")

    def test_wait_with_a_limit_gives_up_with_75(self):
        holder = self.start_holder()
        result = self.run_tool("--now", T0, "run", "--key", "L", "--wait=200ms", "--", "sh", "-c", self.BLOCKING)
        self.assertError(result, 75)
        self.open_gate()
        holder.communicate(timeout=30)

    def test_live_holder_past_its_lease_is_not_taken_over_on_this_host(self):
        # Its lease expired (here through --now; a stopped process or a clock that jumped in
        # life), but the holder and its command are alive and hold the key's run lock. (A
        # holder on another host sharing the state is seen only through its lease; the tool test
        # IdemkeyStore.StolenLeaseRejectsTheLateFinisher covers what its late finish then does.)
        holder = self.start_holder("--status-file", "holder.json")
        thief = self.run_tool("--now", "2026-03-01T12:01:31Z", "run", "--key", "L", "--",
                              "sh", "-c", self.BLOCKING)
        self.assertError(thief, 75, "is still running")
        self.assertEqual(thief.stdout, b"")
        self.open_gate()
        out, _ = holder.communicate(timeout=30)
        self.assertEqual((holder.returncode, out), (0, b"attempt 1\n"))
        self.assertEqual(json.loads(self.read("holder.json"))["stored"], True)
        replay = self.run_tool("--now", "2026-03-01T12:02:00Z", "run", "--key", "L", "--",
                               "sh", "-c", self.BLOCKING)
        self.assertEqual(replay.out, "attempt 1\n")

    def test_sigkilled_holder_is_stolen_with_attempt_2(self):
        holder = self.start_holder()
        self.kill_holder_then_child(holder)
        still_live = self.run_tool("--now", "2026-03-01T12:01:29Z", "run", "--key", "L", "--",
                                   "sh", "-c", self.BLOCKING)
        self.assertStatus(still_live, 75)
        thief = self.run_tool("--now", "2026-03-01T12:01:30Z", "run", "--key", "L", "--",
                              "sh", "-c", self.BLOCKING)
        self.assertEqual((thief.status, thief.out), (0, "attempt 2\n"))
        shown = json.loads(self.run_tool("--now", "2026-03-01T12:02:00Z", "show", "--key", "L").out)
        self.assertEqual((shown["state"], shown["attempt"], shown["exit"]), ("completed", 2, 0))

    def test_stale_fail_needs_a_release(self):
        holder = self.start_holder()
        self.kill_holder_then_child(holder)
        later = "2026-03-01T13:00:00Z"
        refused = self.run_tool("--now", later, "run", "--key", "L", "--stale", "fail", "--",
                                "sh", "-c", self.BLOCKING)
        self.assertError(refused, 75, "idemkey release --key L")
        released = self.run_tool("release", "--key", "L")
        self.assertEqual(json.loads(released.out), {"key": "L", "released": True})
        again = self.run_tool("--now", later, "run", "--key", "L", "--stale", "fail", "--",
                              "sh", "-c", "echo fresh")
        self.assertEqual((again.status, again.out), (0, "fresh\n"))

    def wait_until_gone(self, pid, timeout=30):
        deadline = time.monotonic() + timeout
        while os.path.exists(f"/proc/{pid}") and not self.is_zombie(pid):
            if time.monotonic() > deadline:
                self.fail(f"process {pid} did not end within {timeout}s")
            time.sleep(0.01)

    @staticmethod
    def is_zombie(pid):
        try:
            with open(f"/proc/{pid}/stat") as stat_file:
                return stat_file.read().rsplit(")", 1)[1].split()[0] == "Z"
        except FileNotFoundError:
            return True

    def test_sigkilled_holder_whose_command_still_runs_is_never_run_twice(self):
        # The scenario: --lease 1s, idemkey SIGKILLed while its command runs, a rerun
        # after the lease expired. The orphaned command holds the key's run lock.
        holder = self.start_holder(lease="1s")
        holder.kill()
        holder.wait()
        after_lease = "2026-03-01T12:00:01.500Z"
        rerun = self.run_tool("--now", after_lease, "run", "--key", "L", "--lease", "1s", "--",
                              "sh", "-c", self.BLOCKING)
        self.assertError(rerun, 75, "key 'L' is in progress (attempt 1): its lease expired at "
                         "2026-03-01T12:00:01Z, but its command is still running")
        self.assertEqual(rerun.stdout, b"")
        stale_fail = self.run_tool("--now", after_lease, "run", "--key", "L", "--stale", "fail",
                                   "--", "sh", "-c", self.BLOCKING)
        self.assertStatus(stale_fail, 75)
        # A waiter takes the key over once the whole tree has ended, as attempt 2.
        waiter = self.start_tool("--now", after_lease, "run", "--key", "L", "--wait", "--",
                                 "sh", "-c", self.BLOCKING, stdout=subprocess_pipe(),
                                 stderr=subprocess_pipe())
        orphan = int(self.read("child.pid"))
        self.open_gate()
        self.wait_until_gone(orphan)
        out, _ = waiter.communicate(timeout=30)
        self.assertEqual((waiter.returncode, out), (0, b"attempt 2\n"))

    def test_command_that_outlived_a_completed_attempt_blocks_a_rerun_of_the_released_key(self):
        # The daemon keeps no output pipe (idemkey would wait for it), only the run lock.
        script = ("sh -c 'echo $$ > daemon.pid; exec sleep 30' >/dev/null 2>&1 & "
                  "while [ ! -s daemon.pid ]; do sleep 0.01; done")
        self.assertStatus(self.run_tool("run", "--key", "D", "--", "sh", "-c", script), 0)
        daemon = int(self.read("daemon.pid"))
        try:
            self.assertStatus(self.run_tool("release", "--key", "D"), 0)
            blocked = self.run_tool("run", "--key", "D", "--", "sh", "-c", "echo second")
            self.assertError(blocked, 75, "a process of an earlier attempt is still running")
        finally:
            os.kill(daemon, 9)
        self.wait_until_gone(daemon)
        second = self.run_tool("run", "--key", "D", "--", "sh", "-c", "echo second")
        self.assertEqual((second.status, second.out), (0, "second\n"))

    def test_second_sigterm_ends_idemkey_when_the_child_ignores_the_first(self):
        holder = self.start_tool("run", "--key", "stubborn", "--", "sh", "-c",
                                 "trap '' TERM; echo $$ > child.pid; : > started; "
                                 "while :; do sleep 0.05; done",
                                 stdout=subprocess_pipe(), stderr=subprocess_pipe())
        self.wait_for_file("started")
        try:
            holder.terminate()
            with self.assertRaises(Exception):
                holder.wait(timeout=0.5)  # forwarded and ignored: still supervising
            holder.terminate()
            holder.wait(timeout=30)
            self.assertEqual(holder.returncode, -15)
        finally:
            os.kill(int(self.read("child.pid")), 9)

    def test_sigterm_is_forwarded_and_releases_the_key(self):
        holder = self.start_holder()
        holder.terminate()
        holder.communicate(timeout=30)
        self.assertEqual(holder.returncode, 128 + 15)
        self.assertStatus(self.run_tool("show", "--key", "L"), 1)

    def test_sigterm_keeps_the_key_while_part_of_the_command_still_runs(self):
        # The command's shell dies of the forwarded SIGTERM, but a process it started ignores
        # it and could still finish the work: the key must not be released for a rerun.
        command = ["sh", "-c",
                   "sh -c 'trap \"\" TERM; echo $$ > grandchild.pid; exec sleep 30' & "
                   "while [ ! -s grandchild.pid ]; do sleep 0.01; done; : > started; wait"]
        holder = self.start_tool("run", "--key", "G", "--", *command,
                                 stdout=subprocess_pipe(), stderr=subprocess_pipe())
        self.wait_for_file("started")
        try:
            holder.terminate()
            _, err = holder.communicate(timeout=30)
            self.assertEqual(holder.returncode, 128 + 15)
            self.assertEqual(err.decode(), "idemkey: warning: interrupted, but some of the "
                             "command's processes are still running; key 'G' stays in progress "
                             "while they run\n")
            shown = self.run_tool("show", "--key", "G")
            self.assertStatus(shown, 0)
            self.assertIn('"state":"in_progress"', shown.out)
            # Past its lease too: the surviving process holds the key's run lock.
            later = self.run_tool("--now", "2099-01-01T00:00:00Z", "run", "--key", "G", "--",
                                  *command)
            self.assertError(later, 75, "still running")
            self.assertEqual(later.stdout, b"")
        finally:
            os.kill(int(self.read("grandchild.pid")), 9)


class StateOnAServer(ToolTestCase):
    """Choosing a server: what is refused before anything connects, and what a server that
    cannot be reached is (no server is needed for these)."""
    tool = "idemkey"

    def test_a_password_in_a_db_url_is_2_and_never_shown(self):
        for url in ("postgresql://alice:s3cret@localhost/app", "postgres://localhost/app?password=s3cret"):
            with self.subTest(url=url):
                result = self.run_tool("--db", url, "run", "--key", "k", "--", "sh", "-c", COUNTER)
                self.assertError(result, 2, "--db: the URL carries a password", "~/.pgpass")
                self.assertNotIn("s3cret", result.err)
                self.assertEqual(self.runs(), 0)

    def runs(self):
        return self.read("counter.txt").count(b"run") if os.path.exists(self.path("counter.txt")) else 0

    def test_an_unreachable_server_is_69_and_runs_nothing(self):
        url = f"postgresql:///app?host={self.path('no-server-here')}&connect_timeout=2"
        result = self.run_tool("--db", url, "run", "--key", "k", "--", "sh", "-c", COUNTER)
        self.assertError(result, 69, "cannot connect to postgresql:///app")
        self.assertEqual(self.runs(), 0)

    def test_sluice_state_url_must_be_a_server_url(self):
        env = dict(self.env, SLUICE_STATE_URL="state.db")
        self.assertError(self.run_tool("show", "--key", "k", env=env), 2,
                         "SLUICE_STATE_URL: 'state.db' is not a postgresql:// URL")

    def test_tools_that_keep_files_refuse_a_url_and_ignore_sluice_state_url(self):
        for tool, args in (("cohort", ["report"]), ("zscore", ["detect"]),
                           ("reindex", ["status"])):
            with self.subTest(tool=tool):
                refused = self.run_tool(*args, "--db", "postgresql:///x", tool=tool)
                self.assertStatus(refused, 2)
                self.assertEqual(refused.err.splitlines()[0],
                                 f"{tool}: error: --db: {tool} keeps its state in SQLite files, "
                                 "not on a server")
        env = dict(self.env, SLUICE_STATE_URL="postgresql:///x?host=/nonexistent")
        self.write("events.jsonl", '{"user":"u","ts":"2026-03-02T10:00:00Z","event":"open"}\n')
        result = self.run_tool("ingest", "events.jsonl", env=env, tool="cohort")
        self.assertStatus(result, 0)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "state", "cohort.db")))


class IdemkeyFullDisk(ToolTestCase):
    """The state file on a 1 MiB tmpfs that the command itself fills: once a command has run,
    its exit status is kept whatever happens to its output, and when not even that can be
    saved idemkey says so with exit 74 and leaves the key in progress (never released)."""

    tool = "idemkey"

    def setUp(self):
        super().setUp()
        self.disk = self.path("disk")
        os.mkdir(self.disk)
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        mounted = subprocess_run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", self.disk])
        if mounted.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs: {mounted.stderr!r}")
        self.addCleanup(subprocess_run, ["umount", "-l", self.disk])

    def fill_leaving(self, kib):
        """A shell fragment that fills the tmpfs up to `kib` KiB of free space."""
        return (f"avail=$(df -k --output=avail {self.disk} | tail -1); "
                f"dd if=/dev/zero of={self.disk}/fill bs=1k count=$((avail - {kib})) 2>/dev/null")

    def run_filling(self, key, kib):
        # Creates the state file first, so that the run itself only claims and completes.
        self.assertStatus(self.run_tool("--db", f"{self.disk}/k.db", "run", "--key", "init", "--", "true"), 0)
        return self.run_tool("--db", f"{self.disk}/k.db", "run", "--key", key, "--", "sh", "-c",
                             self.filling_script(kib))

    def filling_script(self, kib):
        return f"head -c 300000 /dev/zero; {self.fill_leaving(kib)}; echo run >> counter.txt"

    def show(self, key):
        return json.loads(self.run_tool("--db", f"{self.disk}/k.db", "show", "--key", key).out)

    def test_output_that_does_not_fit_leaves_the_exit_status_stored(self):
        result = self.run_filling("f", 48)
        self.assertStatus(result, 0)
        self.assertEqual(len(result.stdout), 300000)
        self.assertIn("idemkey: warning: could not store the output of key 'f': ", result.err)
        self.assertIn("stored its exit status alone", result.err)
        shown = self.show("f")
        self.assertEqual((shown["state"], shown["exit"], shown["output_stored"]), ("completed", 0, False))
        os.remove(f"{self.disk}/fill")
        again = self.run_tool("--db", f"{self.disk}/k.db", "run", "--key", "f", "--", "sh", "-c",
                              self.filling_script(48))
        self.assertStatus(again, 0)
        self.assertIn("its output was not stored; replaying the exit status only", again.err)
        self.assertEqual(self.read("counter.txt"), b"run\n")

    def test_a_run_whose_status_cannot_be_saved_is_74_and_keeps_the_key(self):
        result = self.run_filling("g", 0)
        self.assertError(result, 74, "the command ran (exit status 0) but its outcome could not be "
                         "saved", "key 'g' stays in progress", "idemkey release --key g")
        os.remove(f"{self.disk}/fill")
        self.assertEqual(self.show("g")["state"], "in_progress")
        again = self.run_tool("--db", f"{self.disk}/k.db", "run", "--key", "g", "--", "sh", "-c",
                              self.filling_script(0))
        self.assertError(again, 75, "in progress")
        self.assertEqual(self.read("counter.txt"), b"run\n")


@on_both_backends
@also_through_pgbouncer
class IdemkeyLowLevel(ToolTestCase):
    tool = "idemkey"

    def test_begin_finish_replay(self):
        begun = self.run_tool("--now", T0, "begin", "--key", "p", "--fingerprint", "ABC123")
        self.assertStatus(begun, 0)
        record = json.loads(begun.out)
        self.assertEqual((record["decision"], record["attempt"]), ("proceed", 1))
        self.assertError(self.run_tool("--now", T0, "begin", "--key", "p", "--fingerprint", "abc123"), 75)
        self.assertError(self.run_tool("--now", T0, "begin", "--key", "p", "--fingerprint", "ff"), 65)
        self.assertError(self.run_tool("finish", "--key", "p", "--token", "stale", "--status", "0"), 65)
        finished = self.run_tool("finish", "--key", "p", "--token", record["token"], "--status", "0",
                                 "--response-file", "-", stdin='{"charge":"ch_1"}')
        self.assertStatus(finished, 0)
        replay = self.run_tool("begin", "--key", "p", "--fingerprint", "abc123")
        self.assertStatus(replay, 1)
        self.assertEqual(json.loads(replay.out),
                         {"decision": "replay", "key": "p", "status": 0, "response": '{"charge":"ch_1"}',
                          "output_stored": True})
        self.assertError(self.run_tool("finish", "--key", "p", "--token", record["token"], "--status", "0"), 65)

    def test_binary_response_replays_as_base64(self):
        token = json.loads(self.run_tool("begin", "--key", "b", "--fingerprint", "aa").out)["token"]
        self.write("resp.bin", b"\xff\x00ok")
        self.assertStatus(self.run_tool("finish", "--key", "b", "--token", token, "--status", "3",
                                        "--response-file", "resp.bin"), 0)
        replay = self.run_tool("begin", "--key", "b", "--fingerprint", "aa")
        self.assertEqual(json.loads(replay.out),
                         {"decision": "replay", "key": "b", "status": 3, "response_base64": "/wBvaw==",
                          "output_stored": True})

    def test_every_keyed_subcommand_validates_the_key(self):
        for args in (["begin", "--key", "", "--fingerprint", "aa"], ["show", "--key", "a b"],
                     ["release", "--key", ""], ["finish", "--key", "", "--token", "t", "--status", "0"]):
            self.assertError(self.run_tool(*args), 2, "invalid key")
        self.assertError(self.run_tool("begin", "--key", "k", "--fingerprint", "aa", "--lease", "0"), 2,
                         "--lease")
        self.assertError(self.run_tool("run", "--key", "k", "--lease", "500ms", "--", "true"), 2,
                         "--lease must be at least 1s")
        self.assertError(self.run_tool("run", "--key", "k", "--ttl", "36501d", "--", "true"), 2, "--ttl")

    def test_list_and_stats_cover_every_scope_unless_one_is_named(self):
        for scope in ("a", "b"):
            self.run_tool("--scope", scope, "run", "--key", "k", "--", "true")
        self.assertEqual(len(self.run_tool("list").out.splitlines()), 2)
        self.assertEqual(len(self.run_tool("--scope", "a", "list").out.splitlines()), 1)
        self.assertEqual(json.loads(self.run_tool("stats").out)["keys"], 2)
        self.assertEqual(json.loads(self.run_tool("stats", "--scope", "b").out)["keys"], 1)

    def test_begin_rejects_bad_fingerprints(self):
        self.assertError(self.run_tool("begin", "--key", "p", "--fingerprint", "xyz"), 2, "--fingerprint")

    def test_release_with_wrong_token_is_65(self):
        token = json.loads(self.run_tool("begin", "--key", "p", "--fingerprint", "aa").out)["token"]
        self.assertError(self.run_tool("release", "--key", "p", "--token", "nope"), 65)
        self.assertEqual(json.loads(self.run_tool("release", "--key", "p", "--token", token).out),
                         {"key": "p", "released": True})
        self.assertEqual(json.loads(self.run_tool("release", "--key", "p").out),
                         {"key": "p", "released": False})

    def test_show_list_stats_gc(self):
        for index, ttl in enumerate(["1h", "1h", "48h"]):
            self.run_tool("--now", T0, "run", "--key", f"k{index}", "--ttl", ttl, "--", "echo", str(index))
        self.run_tool("--now", T0, "begin", "--key", "open", "--fingerprint", "aa")
        later = "2026-03-01T14:00:00Z"
        shown = json.loads(self.run_tool("--now", later, "show", "--key", "k0").out)
        self.assertEqual(list(shown), ["scope", "key", "state", "attempt", "fingerprint", "created_at",
                                       "lease_until", "completed_at", "expires_at", "exit", "stored_bytes",
                                       "output_stored"])
        self.assertEqual((shown["state"], shown["created_at"], shown["expires_at"], shown["stored_bytes"]),
                         ("expired", T0, "2026-03-01T13:00:00Z", 2))
        listed = [json.loads(line) for line in self.run_tool("--now", later, "list").out.splitlines()]
        self.assertEqual([row["key"] for row in listed], ["k0", "k1", "k2", "open"])
        expired = self.run_tool("--now", later, "list", "--state", "expired").out.splitlines()
        self.assertEqual(len(expired), 2)
        stats = json.loads(self.run_tool("--now", later, "stats").out)
        self.assertEqual(stats, {"keys": 4, "in_progress": 1, "completed": 1, "expired": 2, "stored_bytes": 6})
        self.assertEqual(json.loads(self.run_tool("--now", later, "gc").out), {"deleted": 2})
        self.assertEqual(json.loads(self.run_tool("--now", later, "stats").out)["keys"], 2)
        csv = self.run_tool("--now", later, "list", "--format", "csv").out
        self.assertTrue(csv.startswith("scope,key,state,attempt,"))
        table = self.run_tool("--now", later, "stats", "--format", "table").out
        self.assertEqual(table.splitlines()[1].split(), ["2", "1", "1", "0", "2"])

    def test_show_unknown_key_is_1(self):
        self.run_tool("run", "--key", "k", "--", "true")
        self.assertError(self.run_tool("show", "--key", "other"), 1, "no key 'other'")


def subprocess_run(argv):
    import subprocess
    return subprocess.run(argv, capture_output=True)


def subprocess_pipe():
    import subprocess
    return subprocess.PIPE


if __name__ == "__main__":
    unittest.main()
