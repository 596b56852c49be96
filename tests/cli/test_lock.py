"""lock: leases, fencing tokens, lock run, break, fence, waits, --local: every documented status."""

import datetime
import json
import os
import signal
import subprocess
import time
import unittest

from sluice_cli import ToolTestCase, on_both_backends, tool_path

T0 = "2026-03-01T12:00:00Z"
TABLES = ["lock_names", "lock_holders", "lock_breaks", "lock_waits"]


def at(seconds):
    """T0 plus `seconds`, as --now takes it."""
    base = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
    return (base + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_until(predicate, timeout=30):
    """Waits for an event, not for time to pass."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def process_state(pid):
    """The state letter of /proc/PID/stat ("R", "S", "T" stopped, "Z" zombie), or "" when the
    process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return ""


def kill_process(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def process_stopped(pid):
    return process_state(pid) == "T"


def process_ended(pid):
    return process_state(pid) in ("", "Z")


@on_both_backends
class LockLease(ToolTestCase):
    tool = "lock"

    def lock(self, *args, **kwargs):
        return self.run_tool(*args, **kwargs)

    def acquire(self, name, seconds=0, ttl="10s", *extra):
        result = self.lock("--now", at(seconds), "acquire", name, "--ttl", ttl, *extra)
        self.assertStatus(result, 0)
        return json.loads(result.out)

    def dump(self):
        return self.state_dump(self.state_location(), TABLES)

    def state_location(self):
        return self.env.get("SLUICE_STATE_URL") or os.path.join(self.env["SLUICE_STATE_DIR"],
                                                                "lock.db")

    def test_help_is_0_and_bad_flag_is_2(self):
        self.assertStatus(self.lock("--help"), 0)
        self.assertStatus(self.lock("run", "--help"), 0)
        self.assertError(self.lock("acquire", "a", "--bogus"), 2, "--bogus")
        self.assertError(self.lock(), 2)
        self.assertRegex(self.lock("--version").out, r"^lock \d+\.\d+\.\d+ ")

    def test_acquire_prints_name_token_expiry_and_a_second_acquire_is_75(self):
        first = self.acquire("db-migrate", 0, "30s", "--owner", "job-1")
        self.assertEqual(first, {"name": "db-migrate", "token": 1, "expires": at(30),
                                 "owner": "job-1", "mode": "exclusive"})
        second = self.lock("--now", at(29), "acquire", "db-migrate", "--ttl", "30s", "--nonblock")
        self.assertError(second, 75, "lock 'db-migrate' is held by job-1 (token 1, exclusive, "
                                     f"until {at(30)})")
        self.assertEqual(second.out, "")

    def test_tokens_grow_across_expiry_release_break_and_never_repeat(self):
        tokens = [self.acquire("t", 0)["token"]]
        tokens.append(self.acquire("t", 11)["token"])  # the first expired at 10
        self.assertStatus(self.lock("--now", at(11), "release", "t", "--token", str(tokens[-1])),
                         0)
        tokens.append(self.acquire("t", 12)["token"])
        self.assertStatus(self.lock("--now", at(13), "break", "t", "--force"), 0)
        tokens.append(self.acquire("t", 14)["token"])
        self.assertEqual(tokens, [1, 2, 3, 4])
        # Each name counts on its own.
        self.assertEqual(self.acquire("other", 14)["token"], 1)
        self.assertEqual(self.state_rows(self.state_location(),
                                         "SELECT name, last_token FROM lock_names ORDER BY name"),
                         [("other", "1"), ("t", "4")])

    def test_renew_extends_a_live_lease_and_refuses_a_lost_one_with_1(self):
        token = str(self.acquire("r", 0)["token"])
        renewed = self.lock("--now", at(5), "renew", "r", "--token", token, "--ttl", "20s")
        self.assertStatus(renewed, 0)
        self.assertEqual(json.loads(renewed.out), {"name": "r", "token": 1, "expires": at(25)})
        self.assertStatus(self.lock("--now", at(20), "acquire", "r", "--ttl", "1s", "-n"), 75)
        before = self.dump()
        late = self.lock("--now", at(26), "renew", "r", "--token", token)
        self.assertError(late, 1, "token 1 does not hold lock 'r'", "nothing changed")
        self.assertEqual(self.dump(), before)
        self.assertError(self.lock("--now", at(5), "renew", "r", "--token", "9"), 1)

    def test_release_with_a_stale_token_changes_nothing_and_says_so(self):
        self.acquire("s", 0)
        self.acquire("s", 11)  # token 2 took over from the expired token 1
        before = self.dump()
        stale = self.lock("release", "s", "--token", "1")
        self.assertStatus(stale, 1)
        self.assertEqual(json.loads(stale.out), {"name": "s", "token": 1, "released": False})
        self.assertIn("lock: warning: token 1 does not hold lock 's'", stale.err)
        self.assertIn("nothing changed", stale.err)
        self.assertEqual(self.dump(), before)
        released = self.lock("--now", at(12), "release", "s", "--token", "2")
        self.assertStatus(released, 0)
        self.assertEqual(json.loads(released.out), {"name": "s", "token": 2, "released": True})

    def test_release_of_an_expired_lease_is_1_even_before_it_is_taken_over(self):
        # The holder must learn that it did not hold the lock to the end.
        self.acquire("e", 0)
        before = self.dump()
        late = self.lock("--now", at(10), "release", "e", "--token", "1")
        self.assertStatus(late, 1)
        self.assertEqual(json.loads(late.out), {"name": "e", "token": 1, "released": False})
        self.assertIn("token 1 does not hold lock 'e' (released, broken, expired or taken over)",
                      late.err)
        self.assertEqual(self.dump(), before)

    def test_status_shows_held_expired_and_free_and_the_last_break(self):
        self.acquire("a", 0, "10s", "--owner", "one")
        self.acquire("b", 0, "5s", "--owner", "two")
        self.acquire("c", 0)
        self.assertStatus(self.lock("--now", at(1), "break", "c", "--force", "--owner", "ops"), 0)
        result = self.lock("--now", at(6), "status")
        self.assertStatus(result, 0)
        rows = [json.loads(line) for line in result.out.splitlines()]
        self.assertEqual([(r["name"], r["state"], r["token"], r["owner"]) for r in rows],
                         [("a", "held", 1, "one"), ("b", "expired", 1, "two"),
                          ("c", "free", None, None)])
        self.assertEqual(rows[2]["broken_by"], "ops")
        self.assertEqual(rows[2]["broken_at"], at(1))
        self.assertEqual(rows[0]["expires"], at(10))
        one = self.lock("--now", at(6), "status", "a", "--format", "csv")
        self.assertEqual(one.out.splitlines()[0],
                         "name,state,mode,token,owner,acquired_at,expires,last_token,fenced,"
                         "broken_by,broken_at")
        unknown = self.lock("status", "never-used")
        self.assertEqual(json.loads(unknown.out)["state"], "free")

    def test_status_and_waits_of_missing_state_are_66(self):
        if self.backend != "sqlite":
            self.skipTest("a server schema is created by the first command")
        self.assertStatus(self.lock("status"), 66)
        self.assertStatus(self.lock("waits"), 66)

    def test_break_needs_force_and_records_who_and_when(self):
        self.acquire("b", 0, "1h", "--owner", "stuck-job")
        before = self.dump()
        self.assertError(self.lock("break", "b"), 2, "--force")
        self.assertEqual(self.dump(), before)
        broken = self.lock("--now", at(60), "break", "b", "--force", "--owner", "alice")
        self.assertStatus(broken, 0)
        self.assertEqual(json.loads(broken.out),
                         {"name": "b", "broken": [1], "by": "alice", "at": at(60)})
        self.assertEqual(self.state_rows(self.state_location(),
                                         "SELECT name, token, owner, broken_by FROM lock_breaks"),
                         [("b", "1", "stuck-job", "alice")])
        self.assertEqual(self.acquire("b", 61)["token"], 2)

    def test_fence_accepts_the_highest_token_seen_and_refuses_older_ones_with_1(self):
        def fence(token):
            return self.lock("fence", "f", "--token", str(token))
        for grant in range(5):
            self.acquire("f", 10 * grant)  # tokens 1 to 5, each after the last expired
        self.assertEqual(json.loads(fence(3).out),
                         {"name": "f", "token": 3, "accepted": True, "highest": 3})
        self.assertStatus(fence(3), 0)  # the same holder writes again
        self.assertStatus(fence(5), 0)
        refused = fence(4)
        self.assertStatus(refused, 1)
        self.assertEqual(json.loads(refused.out),
                         {"name": "f", "token": 4, "accepted": False, "highest": 5})
        self.assertIn("token 4 of lock 'f' is older than token 5", refused.err)

    def test_fence_refuses_a_token_never_handed_out_and_changes_nothing(self):
        # Accepted, a mistyped or forged high token would lock every real holder out.
        self.acquire("f", 0)
        before = self.dump()
        for name, token, last in (("f", 2, 1), ("f", 999999999, 1), ("never-used", 1, 0)):
            with self.subTest(name=name, token=token):
                forged = self.lock("fence", name, "--token", str(token))
                self.assertStatus(forged, 1)
                self.assertEqual(json.loads(forged.out), {"name": name, "token": token,
                                                          "accepted": False, "highest": 0})
                self.assertIn(f"token {token} of lock '{name}' was never handed out "
                              f"(the last is {last}): refused", forged.err)
        self.assertEqual(self.dump(), before)
        self.assertStatus(self.lock("fence", "f", "--token", "1"), 0)

    def test_bad_input_is_2_with_the_reason_and_changes_nothing(self):
        self.acquire("ok", 0)
        before = self.dump()
        cases = [
            (("acquire", "x", "--ttl", "0s"), "--ttl must be longer than 0"),
            (("acquire", "x", "--ttl", "-5s"), "--ttl"),
            (("acquire", "x", "--ttl", "soon"), "--ttl"),
            (("acquire", "bad\x01name", "--ttl", "5s"), 'invalid lock name "bad\\u0001name"'),
            (("acquire", "tab\tname", "--ttl", "5s"), "invalid lock name"),
            (("acquire", "", "--ttl", "5s"), "invalid lock name"),
            (("release", "ok", "--token", "x"), "--token: 'x' is not a token"),
            (("release", "ok", "--token", "0"), "is not a token"),
            (("release", "ok", "--token", "-1"), "is not a token"),
            (("release", "ok", "--token", "1e3"), "is not a token"),
            (("renew", "ok", "--token", "1", "--ttl", "0s"), "--ttl must be longer than 0"),
            (("fence", "ok", "--token", "99999999999999999999"), "is not a token"),
            (("release", "ok"), "--token"),
            (("run", "ok", "--ttl", "3s", "--renew-every", "3s", "--", "true"),
             "--renew-every (3s) must be longer than 0 and shorter than --ttl (3s)"),
            (("run", "ok", "--ttl", "0s", "--", "true"), "--ttl must be longer than 0"),
            (("run", "ok", "--wait", "1s", "--nonblock", "--", "true"), "excludes"),
            (("run", "ok"), "no command given"),
            (("run", "--", "true"), "no lock named"),
            (("run", "a-b", "a.b", "--", "true"), "would both set LOCK_TOKEN_A_B"),
            (("run", "bad\x7fname", "--", "true"), "invalid lock name"),
            (("--local", "acquire", "x", "--ttl", "5s"), "--local"),
        ]
        for args, fragment in cases:
            with self.subTest(args=args):
                self.assertError(self.lock(*args), 2, fragment)
        self.assertEqual(self.dump(), before)

    def test_run_passes_tokens_in_the_environment_and_the_status_through(self):
        script = 'echo "$LOCK_TOKEN|$LOCK_TOKEN_B|$LOCK_TOKEN_MY_LOCK_X_2"; exit 7'
        self.acquire("b", 0, "1s")  # b's next token is 2
        result = self.lock("run", "my-lock.x/2", "b", "b", "--ttl", "5s", "--", "sh", "-c",
                           script)
        self.assertStatus(result, 7)
        # Canonical order: "b" sorts before "my-lock.x/2".
        self.assertEqual(result.out, "2,1|2|1\n")
        # Released on exit: both free at once.
        rows = [json.loads(line) for line in self.lock("status").out.splitlines()]
        self.assertEqual({(r["name"], r["state"]) for r in rows},
                         {("b", "free"), ("my-lock.x/2", "free")})

    def test_run_options_may_come_between_the_names(self):
        result = self.lock("run", "a", "--ttl", "5s", "b", "--owner", "me", "--", "sh", "-c",
                           "echo $LOCK_TOKEN_A$LOCK_TOKEN_B")
        self.assertStatus(result, 0)
        self.assertEqual(result.out, "11\n")

    def test_run_conflict_is_75_or_conflict_exit_and_cmd_never_runs(self):
        holder = self.lock("acquire", "busy", "--ttl", "1h", "--owner", "holder")
        self.assertStatus(holder, 0)
        marker = ["sh", "-c", "touch ran"]
        result = self.lock("run", "free", "busy", "--nonblock", "--", *marker)
        self.assertError(result, 75, "lock 'busy' is held by holder (token 1")
        self.assertStatus(self.lock("run", "busy", "-n", "--conflict-exit", "1", "--", *marker), 1)
        started = time.monotonic()
        waited = self.lock("run", "busy", "--wait", "300ms", "--", *marker)
        self.assertStatus(waited, 75)
        self.assertGreaterEqual(time.monotonic() - started, 0.3)
        self.assertFalse(os.path.exists(self.path("ran")))
        # All or nothing: "free" was not left held by the refused runs.
        rows = {json.loads(line)["name"]: json.loads(line)["state"]
                for line in self.lock("status").out.splitlines()}
        self.assertEqual(rows, {"busy": "held", "free": "free"})

    def test_run_without_a_terminal_waits_a_finite_default(self):
        # Under cron (no terminal on stdin) the default wait is 10m, not forever: --help says so.
        self.assertIn("10m otherwise", self.lock("run", "--help").out)

    def test_run_of_a_missing_command_is_127_and_releases(self):
        result = self.lock("run", "m", "--", "no-such-command-xyz")
        self.assertStatus(result, 127)
        self.assertEqual(json.loads(self.lock("status", "m").out)["state"], "free")

    def test_a_lease_lost_while_cmd_runs_kills_its_group_and_exits_75(self):
        # CMD breaks its own lock (as an operator would) and starts a grandchild that would
        # write a file later: the next renewal finds the lease gone and kills the whole group.
        script = (f"{tool_path('lock')} break lost --force >/dev/null; "
                  "(sleep 3; touch late) & echo $! > grandchild; sleep 30")
        started = time.monotonic()
        result = self.lock("run", "lost", "--ttl", "600ms", "--", "sh", "-c", script)
        self.assertError(result, 75, "the lease of lock 'lost' (token 1) was lost")
        self.assertLess(time.monotonic() - started, 10)
        pid = int(self.read("grandchild"))
        wait_until(lambda: process_ended(pid))
        self.assertFalse(os.path.exists(self.path("late")))

    def test_a_command_whose_background_work_outlives_it_keeps_the_lease_until_it_expires(self):
        # CMD exits at once, leaving `sleep` running in its group: releasing now would let
        # the next holder in beside that work. The lease stays until its TTL runs out.
        result = self.lock("run", "bg", "--ttl", "30s", "--", "sh", "-c",
                           "sleep 30 >/dev/null 2>&1 & echo $! > background")
        try:
            self.assertStatus(result, 0)
            self.assertIn("processes started by the command still run; its leases are kept "
                          "until they expire (within 30s)", result.err)
            self.assertError(self.lock("acquire", "bg", "--ttl", "5s", "--nonblock"), 75,
                             "lock 'bg' is held by")
        finally:
            kill_process(int(self.read("background")))

    def test_a_wrapper_paused_past_its_ttl_loses_the_lock_and_its_cmd_is_killed(self):
        # A's wrapper is stopped (its CMD runs on, as a paused holder's work would); B takes
        # the lock once A's 1s lease has expired; when A resumes, its next renewal finds the
        # lease lost: CMD's group is killed and A exits 75.
        a = self.start_tool("run", "p", "--ttl", "1s", "--", "sh", "-c",
                            "echo $$ > a.pid; exec sleep 60", stdin=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
        self.wait_for_file("a.pid")
        wait_until(lambda: self.read("a.pid").strip() != b"")
        os.kill(a.pid, signal.SIGSTOP)
        b = self.lock("run", "p", "--ttl", "5s", "--wait", "20s", "--", "sh", "-c",
                      "echo $LOCK_TOKEN")
        self.assertStatus(b, 0)
        self.assertEqual(b.out, "2\n")
        os.kill(a.pid, signal.SIGCONT)
        _, err = a.communicate(timeout=30)
        self.assertEqual(a.returncode, 75)
        self.assertIn(b"the lease of lock 'p' (token 1) was lost", err)
        wait_until(lambda: process_ended(int(self.read("a.pid"))))

    def test_a_sigkilled_holder_frees_the_lock_at_ttl_expiry_and_no_token_repeats(self):
        child = self.start_tool("run", "k", "--ttl", "30s", "--", "sh", "-c",
                                "echo $$ > cmd.pid; echo $LOCK_TOKEN > token; sleep 60",
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.wait_for_file("token")
        wait_until(lambda: self.read("token").strip() != b"")
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        command = int(self.read("cmd.pid"))
        os.killpg(command, signal.SIGKILL)  # its own process group
        now = datetime.datetime.now(datetime.timezone.utc)

        def acquire_at(offset):
            moment = (now + datetime.timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")
            return self.lock("--now", moment, "acquire", "k", "--ttl", "5s", "--nonblock")
        self.assertStatus(acquire_at(20), 75)  # the lease still runs
        later = acquire_at(40)
        self.assertStatus(later, 0)
        self.assertEqual(int(self.read("token")), 1)
        self.assertEqual(json.loads(later.out)["token"], 2)

    def test_shared_holders_coexist_and_exclude_an_exclusive_one(self):
        self.acquire("r", 0, "10s", "--shared", "--owner", "reader-1")
        self.acquire("r", 0, "10s", "--shared", "--owner", "reader-2")
        writer = self.lock("--now", at(1), "acquire", "r", "--ttl", "10s", "-n")
        self.assertError(writer, 75, "held by reader-1", "held by reader-2")
        self.acquire("w", 0, "10s")
        self.assertStatus(self.lock("--now", at(1), "acquire", "w", "--ttl", "1s", "-n",
                                    "--shared"), 75)
        self.assertStatus(self.lock("--now", at(1), "release", "r", "--token", "1"), 0)
        self.assertStatus(self.lock("--now", at(1), "release", "r", "--token", "2"), 0)
        self.assertEqual(self.acquire("r", 2)["token"], 3)

    def test_kleppmann_pause_past_the_ttl_fenced_write_is_refused(self):
        # Holder A reads the counter, is paused (SIGSTOP, as by a GC pause) past its lease; B
        # takes the lock with a higher token and writes through fence; A resumes and its write
        # with the old token is refused. Without the fence the same script loses B's update.
        for fenced in (True, False):
            with self.subTest(fenced=fenced):
                name = "account" if fenced else "unfenced"
                self.write("balance", "100\n")
                check = (f'{tool_path("lock")} fence {name} --token "$token" >/dev/null && '
                         if fenced else "")
                writer = (f'token=$({tool_path("lock")} --now {at(0)} acquire {name} --ttl 10s '
                          '| sed "s/.*\\"token\\":\\([0-9]*\\).*/\\1/"); '
                          'balance=$(cat balance); kill -STOP $$; '
                          f'{check}echo $((balance + 1)) > balance')
                holder = subprocess.Popen(["sh", "-c", writer], cwd=self.dir, env=self.env)
                self.children.append(holder)
                wait_until(lambda: process_stopped(holder.pid))
                # B, after A's lease expired: acquire, fence, read-modify-write.
                taken = self.acquire(name, 11)
                self.assertEqual(taken["token"], 2)
                if fenced:
                    self.assertStatus(self.lock("fence", name, "--token", "2"), 0)
                balance = int(self.read("balance"))
                self.write("balance", f"{balance + 50}\n")
                os.kill(holder.pid, signal.SIGCONT)
                holder.wait(timeout=30)
                if fenced:
                    self.assertEqual(holder.returncode, 1)  # fence refused token 1
                    self.assertEqual(self.read("balance"), b"150\n")
                else:
                    self.assertEqual(holder.returncode, 0)
                    self.assertEqual(self.read("balance"), b"101\n")  # B's +50 is lost

    def test_waits_prints_the_graph_and_reports_a_two_script_cycle(self):
        self.assertStatus(self.lock("acquire", "x", "--ttl", "1m", "--owner", "script-a"), 0)
        self.assertStatus(self.lock("acquire", "y", "--ttl", "1m", "--owner", "script-b"), 0)
        waiters = [self.start_tool("acquire", want, "--ttl", "1m", "--wait", "30s", "--owner",
                                   owner, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for want, owner in (("y", "script-a"), ("x", "script-b"))]

        def graph():
            result = self.lock("waits")
            return result, [json.loads(line) for line in result.out.splitlines()]
        wait_until(lambda: len(graph()[1]) == 2)
        result, edges = graph()
        self.assertStatus(result, 1)  # not an error line: a warning naming the cycle
        self.assertEqual(edges, [
            {"waiter": "script-a", "name": "y", "holder": "script-b", "token": 1,
             "in_cycle": True},
            {"waiter": "script-b", "name": "x", "holder": "script-a", "token": 1,
             "in_cycle": True}])
        self.assertIn("lock: warning: deadlock: script-a -> script-b -> script-a", result.err)
        for waiter in waiters:
            waiter.send_signal(signal.SIGTERM)
            self.assertEqual(waiter.wait(timeout=30), 143)
        result, edges = graph()
        self.assertStatus(result, 0)
        self.assertEqual(edges, [])



class LockLocal(ToolTestCase):
    """util-linux's flock scenarios (tests/ts/flock/flock), ported: a shared holder in the
    background, then non-block, shared, exclusive, timeout and time-check against it."""

    tool = "lock"

    def start_holder(self, *args, seconds=1.0):
        """A shared holder that keeps the lock `seconds` after it has it."""
        child = self.start_tool(*args, "--", "sh", "-c",
                                f"echo $$ > holder.pid; touch held; exec sleep {seconds}",
                                stdin=subprocess.DEVNULL)
        self.wait_for_file("held")
        # CMD outlives a killed lock (it inherits the lock, as under flock(1)): end it too.
        self.addCleanup(kill_process, int(self.read("holder.pid")))
        return child

    def scenarios(self, target, holder_target):
        started = time.monotonic()
        holder = self.start_holder(*holder_target, "--shared")
        never = ["sh", "-c", "touch never"]
        self.assertStatus(self.run_tool(*target, "--nonblock", "--conflict-exit", "123", "--",
                                        *never), 123)
        self.assertStatus(self.run_tool(*target, "--shared", "--nonblock", "--", "true"), 0)
        self.assertStatus(self.run_tool(*target, "-n", "--conflict-exit", "123", "--", *never),
                          123)
        timeout = self.run_tool(*target, "--wait", "5s", "--conflict-exit", "5", "--", "sh", "-c",
                                "echo after")
        ended = time.monotonic() - started
        self.assertStatus(timeout, 0)
        self.assertEqual(timeout.out, "after\n")
        self.assertGreaterEqual(ended, 1.0)  # time-check: it waited for the holder
        self.assertLess(ended, 5.0)
        self.assertEqual(holder.wait(timeout=30), 0)
        self.assertFalse(os.path.exists(self.path("never")))

    def test_flock_scenarios_with_local_names(self):
        self.scenarios(["--local", "run", "f"], ["--local", "run", "f"])

    def test_flock_scenarios_with_flock_files_and_util_linux_flock_as_holder(self):
        path = self.path("lockfile")
        self.scenarios(["run", "--flock", path], ["run", "--flock", path])
        # The same lock as flock(1)'s: each excludes the other.
        holder = subprocess.Popen(["flock", path, "sh", "-c", "touch held2; sleep 30"],
                                  cwd=self.dir, start_new_session=True)
        self.children.append(holder)
        self.addCleanup(kill_group, holder.pid)
        self.wait_for_file("held2")
        self.assertStatus(self.run_tool("run", "--flock", path, "-n", "--", "true"), 75)

    def test_flock_scenarios_adapted_to_leases(self):
        self.scenarios(["run", "f", "--ttl", "5s"], ["run", "f", "--ttl", "5s"])

    def test_wait_running_out_is_the_conflict_status(self):
        self.start_holder("--local", "run", "w", seconds=30)
        started = time.monotonic()
        result = self.run_tool("--local", "run", "w", "--wait", "300ms", "--", "true")
        self.assertStatus(result, 75)
        self.assertIn(b"is locked by another process", result.stderr)
        self.assertGreaterEqual(time.monotonic() - started, 0.3)

    def test_a_sigkilled_holder_frees_a_local_lock_at_once(self):
        holder = self.start_tool("--local", "run", "k", "--", "sh", "-c",
                                 "echo $$ > cmd.pid; exec sleep 60", stdin=subprocess.DEVNULL)
        self.wait_for_file("cmd.pid")
        wait_until(lambda: self.read("cmd.pid").strip() != b"")
        self.assertStatus(self.run_tool("--local", "run", "k", "-n", "--", "true"), 75)
        # flock(1)'s rule: CMD inherits the lock, so it lives until CMD ends too; once both are
        # SIGKILLed the kernel frees it at once, with no TTL to wait for.
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        self.assertStatus(self.run_tool("--local", "run", "k", "-n", "--", "true"), 75)
        command = int(self.read("cmd.pid"))
        os.kill(command, signal.SIGKILL)
        wait_until(lambda: process_ended(command))
        self.assertStatus(self.run_tool("--local", "run", "k", "-n", "--", "true"), 0)

    def test_local_names_are_files_in_the_state_directory(self):
        result = self.run_tool("--local", "run", ".hidden/a%b", "--", "true")
        self.assertStatus(result, 0)
        directory = os.path.join(self.env["SLUICE_STATE_DIR"], "lock.d")
        self.assertEqual(os.listdir(directory), ["%2Ehidden%2Fa%25b"])


if __name__ == "__main__":
    unittest.main()
