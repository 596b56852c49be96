"""qcache run/check/key/invalidate/gc/stats/show/etag: every documented scenario and status."""

import hashlib
import json
import os
import unittest

from sluice_cli import ToolTestCase, on_both_backends

T0 = "2026-03-01T12:00:00Z"
# Counts its runs in runs.txt and writes binary output on both streams.
SCRIPT = "echo run >> runs.txt; printf 'out\\000\\377%s' \"$1\"; printf 'err\\001' >&2; exit ${2:-0}"


def etag_of(content):
    """The ETag qcache(1) documents: the first 128 bits of SHA-256, hex, quoted."""
    return '"' + hashlib.sha256(content).hexdigest()[:32] + '"'


class QcacheCase(ToolTestCase):
    """A state per test, and the runs of a command that appends "run" to runs.txt (also for
    test_qcache_concurrency)."""
    tool = "qcache"

    def setUp(self):
        super().setUp()
        self.db = self.state("q.db")

    def runs(self):
        return self.read("runs.txt").count(b"run") if os.path.exists(self.path("runs.txt")) else 0

    def qcache(self, *args, stdin=b"", env=None):
        return self.run_tool("--db", self.db, *args, stdin=stdin, env=env)

    def counters(self):
        return json.loads(self.qcache("stats").out)


