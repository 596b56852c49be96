"""stock: set, add, show, list, reserve (single and --batch), commit, release, expire, check:
every documented status, on SQLite, PostgreSQL and Redis."""

import datetime
import importlib.util
import json
import unittest
from unittest import mock

import sluice_cli
from sluice_cli import ToolTestCase, on_every_backend

T0 = "2026-03-01T12:00:00Z"


def at(seconds):
    """T0 plus `seconds`, as --now takes it."""
    base = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
    return (base + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def lines(result):
    return [json.loads(line) for line in result.out.splitlines()]


@on_every_backend
class StockTest(ToolTestCase):
    tool = "stock"

    def stock(self, *args, now=T0, stdin=b""):
        return self.run_tool("--now", now, *args, stdin=stdin)

    def counts(self, sku):
        result = self.stock("show", sku)
        self.assertStatus(result, 0)
        return lines(result)[0]

    def assertConsistent(self):
        result = self.stock("check")
        self.assertStatus(result, 0)
        for row in lines(result):
            self.assertEqual(row["available"] + row["held"] + row["sold"], row["total"], row)
            self.assertTrue(row["consistent"], row)

    def snapshot(self):
        """Every SKU's counts and every hold, on any backend: what a refused command must
        leave as it was."""
        return self.stock("show").out + self.stock("list").out

    def test_help_and_a_bad_flag(self):
        if self.backend != "sqlite":
            self.skipTest("no state: once is enough")
        self.assertStatus(self.run_tool("--help"), 0)
        self.assertIn("reserve", self.run_tool("--help").out)
        self.assertError(self.run_tool("reserve", "--bogus"), 2, "--bogus")

    def test_set_reserve_commit_release_and_show(self):
        self.assertEqual(lines(self.stock("set", "tee", "--quantity", "5")),
                         [{"sku": "tee", "total": 5, "available": 5, "held": 0, "sold": 0}])
        first = self.stock("reserve", "tee", "--quantity", "2", "--hold", "10m")
        self.assertStatus(first, 0)
        self.assertEqual(lines(first), [{"hold": "tee:1", "sku": "tee", "quantity": 2,
                                         "expires": "2026-03-01T12:10:00Z", "state": "held",
                                         "customer": None, "key": None}])
        second = self.stock("reserve", "tee", "--quantity", "3")
        self.assertEqual(lines(second)[0]["hold"], "tee:2")
        self.assertEqual(self.counts("tee"),
                         {"sku": "tee", "total": 5, "available": 0, "held": 5, "sold": 0})
        bought = self.stock("commit", "tee:1", now=at(60))
        self.assertStatus(bought, 0)
        self.assertEqual(lines(bought)[0]["state"], "committed")
        released = self.stock("release", "tee:2", now=at(60))
        self.assertStatus(released, 0)
        self.assertEqual(lines(released)[0]["state"], "released")
        self.assertEqual(self.counts("tee"),
                         {"sku": "tee", "total": 5, "available": 3, "held": 0, "sold": 2})
        # A retried commit is the same purchase, not a second one.
        self.assertStatus(self.stock("commit", "tee:1", now=at(61)), 0)
        self.assertEqual(self.counts("tee")["sold"], 2)
        added = self.stock("add", "tee", "--quantity", "4")
        self.assertEqual(lines(added)[0], {"sku": "tee", "total": 9, "available": 7, "held": 0,
                                           "sold": 2})
        listed = self.stock("list", "tee")
        self.assertEqual([(row["hold"], row["state"]) for row in lines(listed)],
                         [("tee:1", "committed"), ("tee:2", "released")])
        if self.backend == "sqlite":  # the format is the same on every backend
            self.assertIn("available", self.stock("show", "--format", "table").out)
        self.assertConsistent()

    def test_sold_out_is_1_and_changes_nothing(self):
        self.stock("set", "tee", "--quantity", "1")
        self.assertStatus(self.stock("reserve", "tee"), 0)
        before = self.snapshot()
        refused = self.stock("reserve", "tee")
        self.assertStatus(refused, 1)
        self.assertIn("sold out", refused.err)
        self.assertEqual(lines(refused)[0]["state"], "sold_out")
        self.assertIsNone(lines(refused)[0]["hold"])
        self.assertEqual(self.snapshot(), before)

    def test_expired_holds_go_back_at_the_next_reserve_and_cannot_be_committed(self):
        self.stock("set", "tee", "--quantity", "1")
        self.stock("reserve", "tee", "--hold", "30s")
        self.assertStatus(self.stock("reserve", "tee", now=at(29)), 1)
        later = self.stock("reserve", "tee", now=at(30))
        self.assertStatus(later, 0)
        self.assertEqual(lines(later)[0]["hold"], "tee:2")
        late = self.stock("commit", "tee:1", now=at(31))
        self.assertStatus(late, 4)
        self.assertIn("expired", late.err)
        self.assertEqual(late.out, "")
        self.assertEqual(self.counts("tee"),
                         {"sku": "tee", "total": 1, "available": 0, "held": 1, "sold": 0})
        self.assertConsistent()

    def test_expire_returns_every_expired_hold(self):
        self.stock("set", "a", "--quantity", "3")
        self.stock("set", "b", "--quantity", "3")
        self.stock("reserve", "a", "--quantity", "2", "--hold", "1m")
        self.stock("reserve", "b", "--quantity", "3", "--hold", "2m")
        self.assertEqual(lines(self.stock("expire", now=at(90))), [{"expired": 1, "quantity": 2}])
        self.assertEqual(lines(self.stock("expire", now=at(200))), [{"expired": 1, "quantity": 3}])
        self.assertEqual(self.counts("a")["available"], 3)
        self.assertEqual(self.counts("b")["available"], 3)
        self.assertConsistent()

    def test_the_same_key_returns_the_same_hold(self):
        self.stock("set", "tee", "--quantity", "10")
        first = self.stock("reserve", "tee", "--quantity", "2", "--key", "order-7")
        again = self.stock("reserve", "tee", "--quantity", "2", "--key", "order-7", now=at(5))
        self.assertStatus(again, 0)
        self.assertEqual(again.out, first.out)
        self.assertEqual(self.counts("tee")["held"], 2)
        before = self.snapshot()
        other = self.stock("reserve", "tee", "--quantity", "3", "--key", "order-7")
        self.assertError(other, 65, "order-7", "another request", "tee:1")
        self.assertEqual(self.snapshot(), before)
        # After expiry the key still names its hold, which can no longer be bought.
        expired = self.stock("reserve", "tee", "--quantity", "2", "--key", "order-7", now=at(601))
        self.assertStatus(expired, 4)
        self.assertEqual(lines(expired)[0]["state"], "expired")

    def test_customer_limit_is_3_and_counts_purchases(self):
        self.stock("set", "tee", "--quantity", "10")
        limit = ["--customer", "ann", "--limit-per-customer", "2"]
        hold = lines(self.stock("reserve", "tee", *limit))[0]["hold"]
        self.stock("commit", hold)
        self.assertStatus(self.stock("reserve", "tee", *limit), 0)
        over = self.stock("reserve", "tee", *limit)
        self.assertStatus(over, 3)
        self.assertIn("ann", over.err)
        self.assertEqual(lines(over)[0]["state"], "over_limit")
        self.assertStatus(self.stock("reserve", "tee", "--customer", "bob",
                                     "--limit-per-customer", "2", "--quantity", "2"), 0)
        self.assertEqual(self.counts("tee")["available"], 6)

    def test_bad_input_changes_nothing(self):
        self.stock("set", "tee", "--quantity", "5")
        self.stock("reserve", "tee")
        before = self.snapshot()
        usage = [
            (("reserve", "tee", "--quantity", "0"), 2, "--quantity"),
            (("reserve", "tee", "--quantity", "-1"), 2, "--quantity"),
            (("add", "tee", "--quantity", "0"), 2, "--quantity"),
            (("set", "tee", "--quantity", "-3"), 2, "--quantity"),
            (("reserve", "tee", "--hold", "soon"), 2, "--hold"),
            (("reserve", "tee", "--hold", "0"), 2, "--hold"),
            (("reserve", "tee", "--limit-per-customer", "2"), 2, "--customer"),
            (("reserve", "a b"), 2, "SKU"),
            (("commit", "nohold"), 2, "SKU:N"),
        ]
        # Usage errors are found before any state is opened: once is enough.
        cases = [
            (("reserve", "nope"), 65, "unknown SKU 'nope'"),
            (("add", "nope", "--quantity", "2"), 65, "unknown SKU 'nope'"),
            (("set", "tee", "--quantity", "0"), 65, "1 are held"),
            (("show", "nope"), 65, "unknown SKU"),
        ]
        for args, status, fragment in cases + (usage if self.backend == "sqlite" else []):
            with self.subTest(args=args):
                self.assertError(self.stock(*args), status, fragment)
        for args in (("commit", "tee:9"), ("release", "tee:9")):
            unknown = self.stock(*args)
            self.assertStatus(unknown, 4)
            self.assertIn("unknown hold 'tee:9'", unknown.err)
        self.stock("commit", "tee:1")
        before = self.snapshot()
        refused = self.stock("release", "tee:1")
        self.assertStatus(refused, 4)
        self.assertIn("committed", refused.err)
        self.assertEqual(self.snapshot(), before)

    def test_show_and_check_need_existing_state(self):
        if self.backend == "redis":
            self.skipTest("a Redis namespace always exists (it is just empty)")
        self.assertStatus(self.stock("show"), 66)
        self.assertStatus(self.stock("check"), 66)

    def test_batch_prints_one_line_per_request(self):
        self.stock("set", "tee", "--quantity", "3")
        self.stock("set", "cap", "--quantity", "1")
        requests = "".join(json.dumps(line) + "\n" for line in [
            {"sku": "tee", "quantity": 2, "customer": "ann", "key": "k1"},
            {"sku": "cap", "hold": "1m"},
            {"sku": "cap"},
            {"sku": "tee", "quantity": 2, "customer": "ann", "key": "k1"},
            {"sku": "tee", "quantity": 1, "customer": "ann", "limit_per_customer": 2},
            {"sku": "tee"},
        ])
        result = self.stock("reserve", "--batch", "--hold", "5m", stdin=requests)
        self.assertStatus(result, 1)
        got = lines(result)
        self.assertEqual([(row["hold"], row["state"]) for row in got],
                         [("tee:1", "held"), ("cap:1", "held"), (None, "sold_out"),
                          ("tee:1", "held"), (None, "over_limit"), ("tee:2", "held")])
        self.assertEqual(got[0]["expires"], "2026-03-01T12:05:00Z")
        self.assertEqual(got[1]["expires"], "2026-03-01T12:01:00Z")
        self.assertEqual(self.counts("tee")["available"], 0)
        self.assertConsistent()

    def test_a_bad_batch_line_or_unknown_sku_is_65_and_changes_nothing(self):
        self.stock("set", "tee", "--quantity", "3")
        before = self.snapshot()
        cases = [
            ('{"sku":"tee"}\n{"sku":"tee","quantity":0}\n', "<stdin>:2", "quantity"),
            ('{"sku":"tee","hold":"later"}\n', "<stdin>:1", "hold"),
            ('{"sku":"tee"}\n{"sku":"nope"}\n', "<stdin>:2", "unknown SKU 'nope'"),
            ('{"quantity":1}\n', "<stdin>:1", "sku"),
            ('{"sku":"tee"\n', "<stdin>:1", ""),
        ]
        for stdin, where, fragment in cases:
            with self.subTest(stdin=stdin):
                result = self.stock("reserve", "--batch", stdin=stdin)
                self.assertError(result, 65, where, fragment)
                self.assertEqual(result.out, "")
        self.assertEqual(self.snapshot(), before)
        self.assertStatus(self.stock("reserve", "--batch", "missing.jsonl"), 66)
        self.assertError(self.stock("reserve", "--batch", "--key", "k"), 2, "--key")


class ServerStateNames(unittest.TestCase):
    # A whole server variant (11 tests) once failed at once: a test process that got the PID of
    # an earlier one (pid_max is 32768) named its schemas, and Redis namespaces, as that one
    # had, and found them taken (CREATE SCHEMA failed) or full of its keys.
    def test_two_processes_with_the_same_pid_name_different_states(self):
        names = []
        for copy in range(2):
            # A fresh copy of the module each time, as a new test process would load it.
            spec = importlib.util.spec_from_file_location(f"sluice_cli_{copy}",
                                                          sluice_cli.__file__)
            module = importlib.util.module_from_spec(spec)
            with mock.patch("os.getpid", return_value=4242):
                spec.loader.exec_module(module)
            module.REDIS_URL = "unix:///r.sock"
            names.append(module.fresh_redis_namespace())
        self.assertTrue(names[0].startswith("unix:///r.sock?namespace=t4242_"), names)
        self.assertNotEqual(names[0], names[1])

if __name__ == "__main__":
    unittest.main()
