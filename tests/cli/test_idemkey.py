"""idemkey run/begin/finish/release/show/list/gc/stats: every documented scenario and status."""

import json
import os
import sqlite3
import stat
import unittest

from sluice_cli import ToolTestCase

T0 = "2026-03-01T12:00:00Z"
COUNTER = 'echo run >> counter.txt; echo "attempt $IDEMKEY_ATTEMPT"'


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
                          "exit": 7, "stored": True})
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

    def test_unwritable_status_file_fails_before_running(self):
        result = self.run_tool("run", "--key", "u", "--status-file", "/nonexistent-dir/s.json", "--",
                               "sh", "-c", COUNTER)
        self.assertError(result, 73, "/nonexistent-dir/s.json")
        self.assertEqual(self.runs(), 0)
        self.assertStatus(self.run_tool("run", "--key", "u", "--", "sh", "-c", COUNTER), 0)

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

    def test_output_over_the_limit_releases_the_key(self):
        script = "head -c 100 /dev/zero; echo run >> counter.txt"
        result = self.run_tool("run", "--key", "o", "--max-output", "10", "--", "sh", "-c", script)
        self.assertError(result, 73, "--max-output")
        self.assertEqual(result.stdout, b"\x00" * 100)  # passed through live all the same
        self.assertStatus(self.run_tool("show", "--key", "o"), 1)
        ok = self.run_tool("run", "--key", "o2", "--max-output", "100", "--", "sh", "-c", script)
        self.assertStatus(ok, 0)

    def test_state_file_is_private_and_default_path(self):
        self.run_tool("run", "--key", "k", "--", "true")
        path = os.path.join(self.dir, "state", "idemkey.db")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with sqlite3.connect(path) as connection:
            self.assertEqual(connection.execute("PRAGMA journal_mode").fetchone()[0], "wal")
            self.assertEqual(connection.execute("PRAGMA integrity_check").fetchone()[0], "ok")

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

    def test_missing_state_file_for_read_commands_is_66(self):
        for args in (["show", "--key", "k"], ["list"], ["stats"], ["gc"], ["release", "--key", "k"]):
            self.assertError(self.run_tool("--db", self.path("none.db"), *args), 66, "does not exist")
        self.assertFalse(os.path.exists(self.path("none.db")))

    def test_uncreatable_state_file_is_73(self):
        self.assertError(self.run_tool("--db", "/nonexistent/dir/s.db", "run", "--key", "k", "--", "true"), 73)


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

    def start_holder(self, *extra):
        holder = self.start_tool("--now", T0, "run", "--key", "L", "--lease", "90s", *extra,
                                 "--", "sh", "-c", self.BLOCKING,
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

    def test_expired_lease_is_stolen_and_the_late_finisher_is_rejected(self):
        holder = self.start_holder("--status-file", "late.json")
        thief = self.run_tool("--now", "2026-03-01T12:01:31Z", "run", "--key", "L", "--",
                              "sh", "-c", self.BLOCKING)
        self.assertEqual((thief.status, thief.out), (0, "attempt 2\n"))
        self.open_gate()
        out, err = holder.communicate(timeout=30)
        self.assertEqual((holder.returncode, out), (0, b"attempt 1\n"))
        self.assertIn(b"was not stored", err)
        self.assertEqual(json.loads(self.read("late.json"))["stored"], False)
        replay = self.run_tool("--now", "2026-03-01T12:02:00Z", "run", "--key", "L", "--",
                               "sh", "-c", self.BLOCKING)
        self.assertEqual(replay.out, "attempt 2\n")

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
        holder = self.start_tool(
            "run", "--key", "G", "--", "sh", "-c",
            "sh -c 'trap \"\" TERM; echo $$ > grandchild.pid; exec sleep 30' & "
            "while [ ! -s grandchild.pid ]; do sleep 0.01; done; : > started; wait",
            stdout=subprocess_pipe(), stderr=subprocess_pipe())
        self.wait_for_file("started")
        try:
            holder.terminate()
            _, err = holder.communicate(timeout=30)
            self.assertEqual(holder.returncode, 128 + 15)
            self.assertEqual(err.decode(), "idemkey: warning: interrupted, but some of the "
                             "command's processes are still running; key 'G' stays in progress "
                             "until its lease expires\n")
            shown = self.run_tool("show", "--key", "G")
            self.assertStatus(shown, 0)
            self.assertIn('"state":"in_progress"', shown.out)
        finally:
            os.kill(int(self.read("grandchild.pid")), 9)


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
                         {"decision": "replay", "key": "p", "status": 0, "response": '{"charge":"ch_1"}'})
        self.assertError(self.run_tool("finish", "--key", "p", "--token", record["token"], "--status", "0"), 65)

    def test_binary_response_replays_as_base64(self):
        token = json.loads(self.run_tool("begin", "--key", "b", "--fingerprint", "aa").out)["token"]
        self.write("resp.bin", b"\xff\x00ok")
        self.assertStatus(self.run_tool("finish", "--key", "b", "--token", token, "--status", "3",
                                        "--response-file", "resp.bin"), 0)
        replay = self.run_tool("begin", "--key", "b", "--fingerprint", "aa")
        self.assertEqual(json.loads(replay.out),
                         {"decision": "replay", "key": "b", "status": 3, "response_base64": "/wBvaw=="})

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
                                       "lease_until", "completed_at", "expires_at", "exit", "stored_bytes"])
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


def subprocess_pipe():
    import subprocess
    return subprocess.PIPE


if __name__ == "__main__":
    unittest.main()