@on_both_backends
class QcacheRun(QcacheCase):

    def cached(self, *options, argument="a", status=0, now=T0):
        return self.qcache("--now", now, "run", "--ttl", "1m", *options, "--",
                           "sh", "-c", SCRIPT, "sh", argument, str(status))

    def test_help_is_0_and_bad_flag_is_2(self):
        self.assertStatus(self.run_tool("--help"), 0)
        self.assertStatus(self.run_tool("run", "--help"), 0)
        self.assertError(self.run_tool("run", "--ttl", "1m", "--bogus", "--", "true"), 2, "--bogus")
        self.assertError(self.run_tool(), 2)

    def test_miss_then_byte_identical_hit(self):
        first = self.cached()
        self.assertStatus(first, 0)
        self.assertEqual(first.stdout, b"out\x00\xffa")
        self.assertEqual(first.stderr, b"err\x01")
        second = self.cached()
        self.assertStatus(second, 0)
        self.assertEqual((second.stdout, second.stderr), (first.stdout, first.stderr))
        self.assertEqual(self.runs(), 1)
        other = self.cached(argument="b")  # another command line is another key
        self.assertEqual(other.stdout, b"out\x00\xffb")
        self.assertEqual(self.runs(), 2)
        counters = self.counters()
        self.assertEqual((counters["hits"], counters["misses"], counters["entries"]), (1, 2, 2))
        self.assertEqual(counters["bytes"], 2 * (len(b"out\x00\xffa") + len(b"err\x01")))

    def test_large_binary_output_replays_exactly(self):
        payload = bytes(range(256)) * 2048  # 512 KiB
        self.write("payload.bin", payload)
        for _ in range(2):
            result = self.qcache("run", "--ttl", "1h", "--", "cat", "payload.bin")
            self.assertStatus(result, 0)
            self.assertEqual(result.stdout, payload)

    def test_only_exit_0_is_cached_unless_cache_status_says_so(self):
        for _ in range(2):
            self.assertStatus(self.cached(status=7), 7)
        self.assertEqual(self.runs(), 2)
        for _ in range(2):
            result = self.cached("--cache-status", "0,7", status=7)
            self.assertStatus(result, 7)
            self.assertEqual(result.stdout, b"out\x00\xffa")
        self.assertEqual(self.runs(), 3)

    def test_ttl_expiry_and_stale_while_revalidate(self):
        self.cached("--stale-while-revalidate", "1m")
        self.assertEqual(self.runs(), 1)
        fresh = self.cached("--stale-while-revalidate", "1m", now="2026-03-01T12:00:59Z")
        self.assertEqual((fresh.stdout, self.runs()), (b"out\x00\xffa", 1))
        # Stale: served as it was, and refreshed once (by this process, after answering).
        stale = self.cached("--stale-while-revalidate", "1m", now="2026-03-01T12:01:30Z")
        self.assertStatus(stale, 0)
        self.assertEqual((stale.stdout, stale.stderr), (b"out\x00\xffa", b"err\x01"))
        self.assertEqual(self.runs(), 2)
        self.assertEqual(self.counters()["refreshes"], 1)
        self.assertEqual(self.counters()["stale_hits"], 1)
        # Past the stale window of the refreshed entry (12:01:30 + 1m + 1m): a plain miss.
        self.cached("--stale-while-revalidate", "1m", now="2026-03-01T12:03:30Z")
        self.assertEqual(self.runs(), 3)

    def test_a_stale_entry_is_served_when_its_refresh_fails(self):
        report = ["run", "--ttl", "1m", "--stale-while-revalidate", "1h", "--", "sh", "-c",
                  "echo run >> runs.txt; [ -e fail ] && exit 7; printf 'ok\\000'"]
        self.assertEqual(self.qcache("--now", T0, *report).stdout, b"ok\x00")
        self.write("fail", "")
        for _ in range(2):  # each refresh fails (status 7 is not cached): served again
            served = self.qcache("--now", "2026-03-01T12:05:00Z", *report)
            self.assertEqual((served.status, served.stdout, served.stderr), (0, b"ok\x00", b""))
        self.assertEqual(self.runs(), 3)
        counters = self.counters()
        self.assertEqual((counters["stale_hits"], counters["refreshes"], counters["computing"]),
                         (2, 2, 0))

    def test_key_includes_env_stdin_extra_and_tags(self):
        base = ["--now", T0, "key", "--", "report"]
        key = self.qcache(*base).out.strip()
        self.assertRegex(key, r"^[0-9a-f]{64}$")
        self.assertEqual(self.qcache(*base).out.strip(), key)
        variants = [
            ["--now", T0, "key", "--key-extra", "x", "--", "report"],
            ["--now", T0, "key", "--tag", "table:users", "--", "report"],
            ["--now", T0, "key", "--stdin", "--", "report"],
            ["--now", T0, "key", "--env", "QCACHE_REGION", "--", "report"],
        ]
        keys = {self.qcache(*variant).out.strip() for variant in variants}
        self.assertEqual(len(keys | {key}), 5)
        env = dict(self.env, QCACHE_REGION="eu")
        self.assertNotEqual(self.qcache(*variants[3], env=env).out, self.qcache(*variants[3]).out)
        self.assertNotEqual(self.qcache(*variants[2], stdin=b"x").out,
                            self.qcache(*variants[2], stdin=b"y").out)

    def test_stdin_is_fed_and_keyed(self):
        one = self.qcache("run", "--ttl", "1m", "--stdin", "--", "sh", "-c", "echo run >> runs.txt; tr a-z A-Z",
                          stdin=b"abc")
        self.assertEqual(one.stdout, b"ABC")
        again = self.qcache("run", "--ttl", "1m", "--stdin", "--", "sh", "-c", "echo run >> runs.txt; tr a-z A-Z",
                            stdin=b"abc")
        self.assertEqual((again.stdout, self.runs()), (b"ABC", 1))
        other = self.qcache("run", "--ttl", "1m", "--stdin", "--", "sh", "-c", "echo run >> runs.txt; tr a-z A-Z",
                            stdin=b"xyz")
        self.assertEqual((other.stdout, self.runs()), (b"XYZ", 2))

    def test_tag_bump_makes_exactly_the_tagged_entries_miss(self):
        self.cached("--tag", "table:users", argument="u")
        self.cached("--tag", "table:users,table:orders", argument="uo")
        self.cached("--tag", "table:orders", argument="o")
        self.cached(argument="none")
        self.assertEqual(self.runs(), 4)
        bumped = self.qcache("invalidate", "--tag", "table:users")
        self.assertStatus(bumped, 0)
        self.assertEqual(json.loads(bumped.out), {"tag": "table:users", "version": 1})
        self.cached("--tag", "table:orders", argument="o")
        self.cached(argument="none")
        self.assertEqual(self.runs(), 4)  # untagged by table:users: still hits
        self.cached("--tag", "table:users", argument="u")
        self.cached("--tag", "table:orders,table:users", argument="uo")  # tag order is no matter
        self.assertEqual(self.runs(), 6)
        self.assertEqual(json.loads(self.qcache("invalidate", "--tag", "table:users").out)["version"], 2)
        collected = json.loads(self.qcache("--now", T0, "gc", "--batch", "1").out)
        # The four entries computed under versions 0 and 1 of table:users.
        self.assertEqual(collected, {"expired": 0, "unreachable": 4, "claims": 0})
        self.assertEqual(self.counters()["entries"], 2)

    def test_gc_deletes_expired_entries(self):
        self.cached(argument="x")
        self.assertEqual(json.loads(self.qcache("--now", "2026-03-01T12:00:59Z", "gc").out)["expired"], 0)
        self.assertEqual(json.loads(self.qcache("--now", "2026-03-01T12:01:00Z", "gc").out)["expired"], 1)

    def test_show_prints_the_entry(self):
        self.cached("--tag", "t", "--etag")
        key = self.qcache("key", "--tag", "t", "--", "sh", "-c", SCRIPT, "sh", "a", "0").out.strip()
        shown = self.qcache("--now", T0, "show", key)
        self.assertStatus(shown, 0)
        record = json.loads(shown.out)
        self.assertEqual(record["state"], "fresh")
        self.assertEqual(record["command"], ["sh", "-c", SCRIPT, "sh", "a", "0"])
        self.assertEqual(record["fresh_until"], "2026-03-01T12:01:00Z")
        self.assertEqual(record["etag"], etag_of(b"out\x00\xffa"))
        self.assertEqual(record["tags"], [{"tag": "t", "version": 0}])
        self.assertEqual((record["stdout_bytes"], record["stderr_bytes"], record["exit"]), (6, 4, 0))
        self.qcache("invalidate", "--tag", "t")
        self.assertEqual(json.loads(self.qcache("--now", T0, "show", key).out)["state"], "unreachable")
        self.assertError(self.qcache("show", "0" * 64), 1, "no entry")
        self.assertError(self.qcache("show", "xyz"), 2, "KEY")

    def test_check_answers_not_modified_exactly_when_content_is_unchanged(self):
        self.write("data.txt", "v1\n")
        command = ["--now", T0, "check", "--ttl", "1h", "--tag", "data"]
        report = ["--", "sh", "-c", "echo run >> runs.txt; cat data.txt"]
        first = self.qcache(*command, "--if-none-match", "", *report)
        self.assertEqual((first.status, first.stdout), (0, b"v1\n"))
        etag = self.run_tool("etag", "data.txt").out.strip()
        self.assertEqual(etag, etag_of(b"v1\n"))
        unchanged = self.qcache(*command, "--if-none-match", f'"zz", W/{etag}', *report)
        self.assertEqual((unchanged.status, unchanged.stdout, unchanged.stderr), (3, b"", b""))
        self.assertEqual(self.runs(), 1)
        other = self.qcache(*command, "--if-none-match", '"zz"', *report)
        self.assertEqual((other.status, other.stdout), (0, b"v1\n"))
        self.assertEqual(self.qcache(*command, "--if-none-match", "*", *report).status, 3)
        # Invalidated but recomputed to the same content: still not modified.
        self.qcache("invalidate", "--tag", "data")
        self.assertEqual(self.qcache(*command, "--if-none-match", etag, *report).status, 3)
        self.assertEqual(self.runs(), 2)
        # Changed content: the new body, whose ETag is the new one.
        self.write("data.txt", "v2\n")
        self.qcache("invalidate", "--tag", "data")
        changed = self.qcache(*command, "--if-none-match", etag, *report)
        self.assertEqual((changed.status, changed.stdout), (0, b"v2\n"))
        self.assertError(self.qcache(*command, "--if-none-match", "abc", *report), 2,
                         "--if-none-match")

    def test_check_matches_an_entry_run_stored_without_etag(self):
        report = ["--", "sh", "-c", "echo run >> runs.txt; printf 'v1\\000'"]
        self.assertEqual(self.qcache("--now", T0, "run", "--ttl", "1h", *report).stdout, b"v1\x00")
        check = ["--now", T0, "check", "--ttl", "1h", "--if-none-match"]
        matched = self.qcache(*check, etag_of(b"v1\x00"), *report)
        self.assertEqual((matched.status, matched.stdout, matched.stderr), (3, b"", b""))
        other = self.qcache(*check, '"other"', *report)
        self.assertEqual((other.status, other.stdout), (0, b"v1\x00"))
        self.assertEqual(self.runs(), 1)

    def test_check_prints_output_larger_than_max_output(self):
        # Too large to keep (or to compare): printed whole, as run prints it, never 3.
        body = bytes(range(256)) * 40
        self.write("big.bin", body)
        command = ["check", "--ttl", "1h", "--max-output", "1KiB", "--if-none-match",
                   etag_of(body), "--", "sh", "-c", "cat big.bin; printf 'err\\001' >&2"]
        for _ in range(2):
            result = self.qcache(*command)
            self.assertEqual((result.status, result.stdout), (0, body))
            self.assertEqual(result.stderr.count(b"err\x01"), 1)
            self.assertIn(b"--max-output", result.stderr)
        self.assertEqual(self.counters()["entries"], 0)

    def test_etag_of_files_and_stdin(self):
        self.write("f.bin", b"\x00\x01binary")
        self.assertEqual(self.run_tool("etag", "f.bin").out, etag_of(b"\x00\x01binary") + "\n")
        self.assertEqual(self.run_tool("etag", "--weak", "-", stdin=b"abc").out,
                         "W/" + etag_of(b"abc") + "\n")
        self.assertEqual(self.run_tool("etag", stdin=b"").out, etag_of(b"") + "\n")
        self.assertError(self.run_tool("etag", "missing.txt"), 66, "missing.txt")

    def test_bad_input_is_refused_and_changes_nothing(self):
        self.cached("--tag", "t")
        tables = ["qcache_entries", "qcache_tags", "qcache_entry_tags", "qcache_counters"]
        before = self.state_dump(self.db, tables)
        cases = [
            (["run", "--ttl", "10 minutes", "--", "true"], "--ttl"),
            (["run", "--ttl", "5", "--", "true"], "--ttl"),
            (["run", "--", "true"], "--ttl"),
            (["run", "--ttl", "1m", "--stale-while-revalidate", "soon", "--", "true"],
             "--stale-while-revalidate"),
            (["run", "--ttl", "1m", "--tag", "bad\x01tag", "--", "true"], "\\u0001"),
            (["run", "--ttl", "1m", "--tag", "two words", "--", "true"], "tag"),
            (["invalidate", "--tag", "t\x1b[31m"], "\\u001b"),
            (["run", "--ttl", "1m", "--env", "1BAD", "--", "true"], "--env"),
            (["run", "--ttl", "1m", "--cache-status", "0,x", "--", "true"], "--cache-status"),
            (["run", "--ttl", "1m", "--lease", "500ms", "--", "true"], "--lease"),
            (["run", "--ttl", "1m"], "command"),
        ]
        for args, fragment in cases:
            with self.subTest(args=args):
                self.assertError(self.qcache(*args), 2, fragment)
        self.assertEqual(self.state_dump(self.db, tables), before)

    def test_stdin_larger_than_max_output_is_65_and_runs_nothing(self):
        result = self.qcache("run", "--ttl", "1m", "--stdin", "--max-output", "10", "--",
                             "sh", "-c", "echo run >> runs.txt; cat", stdin=b"12345678901")
        self.assertError(result, 65, "larger than the limit of 10 bytes")
        self.assertEqual((result.stdout, self.runs(), self.counters()["entries"]), (b"", 0, 0))

    def test_missing_state_is_66_for_readers(self):
        self.assertError(self.run_tool("--db", self.state("none.db"), "stats"), 66)

    def test_command_not_found_is_127_and_caches_nothing(self):
        result = self.qcache("run", "--ttl", "1m", "--", "sluice-no-such-command")
        self.assertError(result, 127, "not found")
        self.assertEqual(self.counters()["entries"], 0)
        self.assertEqual(self.counters()["computing"], 0)


if __name__ == "__main__":
    unittest.main()
