"""stock under contention: processes racing for 100 units (16 at normal depth) never oversell;
limits hold; a retried --key returns its hold; holds expiring, released and bought keep the
invariant; SIGKILL during reserve and commit loses and doubles nothing. On SQLite, PostgreSQL
and Redis (whose server, SIGKILLed and restarted, replays its append-only file)."""

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import unittest

from sluice_cli import DEPTH, SOURCE, ToolTestCase, on_every_backend, rounds, tool_path

T0 = 1772366400  # 2026-03-01T12:00:00Z, as @EPOCH

# One buyer process: runs its requests one after another (a process per request, as buyers
# are), and prints one JSON line per request: its arguments, status and output.
WORKER = r'''
import json, subprocess, sys
stock, requests = sys.argv[1], json.load(open(sys.argv[2]))
for args in requests:
    # A long --busy-timeout: on a loaded machine a queue of FULL-sync writers can outlast the
    # default 5s, and a buyer told 75 (try again later) would be counted as a failure.
    done = subprocess.run([stock, "--busy-timeout", "2m", *args], capture_output=True, text=True)
    print(json.dumps({"args": args, "status": done.returncode, "out": done.stdout,
                      "err": done.stderr}), flush=True)
'''


@on_every_backend
class StockConcurrency(ToolTestCase):
    tool = "stock"

    def run_buyers(self, plans):
        """Runs one worker per plan (a list of argument lists) at once; their result lines."""
        self.write("worker.py", WORKER)
        children = []
        for index, plan in enumerate(plans):
            self.write(f"plan{index}.json", json.dumps(plan))
            children.append(subprocess.Popen(
                [sys.executable, self.path("worker.py"), tool_path("stock"),
                 self.path(f"plan{index}.json")],
                cwd=self.dir, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True))
        self.children.extend(children)
        results = []
        for child in children:
            out, err = child.communicate(timeout=1200)
            self.assertEqual(child.returncode, 0, err)
            results.extend(json.loads(line) for line in out.splitlines())
        return results

    def stock(self, *args):
        result = self.run_tool(*args)
        self.assertStatus(result, 0)
        return [json.loads(line) for line in result.out.splitlines()]

    def assertInvariant(self):
        check = self.run_tool("check")
        self.assertStatus(check, 0)
        for row in (json.loads(line) for line in check.out.splitlines()):
            self.assertEqual(row["available"] + row["held"] + row["sold"], row["total"], row)
            self.assertTrue(row["consistent"], row)

    def sizes(self, requests, processes=6):
        """(processes, requests per process): 10,000 buyers in 32 processes at long depth."""
        if DEPTH == "long":
            return 32, 313
        return rounds(processes, 32), rounds(requests, 313)

    def test_exactly_the_units_are_held_however_many_race_for_them(self):
        # The 100 units for 10,000 buyers at long depth; 16 units for 4 x 6 requests
        # at normal depth (short: fewer processes, still more requests than units).
        units = 100 if DEPTH == "long" else 16
        processes, requests = self.sizes(6, processes=4)
        requests = max(requests, units // processes + 2)  # always more requests than units
        self.stock("set", "drop", "--quantity", str(units))
        plans = [[["reserve", "drop", "--hold", "1h"] for _ in range(requests)]
                 for _ in range(processes)]
        results = self.run_buyers(plans)
        statuses = sorted(result["status"] for result in results)
        held = [json.loads(result["out"])["hold"] for result in results if result["status"] == 0]
        expected = min(units, processes * requests)
        self.assertEqual(len(held), expected, [r for r in results if r["status"] not in (0, 1)])
        self.assertEqual(len(set(held)), expected)
        self.assertEqual(set(statuses), {0, 1} if processes * requests > units else {0})
        self.assertEqual(self.stock("show", "drop"),
                         [{"sku": "drop", "total": units, "available": units - expected,
                           "held": expected, "sold": 0}])
        self.assertInvariant()

    def test_limits_and_retried_keys_hold_under_contention(self):
        self.stock("set", "drop", "--quantity", "100")
        processes, requests = self.sizes(6, 3)
        generator = random.Random(26)
        # Few customers at normal depth, so that buyers of one customer race for its limit.
        customers = 12 if DEPTH == "long" else 3
        plans = []
        for worker in range(processes):
            plan = []
            for index in range(requests // 2):
                customer = f"c{generator.randrange(customers)}"
                request = ["reserve", "drop", "--hold", "1h", "--customer", customer,
                           "--limit-per-customer", "2", "--key", f"w{worker}-{index}"]
                plan += [request, request]  # every request retried once
            plans.append(plan)
        results = self.run_buyers(plans)
        by_key = {}
        for result in results:
            self.assertIn(result["status"], (0, 1, 3), result)
            by_key.setdefault(result["args"][-1], []).append(result)
        for key, tries in by_key.items():
            # The retry gets exactly what the first try got (a hold, or the same refusal).
            if tries[0]["status"] == 0:
                self.assertEqual(tries[1]["out"], tries[0]["out"], key)
                self.assertEqual(tries[1]["status"], 0, key)
        holds = self.stock("list", "drop")
        per_customer = {}
        for hold in holds:
            per_customer[hold["customer"]] = per_customer.get(hold["customer"], 0) + 1
        self.assertLessEqual(max(per_customer.values()), 2, per_customer)
        self.assertEqual(len({hold["hold"] for hold in holds}), len(holds))
        self.assertInvariant()

    def test_expiring_released_and_bought_holds_never_oversell(self):
        self.stock("set", "drop", "--quantity", "100")
        processes, requests = self.sizes(6, 3)
        # Each buyer's clock moves a second per request; holds last 5s: many expire while
        # others are taken, released or bought.
        plans = []
        for worker in range(processes):
            plan = []
            for index in range(requests // 2):
                now = f"@{T0 + index}"
                hold = f"drop:{worker * 1000 + index}"  # mostly someone else's hold, or none
                plan.append(["--now", now, "reserve", "drop", "--quantity", "2", "--hold", "5s"])
                plan.append(["--now", now, "commit" if index % 2 else "release", hold])
            plans.append(plan)
        results = self.run_buyers(plans)
        for result in results:
            self.assertIn(result["status"], (0, 1, 4), result)
        counts = self.stock("show", "drop")[0]
        self.assertLessEqual(counts["sold"], 100)
        self.assertInvariant()

    def test_sigkill_during_reserve_and_commit_loses_and_doubles_nothing(self):
        self.stock("set", "drop", "--quantity", "100")
        generator = random.Random(27)
        for index in range(rounds(8, 200)):
            args = (["reserve", "drop", "--hold", "1h", "--key", f"k{index}"] if index % 2 == 0
                    else ["commit", f"drop:{index // 2 + 1}"])
            child = self.start_tool(*args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL)
            try:
                child.wait(timeout=generator.uniform(0, 0.03))
            except subprocess.TimeoutExpired:
                child.kill()
            child.communicate(timeout=60)
        self.assertInvariant()
        # A killed reserve either made its hold or not; retried with its key it is made once.
        for index in range(0, rounds(8, 200), 2):
            self.assertIn(self.run_tool("reserve", "drop", "--hold", "1h", "--key",
                                        f"k{index}").status, (0,))
        keys = [hold["key"] for hold in self.stock("list", "drop")]
        self.assertEqual(len(keys), len(set(keys)))
        self.assertInvariant()
        location = self.env.get("SLUICE_STATE_URL") or os.path.join(
            self.env["SLUICE_STATE_DIR"], "stock.db")
        self.assertStateIntact(location)

    def test_one_key_for_two_skus_at_once_is_refused_not_an_error(self):
        # A --key is unique across SKUs, but a reserve locks only its SKU's row: two requests
        # with one key for two SKUs both found it unused, and the second to insert it failed
        # on the unique index (a raw SQL error) instead of being refused as another request.
        if self.backend != "postgresql":
            self.skipTest("about PostgreSQL's row locks (SQLite has one writer, Redis one script)")
        self.stock("set", "a", "--quantity", "5")
        self.stock("set", "b", "--quantity", "5")
        self.stock("set", "c", "--quantity", "5")
        url = self.env["SLUICE_STATE_URL"]
        # A session holding an uncommitted row with the key (for a third SKU, whose row neither
        # request locks): a reserve that passes its check for the key waits at the unique index,
        # so both can be made to pass it before either inserts.
        blocker = subprocess.Popen(["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        self.children.append(blocker)
        blocker.stdin.write(
            "BEGIN; INSERT INTO stock_holds (hold, sku, number, quantity, request_key, "
            "created_at, expires_at, state) VALUES ('c:99', 'c', 99, 1, 'k', 0, 1, 'held');\n"
            "SELECT 'ready';\n")
        blocker.stdin.flush()
        self.assertEqual(blocker.stdout.readline().strip(), "ready")
        requests = [self.start_tool("--busy-timeout", "1m", "reserve", sku, "--key", "k",
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                    for sku in ("a", "b")]
        waiting = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
                   "query LIKE '%stock%'")
        deadline = time.monotonic() + 20
        while (time.monotonic() < deadline
               and int(self.state_rows(url, waiting)[0][0]) < len(requests)):
            time.sleep(0.05)
        blocker.communicate("ROLLBACK;\n", timeout=60)
        results = [(request.wait(timeout=60), request.stderr.read().decode())
                   for request in requests]
        self.assertEqual(sorted(status for status, _ in results), [0, 65], results)
        self.assertIn("another request", "".join(err for _, err in results))
        self.assertInvariant()

    def test_a_redis_server_killed_and_restarted_from_its_aof_keeps_every_hold(self):
        # A server of its own, SIGKILLed: what it acknowledged was written to its append-only
        # file (appendfsync everysec syncs it each second, so only an operating-system crash
        # could lose the last second), and the restarted server replays it whole.
        if self.backend != "redis":
            self.skipTest("about the Redis server's append-only file")
        script = os.path.join(SOURCE, "scripts", "redis")
        # Outside the test's directory, which tearDown removes before cleanups would run: the
        # server is stopped (and its directory removed) in the finally below.
        directory = tempfile.mkdtemp(prefix="stock-redis-")
        url = subprocess.run([script, "start", directory], capture_output=True, text=True,
                             check=True).stdout.strip()
        try:
            self.check_restart_keeps_every_hold(script, directory, url)
        finally:
            subprocess.run([script, "stop", directory], check=False)

    def check_restart_keeps_every_hold(self, script, directory, url):
        self.env["SLUICE_STATE_URL"] = url
        self.stock("set", "drop", "--quantity", "100")
        requests = "".join(json.dumps({"sku": "drop", "key": f"k{index}"}) + "\n"
                           for index in range(40))
        held = self.run_tool("reserve", "--batch", "--hold", "1h", stdin=requests)
        self.assertStatus(held, 0)
        for index in range(1, 4):
            self.stock("commit", f"drop:{index}")
        before = self.stock("show") + self.stock("list")
        subprocess.run([script, "crash", directory], check=True)
        subprocess.run([script, "restart", directory], check=True)
        self.assertEqual(self.stock("show") + self.stock("list"), before)
        self.assertEqual(self.stock("show", "drop")[0],
                         {"sku": "drop", "total": 100, "available": 60, "held": 37, "sold": 3})
        self.assertInvariant()
        # The retried requests find their holds (three of them bought since).
        again = self.run_tool("reserve", "--batch", "--hold", "1h", stdin=requests)
        self.assertEqual([json.loads(line)["hold"] for line in again.out.splitlines()],
                         [json.loads(line)["hold"] for line in held.out.splitlines()])


if __name__ == "__main__":
    unittest.main()
