"""jobq: add, claim, ack, fail, heartbeat, show, list, stats, cancel, retry, reap, purge, work,
result, results, split and chunk: every documented scenario and status, on both backends."""

import datetime
import json
import os
import signal
import subprocess
import time
import unittest

from sluice_cli import ToolTestCase, on_both_backends, tool_path

T0 = "2026-03-01T12:00:00Z"


def at(seconds):
    """T0 plus `seconds`, as --now takes it."""
    start = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
    moment = start + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def instant(text):
    return datetime.datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z") \
        if "." not in text else \
        datetime.datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")


def lines(result):
    return [json.loads(line) for line in result.out.splitlines()]


def kill_quietly(pid):
    """SIGKILL a command's leftover process, if it is still there."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@on_both_backends
class JobqCommands(ToolTestCase):
    tool = "jobq"

    def jobq(self, *args, stdin=b"", now=T0):
        return self.run_tool("--now", now, *args, stdin=stdin)

    def add(self, *args, payloads=('{"n":1}',), now=T0):
        result = self.jobq("add", *args, stdin="".join(p + "\n" for p in payloads), now=now)
        self.assertStatus(result, 0)
        return lines(result)

    def claim(self, *args, now=T0):
        result = self.jobq("claim", *args, now=now)
        self.assertIn(result.status, (0, 3), result)
        return lines(result)

    def job(self, job_id):
        result = self.jobq("show", str(job_id))
        self.assertStatus(result, 0)
        return json.loads(result.out)

    def dump(self):
        location = self.env.get("SLUICE_STATE_URL") or self.path("state/jobq.db")
        return self.state_dump(location, ["jobq_jobs", "jobq_events", "jobq_turns", "jobq_groups"])

    def test_help_is_0_and_bad_flag_is_2(self):
        self.assertStatus(self.run_tool("--help"), 0)
        self.assertIn("Subcommands:", self.run_tool("--help").out)
        self.assertStatus(self.run_tool("work", "--help"), 0)
        self.assertError(self.run_tool("claim", "--bogus"), 2, "--bogus")
        self.assertError(self.run_tool(), 2)

    def test_add_prints_each_job_and_claim_returns_payload_token_attempt(self):
        added = self.add("--queue", "mail", payloads=['{"to":"a"}', '{"to":"b"}'])
        self.assertEqual([(job["id"], job["queue"], job["state"], job["run_at"], job["outcome"])
                          for job in added],
                         [(1, "mail", "waiting", T0, "added"), (2, "mail", "waiting", T0, "added")])
        claimed = self.claim("--queues", "mail", "--lease", "1m")
        self.assertEqual(len(claimed), 1)
        self.assertEqual(claimed[0]["payload"], {"to": "a"})
        self.assertEqual((claimed[0]["id"], claimed[0]["token"], claimed[0]["attempt"]), (1, 1, 1))
        self.assertEqual(claimed[0]["lease_until"], "2026-03-01T12:01:00Z")

    def test_claim_with_nothing_due_exits_3(self):
        result = self.jobq("claim")
        self.assertStatus(result, 3)
        self.assertEqual(result.out, "")

    def test_lower_priority_first_then_fifo(self):
        self.add("--priority", "5", payloads=['{"n":1}', '{"n":2}'])
        self.add("--priority", "-1", payloads=['{"n":3}'])
        self.add("--priority", "5", payloads=['{"n":4}'])
        self.add("--priority", "0", payloads=['{"n":5}'])
        claimed = self.claim("-n", "10")
        self.assertEqual([job["payload"]["n"] for job in claimed], [3, 5, 1, 2, 4])

    def test_delay_and_at_with_now(self):
        self.add("--delay", "10m", payloads=['{"n":"later"}'])
        self.add("--at", "2026-03-01T12:05:00Z", payloads=['{"n":"at"}'])
        self.assertEqual(self.claim(now=at(299)), [])
        self.assertEqual([job["payload"]["n"] for job in self.claim(now=at(300))], ["at"])
        self.assertEqual(self.claim(now=at(599)), [])
        self.assertEqual([job["payload"]["n"] for job in self.claim(now=at(600))], ["later"])

    def test_dedupe_keys_ignore_replace_error(self):
        first = self.add("--key", "report-42", payloads=['{"v":1}'])[0]
        again = self.add("--key", "report-42", payloads=['{"v":2}'])[0]
        self.assertEqual((again["id"], again["outcome"]), (first["id"], "existing"))
        self.assertEqual(self.job(first["id"])["payload"], {"v": 1})
        replaced = self.add("--key", "report-42", "--on-duplicate", "replace",
                            payloads=['{"v":3}'])[0]
        self.assertEqual((replaced["id"], replaced["outcome"]), (first["id"], "replaced"))
        self.assertEqual(self.job(first["id"])["payload"], {"v": 3})
        before = self.dump()
        refused = self.jobq("add", "--key", "report-42", "--on-duplicate", "error",
                            stdin='{"v":4}\n')
        self.assertError(refused, 65, "<stdin>:1", "report-42", "job 1")
        self.assertEqual(self.dump(), before)
        # A finished job's key is free again.
        token = self.claim()[0]["token"]
        self.assertStatus(self.jobq("ack", "1", "--token", str(token)), 0)
        fresh = self.add("--key", "report-42", payloads=['{"v":5}'])[0]
        self.assertEqual(fresh["outcome"], "added")
        self.assertNotEqual(fresh["id"], 1)

    def test_replace_counts_the_attempts_afresh(self):
        self.add("--key", "k", "--max-attempts", "2")
        job = self.claim()[0]
        self.assertStatus(self.jobq("fail", "1", "--token", str(job["token"]), "--retry-after",
                                    "0s", "--error", "boom"), 0)
        before = self.job(1)
        self.assertEqual((before["attempt"], before["error"]), (1, "boom"))
        self.add("--key", "k", "--max-attempts", "2", "--on-duplicate", "replace")
        after = self.job(1)
        self.assertEqual((after["state"], after["attempt"], after["error"], after["exit_status"],
                          after["cancel_requested"]), ("waiting", 0, "", None, False))
        # Both of its attempts are still to come: the first failure retries, not dead.
        job = self.claim()[0]
        self.assertEqual(job["attempt"], 1)
        failed = json.loads(self.jobq("fail", "1", "--token", str(job["token"])).out)
        self.assertEqual(failed["state"], "waiting")

    def test_a_rejected_batch_adds_nothing(self):
        self.add(payloads=['{"n":0}'])
        before = self.dump()
        for stdin, fragment in (('{"n":1}\n[1,2]\n', "<stdin>:2"),
                                ('{"n":1}\n"text"\n', "<stdin>:2"),
                                ('{"n":1}\n{"n":2}\n{bad\n', "<stdin>:3")):
            with self.subTest(stdin=stdin):
                self.assertError(self.jobq("add", stdin=stdin), 65, fragment)
                self.assertEqual(self.dump(), before)
        duplicate = self.jobq("add", "--key", "k", "--on-duplicate", "error",
                              stdin='{"n":1}\n{"n":2}\n')
        self.assertError(duplicate, 65, "<stdin>:2", "key 'k'")
        self.assertEqual(self.dump(), before)

    def test_bad_options_are_usage_errors(self):
        self.add(payloads=['{"n":0}'])
        before = self.dump()
        cases = [
            (("claim", "--queues", "high:x"), "--queues"),
            (("claim", "--queues", "high:0"), "--queues"),
            (("claim", "--queues", "high:-2"), "--queues"),
            (("claim", "--queues", "high:5,,low"), "--queues"),
            (("claim", "--queues", "a,a"), "listed twice"),
            (("add", "--delay", "5x", "--payload", "{}"), "--delay"),
            (("add", "--at", "tomorrow", "--payload", "{}"), "--at"),
            (("add", "--payload", "[1]"), "--payload"),
            (("add", "--queue", "a:b", "--payload", "{}"), "--queue"),
            (("add", "--max-attempts", "0", "--payload", "{}"), "--max-attempts"),
            (("claim", "--lease", "500ms"), "--lease"),
            (("ack", "1"), "--token"),
            (("add", "--on-duplicate", "error", "--payload", "{}"), "--on-duplicate"),
            (("add", "--payload", "{}", "nosuchfile"), "--payload"),
            (("results", "--batch", ""), "--batch"),
        ]
        for args, fragment in cases:
            with self.subTest(args=args):
                self.assertError(self.jobq(*args), 2, fragment)
        self.assertEqual(self.dump(), before)

    def test_missing_state_and_missing_job(self):
        self.assertError(self.jobq("ack", "1", "--token", "1"), 66)
        self.add()
        self.assertError(self.jobq("ack", "9", "--token", "1"), 66, "no job 9")
        self.assertError(self.jobq("show", "9"), 66, "no job 9")
        self.assertError(self.jobq("cancel", "1", "9"), 66, "no job 9")
        self.assertEqual(self.job(1)["state"], "waiting")

    def test_stale_tokens_are_refused_with_4_and_change_nothing(self):
        self.add("--backoff-base", "0s")
        old = self.claim("--lease", "1m")[0]
        # The lease expired; another worker's claim reaps it and takes the job with a new token.
        new = self.claim("--lease", "1m", now=at(61))[0]
        self.assertEqual((new["id"], new["token"], new["attempt"]), (1, 2, 2))
        before = self.dump()
        for args in (("ack",), ("fail", "--error", "late"), ("heartbeat",)):
            with self.subTest(command=args[0]):
                result = self.jobq(*args[:1], "1", "--token", str(old["token"]), *args[1:],
                                   now=at(62))
                self.assertError(result, 4, "token 1 no longer holds job 1")
                self.assertEqual(self.dump(), before)
        beat = self.jobq("heartbeat", "1", "--token", "2", "--lease", "5m", now=at(62))
        self.assertStatus(beat, 0)
        self.assertEqual(json.loads(beat.out)["lease_until"], "2026-03-01T12:06:02Z")
        self.assertStatus(self.jobq("ack", "1", "--token", "2", now=at(63)), 0)
        self.assertError(self.jobq("ack", "1", "--token", "2", now=at(64)), 4)
        history = [event["event"] for event in self.job(1)["history"]]
        self.assertEqual(history, ["added", "claimed", "lease_expired", "claimed", "done"])

    def test_ack_without_an_id_acks_each_claimed_line_and_refuses_stale_ones(self):
        self.add(payloads=['{"n":1}', '{"n":2}', '{"n":3}'])
        claimed = self.jobq("claim", "-n", "2")
        self.assertStatus(claimed, 0)
        acked = self.jobq("ack", stdin=claimed.out)
        self.assertStatus(acked, 0)
        self.assertEqual(lines(acked), [{"id": 1, "state": "done"}, {"id": 2, "state": "done"}])
        third = self.claim()[0]
        again = self.jobq("ack", stdin=claimed.out + json.dumps(third) + "\n")
        self.assertError(again, 4, "token 1 no longer holds job 1")
        self.assertEqual(lines(again), [{"id": 3, "state": "done"}])
        self.assertError(self.jobq("ack", stdin='{"id":1}\n'), 65, "<stdin>:1", "'token'")
        self.assertError(self.jobq("ack", "1"), 2, "--token")
        self.assertError(self.jobq("ack", "--token", "1"), 2, "--token")

    def test_retry_delays_stay_within_the_full_jitter_bounds(self):
        # min(cap, base * 2^(attempt-1)) with full jitter: base 10s, cap 60s.
        self.add("--backoff-base", "10s", "--backoff-cap", "1m", "--max-attempts", "8")
        now = 0.0
        for attempt in range(1, 8):
            job = self.claim(now=at(now))[0]
            self.assertEqual(job["attempt"], attempt)
            result = self.jobq("fail", "1", "--token", str(job["token"]), "--error", "e",
                               now=at(now))
            self.assertStatus(result, 0)
            failed = json.loads(result.out)
            self.assertEqual(failed["state"], "waiting")
            delay = (instant(failed["run_at"]) - instant(at(now))).total_seconds()
            ceiling = min(60, 10 * 2 ** (attempt - 1))
            self.assertGreaterEqual(delay, 0)
            self.assertLessEqual(delay, ceiling)
            now += delay
        job = self.claim(now=at(now))[0]
        dead = json.loads(self.jobq("fail", "1", "--token", str(job["token"]), now=at(now)).out)
        self.assertEqual((dead["state"], dead["attempt"], dead["run_at"]), ("dead", 8, None))

    def test_retry_delays_spread_over_the_whole_jitter_range(self):
        # 40 first failures with base 10s: uniform from 0 to 10s, so the largest is near 10s
        # and the mean near 5s (a delay always 0, or always the ceiling, fails here).
        self.add("--backoff-base", "10s", "--max-attempts", "2", payloads=['{}'] * 40)
        self.assertStatus(self.jobq("-q", "work", "--", "false"), 0)
        jobs = lines(self.jobq("list"))
        self.assertEqual({(job["state"], job["attempt"]) for job in jobs}, {("waiting", 1)})
        delays = [(instant(job["run_at"]) - instant(T0)).total_seconds() for job in jobs]
        self.assertTrue(all(0 <= delay <= 10 for delay in delays), delays)
        self.assertGreater(max(delays), 8)
        self.assertTrue(3 < sum(delays) / len(delays) < 7, delays)

    def test_fail_retry_after_and_permanent(self):
        self.add(payloads=['{"n":1}', '{"n":2}'])
        jobs = self.claim("-n", "2")
        later = json.loads(self.jobq("fail", "1", "--token", str(jobs[0]["token"]),
                                     "--retry-after", "90s").out)
        self.assertEqual((later["state"], later["run_at"]), ("waiting", "2026-03-01T12:01:30Z"))
        dead = json.loads(self.jobq("fail", "2", "--token", str(jobs[1]["token"]),
                                    "--permanent", "--error", "bad card").out)
        self.assertEqual(dead["state"], "dead")
        self.assertEqual(self.job(2)["error"], "bad card")

    def test_cancel_retry_list_stats_purge(self):
        self.add("--queue", "a", payloads=['{"n":1}', '{"n":2}', '{"n":3}'])
        self.add("--queue", "b", "--delay", "1h", payloads=['{"n":4}'])
        running = self.claim("--queues", "a")[0]
        cancelled = lines(self.jobq("cancel", "2", "1"))
        self.assertEqual([(job["id"], job["state"], job["cancel_requested"]) for job in cancelled],
                         [(2, "cancelled", False), (1, "running", True)])
        beat = json.loads(self.jobq("heartbeat", "1", "--token", str(running["token"])).out)
        self.assertTrue(beat["cancel_requested"])
        self.assertError(self.jobq("retry", "1"), 65, "job 1 is running")
        retried = lines(self.jobq("retry", "2"))
        self.assertEqual((retried[0]["id"], retried[0]["state"]), (2, "waiting"))
        page = lines(self.jobq("list", "--limit", "2"))
        self.assertEqual([job["id"] for job in page], [1, 2])
        page = lines(self.jobq("list", "--limit", "2", "--after", "2"))
        self.assertEqual([job["id"] for job in page], [3, 4])
        self.assertEqual([job["id"] for job in lines(self.jobq("list", "--queue", "b"))], [4])
        self.assertEqual([job["id"] for job in lines(self.jobq("list", "--state", "running"))], [1])
        stats = lines(self.jobq("stats", now=at(120)))
        self.assertEqual(stats, [
            {"queue": "a", "waiting": 2, "running": 1, "done": 0, "dead": 0, "cancelled": 0,
             "oldest_waiting_seconds": 120},
            {"queue": "b", "waiting": 0 + 1, "running": 0, "done": 0, "dead": 0, "cancelled": 0,
             "oldest_waiting_seconds": None}])
        self.assertStatus(self.jobq("ack", "1", "--token", str(running["token"]), now=at(10)), 0)
        self.assertEqual(json.loads(self.jobq("purge", "--older-than", "1m", now=at(60)).out),
                         {"purged": 0})
        self.assertEqual(json.loads(self.jobq("purge", "--older-than", "1m", now=at(70)).out),
                         {"purged": 1})
        self.assertError(self.jobq("show", "1"), 66)

    def test_a_failed_attempt_of_a_cancelled_job_ends_it_cancelled(self):
        self.add()
        job = self.claim()[0]
        self.assertStatus(self.jobq("cancel", "1"), 0)
        failed = self.jobq("fail", "1", "--token", str(job["token"]), "--retry-after", "0s",
                           now=at(1))
        self.assertStatus(failed, 0)
        self.assertEqual(json.loads(failed.out),
                         {"id": 1, "state": "cancelled", "attempt": 1, "run_at": None})
        self.assertEqual(self.claim("--worker", "b", now=at(2)), [])
        shown = self.job(1)
        self.assertEqual((shown["state"], shown["finished_at"]), ("cancelled", at(1)[:19] + "Z"))
        self.assertEqual([event["event"] for event in shown["history"]],
                         ["added", "claimed", "cancel_requested", "cancelled"])

    def test_purge_deletes_the_history_of_the_jobs_it_deletes_and_no_other(self):
        self.add(payloads=['{"n":1}', '{"n":2}', '{"n":3}'])
        for job in self.claim("-n", "2"):
            self.assertStatus(self.jobq("ack", str(job["id"]), "--token", str(job["token"])), 0)
        purged = self.jobq("purge", "--older-than", "0s", "--batch", "1", now=at(10))
        self.assertEqual(json.loads(purged.out), {"purged": 2})
        location = self.env.get("SLUICE_STATE_URL") or self.path("state/jobq.db")
        events = self.state_rows(location, "SELECT job, event FROM jobq_events")
        self.assertEqual([(str(job), event) for job, event in events], [("3", "added")])
        self.assertEqual([job["id"] for job in lines(self.jobq("list"))], [3])

    def test_reap_puts_expired_leases_back_as_a_failed_attempt(self):
        self.add("--backoff-base", "0s", "--max-attempts", "2", payloads=['{"n":1}', '{"n":2}'])
        self.claim("-n", "2", "--lease", "1m")
        self.assertEqual(json.loads(self.jobq("reap", now=at(59)).out), {"reaped": 0})
        self.assertEqual(json.loads(self.jobq("reap", now=at(60)).out), {"reaped": 2})
        self.assertEqual(self.job(1)["state"], "waiting")
        self.assertEqual(self.job(1)["error"], "lease expired")
        self.claim("-n", "2", "--lease", "1m", now=at(60))
        self.jobq("reap", now=at(120))
        self.assertEqual(self.job(2)["state"], "dead")

    def test_weighted_round_robin_splits_claims_exactly_and_keeps_its_state(self):
        for queue in ("high", "default", "low"):
            self.add("--queue", queue, payloads=['{}'] * 30)
        claimed = self.claim("--queues", "high:5,default:3,low:1", "-n", "45")
        queues = [job["queue"] for job in claimed]
        self.assertEqual((queues.count("high"), queues.count("default"), queues.count("low")),
                         (25, 15, 5))
        # nginx's smooth order for 5/3/1, the first period.
        self.assertEqual(queues[:9], ["high", "default", "high", "low", "high", "default",
                                      "high", "default", "high"])
        # Nine short-lived claims, one job each, continue the same rotation from the store.
        one_by_one = [self.claim("--queues", "high:5,default:3,low:1")[0]["queue"]
                      for _ in range(9)]
        self.assertEqual(one_by_one, queues[:9])

    def test_an_empty_queue_is_skipped_not_charged(self):
        self.add("--queue", "high", payloads=['{}'] * 12)
        self.add("--queue", "low", payloads=['{}'] * 12)
        claimed = self.claim("--queues", "high:2,empty:5,low:1", "-n", "9")
        queues = [job["queue"] for job in claimed]
        self.assertEqual((queues.count("high"), queues.count("low")), (6, 3))

    def test_groups_take_turns_within_a_queue(self):
        self.add("--group", "tenant-a", payloads=['{"t":"a"}'] * 200)
        self.add("--group", "tenant-b", payloads=['{"t":"b"}'])
        claimed = self.claim("-n", "4")
        tenants = [job["payload"]["t"] for job in claimed]
        self.assertIn("b", tenants[:2])
        self.assertEqual(tenants.count("b"), 1)

    def test_show_records_every_transition(self):
        self.add()
        job = self.claim()[0]
        self.jobq("fail", "1", "--token", str(job["token"]), "--retry-after", "0s", now=at(1))
        job = self.claim(now=at(2))[0]
        self.jobq("ack", "1", "--token", str(job["token"]), now=at(3))
        shown = self.job(1)
        self.assertEqual(shown["state"], "done")
        self.assertEqual([(event["at"], event["event"], event["state"], event["attempt"])
                          for event in shown["history"]],
                         [(T0, "added", "waiting", 0),
                          ("2026-03-01T12:00:00Z", "claimed", "running", 1),
                          ("2026-03-01T12:00:01Z", "failed", "waiting", 1),
                          ("2026-03-01T12:00:02Z", "claimed", "running", 2),
                          ("2026-03-01T12:00:03Z", "done", "done", 2)])


@on_both_backends
class JobqWork(ToolTestCase):
    tool = "jobq"

    def work(self, *args, timeout=60):
        return self.run_tool("work", *args, timeout=timeout)

    def show(self, job_id):
        return json.loads(self.run_tool("show", str(job_id)).out)

    def test_exit_0_acks_and_stores_stdout_with_the_job_environment(self):
        self.run_tool("add", "--batch", "b", stdin='{"n":1}\n{"n":2}\n')
        result = self.work("--", "sh", "-c",
                           'cat; echo "$JOBQ_ID $JOBQ_ATTEMPT $JOBQ_TOKEN $JOBQ_QUEUE"')
        self.assertStatus(result, 0)
        self.assertEqual(self.run_tool("result", "2").out, '{"n":2}\n2 1 1 default\n')
        results = [json.loads(line) for line in self.run_tool("results", "--batch", "b").out.splitlines()]
        self.assertEqual([(r["id"], r["state"], r["exit_status"], r["result"]) for r in results],
                         [(1, "done", 0, '{"n":1}\n1 1 1 default\n'),
                          (2, "done", 0, '{"n":2}\n2 1 1 default\n')])

    def test_75_retries_65_is_dead_now_others_until_max_attempts(self):
        self.run_tool("add", "--backoff-base", "0s", "--max-attempts", "3",
                      stdin='{"exit":75}\n{"exit":65}\n{"exit":1}\n{"exit":0}\n')
        script = ('status=$(sed "s/.*: *\\([0-9]*\\).*/\\1/"); echo "$JOBQ_ID" >> runs.txt; '
                  'if [ "$status" = 75 ] && [ "$JOBQ_ATTEMPT" -ge 2 ]; then exit 0; fi; exit "$status"')
        self.assertStatus(self.work("--", "sh", "-c", script), 0)
        states = {job_id: self.show(job_id) for job_id in (1, 2, 3, 4)}
        self.assertEqual((states[1]["state"], states[1]["attempt"]), ("done", 2))
        self.assertEqual((states[2]["state"], states[2]["attempt"], states[2]["exit_status"]),
                         ("dead", 1, 65))
        self.assertEqual((states[3]["state"], states[3]["attempt"], states[3]["error"]),
                         ("dead", 3, "exit status 1"))
        self.assertEqual(states[4]["state"], "done")
        runs = self.read("runs.txt").decode().split()
        self.assertEqual(sorted(runs), ["1", "1", "2", "3", "3", "3", "4"])

    def test_once_runs_one_job_and_exits_3_when_none_is_due(self):
        self.run_tool("add", stdin='{}\n{}\n')
        self.assertStatus(self.work("--once", "--", "true"), 0)
        self.assertEqual(self.show(1)["state"], "done")
        self.assertEqual(self.show(2)["state"], "waiting")
        self.assertStatus(self.work("--once", "--", "true"), 0)
        self.assertStatus(self.work("--once", "--", "true"), 3)

    def test_cancel_of_a_running_job_kills_its_process_group(self):
        self.run_tool("add", stdin='{}\n')
        worker = self.start_tool(
            "-q", "work", "--lease", "1s", "--", "sh", "-c",
            'sleep 300 & echo $! > child.pid; echo started > started; wait')
        self.wait_for_file("started")
        child = int(self.read("child.pid"))
        self.assertStatus(self.run_tool("cancel", "1"), 0)
        worker.wait(timeout=30)
        self.assertEqual(worker.returncode, 0)
        self.assertEqual(self.show(1)["state"], "cancelled")
        self.assert_ends(child)

    def assert_ends(self, pid):
        for _ in range(100):
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    if stat.read().rsplit(") ", 1)[1].startswith("Z"):
                        return  # ended, not yet reaped by init
            except (FileNotFoundError, ProcessLookupError):
                return
            time.sleep(0.05)
        self.fail(f"process {pid} of the command outlived the cancel")

    def test_cancel_kills_the_group_after_the_command_itself_exited(self):
        # The shell exits at once; its background sleep keeps the output pipe (and the job's
        # lock) open. The cancel must still reach it, and is recorded once it has ended.
        self.run_tool("add", stdin='{}\n')
        worker = self.start_tool(
            "-q", "work", "--lease", "1s", "--", "sh", "-c",
            'sleep 300 & echo $! > child.pid; echo started > started; exit 0')
        self.wait_for_file("started")
        child = int(self.read("child.pid"))
        self.assertStatus(self.run_tool("cancel", "1"), 0)
        worker.wait(timeout=30)
        self.assertEqual(worker.returncode, 0)
        self.assert_ends(child)
        self.assertEqual(self.show(1)["state"], "cancelled")

    def test_a_killed_workers_running_command_makes_others_hand_the_job_back(self):
        self.run_tool("add", "--backoff-base", "0s", stdin='{}\n')
        worker = self.start_tool("-q", "work", "--lease", "1s", "--", "sh", "-c",
                                 'sleep 300 & echo $! > child.pid; touch started; wait')
        self.wait_for_file("started")
        child = int(self.read("child.pid"))
        self.addCleanup(os.kill, child, signal.SIGKILL)
        worker.kill()
        worker.wait()
        # An hour later (--now): the lease has expired, but the orphaned command still runs.
        later = (datetime.datetime.now(datetime.timezone.utc)
                 + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        once = self.run_tool("--now", later, "work", "--once", "--lease", "1m", "--", "touch",
                             "ran-again")
        self.assertStatus(once, 3)  # nothing ran
        self.assertFalse(os.path.exists(self.path("ran-again")))
        job = self.show(1)
        self.assertEqual((job["state"], job["attempt"]), ("waiting", 1))
        # (Events at one instant are listed by attempt: the hand-back's is the lower.)
        self.assertEqual(sorted(event["event"] for event in job["history"])[-5:],
                         ["added", "claimed", "claimed", "given_back", "lease_expired"])
        # Offered again a lease later, not at once.
        self.assertEqual(instant(job["run_at"]) - instant(later), datetime.timedelta(minutes=1))

    def test_sigterm_stops_a_pool_and_gives_its_jobs_back_uncounted(self):
        self.run_tool("add", stdin='{}\n{}\n{}\n')
        pool = self.start_tool("work", "-j", "2", "--forever", "--", "sh", "-c",
                               'touch "started.$JOBQ_ID"; exec sleep 300')
        self.wait_for_file("started.1")
        self.wait_for_file("started.2")
        pool.send_signal(signal.SIGTERM)
        pool.wait(timeout=30)
        self.assertEqual(pool.returncode, 143)
        jobs = [json.loads(line) for line in self.run_tool("list").out.splitlines()]
        self.assertEqual([(job["state"], job["attempt"]) for job in jobs], [("waiting", 0)] * 3)

    def test_a_command_that_finishes_after_sigterm_is_done_not_run_again(self):
        self.run_tool("add", stdin='{}\n')
        worker = self.start_tool(
            "-q", "work", "--", "sh", "-c",
            "trap 'echo finished; echo once >> effects.txt; exit 0' TERM; "
            "sleep 300 >/dev/null 2>&1 & echo $! > child.pid; touch started; wait")
        self.wait_for_file("started")
        # Should a SIGTERM racing the fork leave the sleep running, it must not hold the test
        # runner's pipes for five minutes (seen once under load; see jobq(1) BUGS).
        self.addCleanup(kill_quietly, int(self.read("child.pid")))
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        self.assertEqual(worker.returncode, 143)
        job = self.show(1)
        self.assertEqual((job["state"], job["attempt"], job["exit_status"]), ("done", 1, 0))
        self.assertEqual(self.run_tool("result", "1").out, "finished\n")
        self.assertEqual(self.read("effects.txt"), b"once\n")
        # A command that catches the signal and fails is a failed attempt, counted.
        self.run_tool("add", "--backoff-base", "0s", stdin='{}\n')
        worker = self.start_tool(
            "-q", "work", "--", "sh", "-c",
            "trap 'exit 9' TERM; sleep 300 >/dev/null 2>&1 & echo $! > child.pid; "
            "touch started.$JOBQ_ID; wait")
        self.wait_for_file("started.2")
        self.addCleanup(kill_quietly, int(self.read("child.pid")))
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        self.assertEqual(worker.returncode, 143)
        job = self.show(2)
        self.assertEqual((job["state"], job["attempt"], job["error"]),
                         ("waiting", 1, "exit status 9"))

    def test_pool_with_ordered_prints_results_in_add_order(self):
        payloads = "".join(json.dumps({"n": n}) + "\n" for n in range(12))
        self.run_tool("add", stdin=payloads)
        result = self.work("-j", "3", "--ordered", "--", "sh", "-c",
                           'n=$(sed "s/[^0-9]//g"); sleep 0.0$((12 - n)); echo "$n"')
        self.assertStatus(result, 0)
        self.assertEqual(result.out, "".join(f"{n}\n" for n in range(12)))

    def test_ordered_prints_only_this_runs_results(self):
        command = ["sh", "-c", 'n=$(sed "s/[^0-9]//g"); echo "$n"; env | grep -c JOBQ_WORK_RUN; true']
        for slots in ("1", "2"):
            with self.subTest(slots=slots):
                self.assertStatus(self.run_tool("add", stdin='{"n":1}\n{"n":2}\n'), 0)
                result = self.work("-j", slots, "--worker", "w", "--ordered", "--", *command)
                self.assertStatus(result, 0)
                self.assertEqual(result.out, "1\n0\n2\n0\n")
                self.run_tool("add", stdin='{"n":3}\n')
                result = self.work("-j", slots, "--worker", "w", "--ordered", "--", *command)
                self.assertStatus(result, 0)
                self.assertEqual(result.out, "3\n0\n")

    def test_split_and_work_give_every_line_once(self):
        text = "".join(f"line {n} {'x' * (n % 37)}\n" for n in range(3000)) + "last without newline"
        self.write("big.txt", text)
        added = self.run_tool("split", "big.txt", "--chunk", "4KiB", "--batch", "big")
        self.assertStatus(added, 0)
        ranges = [json.loads(line) for line in added.out.splitlines()]
        self.assertGreater(len(ranges), 10)
        # Splitting again adds no range twice: before any work, after some ranges are done,
        # and after all are.
        def split_again():
            again = self.run_tool("split", "big.txt", "--chunk", "4KiB", "--batch", "big")
            self.assertStatus(again, 0)
            self.assertEqual([(r["id"], r["outcome"]) for r in map(json.loads, again.out.splitlines())],
                             [(r["id"], "existing") for r in ranges])
        split_again()
        for _ in range(3):
            self.assertStatus(self.work("--once", "--", tool_path("jobq"), "chunk"), 0)
        split_again()
        result = self.work("-j", "2", "--", tool_path("jobq"), "chunk")
        self.assertStatus(result, 0)
        split_again()
        self.assertStatus(self.work("--", tool_path("jobq"), "chunk"), 0)
        results = [json.loads(line) for line in self.run_tool("results", "--batch", "big").out.splitlines()]
        joined = "".join(r["result"] for r in results)
        self.assertEqual(joined, text)
        for r in results[:-1]:
            self.assertTrue(r["result"].endswith("\n"))

    def test_result_is_75_while_unfinished_and_65_when_dead_or_cancelled(self):
        self.run_tool("add", "--max-attempts", "1", stdin='{}\n{}\n{}\n')
        self.assertError(self.run_tool("result", "1"), 75, "job 1 is waiting")
        self.assertError(self.run_tool("result", "9"), 66, "no job 9")
        self.assertStatus(self.run_tool("cancel", "3"), 0)
        self.assertStatus(self.work("--once", "--", "false"), 0)
        self.assertError(self.run_tool("result", "1"), 65, "job 1 is dead")
        self.assertError(self.run_tool("result", "3"), 65, "job 3 is cancelled")
        self.assertStatus(self.work("--once", "--", "echo", "hi"), 0)
        result = self.run_tool("result", "2")
        self.assertStatus(result, 0)
        self.assertEqual(result.out, "hi\n")

    def test_chunk_refuses_a_bad_range_with_65_naming_the_field(self):
        self.write("f.txt", "abc\n")
        good = self.run_tool("chunk", stdin='{"file":"f.txt","offset":1,"length":2}\n')
        self.assertStatus(good, 0)
        self.assertEqual(good.out, "bc")
        for payload, fragment in (('"offset":9223372036854775808,"length":1', "'offset'"),
                                  ('"offset":0,"length":99999999999999999999', "'length'"),
                                  ('"offset":-1,"length":1', "'offset'"),
                                  ('"offset":1.5,"length":1', "'offset'"),
                                  ('"offset":0', "'length'")):
            with self.subTest(payload=payload):
                result = self.run_tool("chunk", stdin='{"file":"f.txt",%s}\n' % payload)
                self.assertError(result, 65, "<stdin>:1", fragment)
        self.assertError(self.run_tool("chunk", stdin='{"offset":0,"length":1}\n'), 65, "'file'")
        self.run_tool("add", stdin='{}\n')
        self.assertError(self.run_tool("ack", stdin='{"id":1e3,"token":1}\n'), 65, "'id'")
        self.assertError(self.run_tool("ack", stdin='{"id":1,"token":-1}\n'), 65, "'token'")

    def test_results_of_an_unfinished_batch_is_75(self):
        self.run_tool("add", "--batch", "b", stdin='{}\n')
        self.assertError(self.run_tool("results", "--batch", "b"), 75, "not finished")
        self.assertError(self.run_tool("results", "--batch", "nope"), 66, "no batch")


if __name__ == "__main__":
    unittest.main()
