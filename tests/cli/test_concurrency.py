"""Concurrency suite for the stateful tools (emi-schedule, price, cohort, zscore --db, reindex;
idemkey has its own in test_idemkey_concurrency.py).

For N = 2, 8 and 32 (2 and 8 in the sanitizer pass), N workers start together (a barrier), each
running a mix of its tool's state-changing and reading commands, one process at a time, on ONE
state file. Every process must exit 0 (or the definite "no", 1, where the plan expects it, such as
a quote already used) or 75 with its one-line "busy" message, never 70 and never SQLite's own
"database is locked"; no process may run longer than PROCESS_TIMEOUT (a deadlock fails the test). A
command that exits 75 is retried until it gets through, so that the work is complete; then the
tool's invariant is checked exactly against an independent computation (nothing lost, nothing done
twice). The generous runs use --busy-timeout 30s, so 75 should be rare; each tool also has a run
with --busy-timeout 1ms, where the test holds the writer lock until some process has exited 75, so
that 75 is certain, must be the only failure and retries must finish the work. emi-schedule and
price run again with their state on the test PostgreSQL server (EmiConcurrencyOnPostgres,
PriceConcurrencyOnPostgres), where the lock held is an exclusive table lock in an open
transaction."""

import collections
import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
import unittest
from datetime import date
from fractions import Fraction

import test_emi_schedule
import test_price
from cohort_oracle import matrix as cohort_matrix
from sluice_cli import DEPTH, ToolTestCase, on_both_backends, tool_path
from test_cohort import random_events
from test_zscore_state import hourly, lines as zscore_lines

# Concurrent processes per round; the sanitizer pass (short depth, every process several times
# slower) stops at 8.
COUNTS = (2, 8) if DEPTH == "short" else (2, 8, 32)
PROCESS_TIMEOUT = 60     # seconds: a process still running after this is a deadlock
GENEROUS = "30s"         # --busy-timeout of the generous runs (below PROCESS_TIMEOUT)
TINY = "1ms"             # --busy-timeout of the runs where 75 is certain
MAX_ATTEMPTS = 2000      # of one command exiting 75 before the test gives up on it
LOCKED_TEXTS = ("database is locked", "sqlite_busy", "database table is locked", "this is a bug",
                "internal error")


class Step:
    """One command of a worker. `argv` is a list or a function of the worker (for a command
    that needs an earlier command's output); `allowed` are statuses other than 0 and 75 that
    the plan expects (their meaning is checked by the test)."""

    def __init__(self, name, program, argv, stdin=None, allowed=(), tool=None):
        self.name, self.program, self.argv = name, program, argv
        self.stdin, self.allowed, self.tool = stdin, set(allowed), tool


class Attempt:
    def __init__(self, step, argv, status, out, err, seconds):
        self.step, self.argv, self.status = step, argv, status
        self.out, self.err, self.seconds = out, err, seconds

    def records(self):
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    def describe(self):
        return (f"{os.path.basename(self.step.program)} {' '.join(self.argv)} -> {self.status} "
                f"after {self.seconds:.2f}s; stderr: {self.err.strip()[:400]!r}")


class Worker(threading.Thread):
    def __init__(self, case, index, steps, barrier, on_busy):
        super().__init__(daemon=True)
        self.case, self.index, self.steps = case, index, steps
        self.barrier, self.on_busy = barrier, on_busy
        self.attempts = []
        self.error = None
        self.rng = random.Random(index)

    def run(self):
        try:
            self.barrier.wait(timeout=PROCESS_TIMEOUT)
            for step in self.steps:
                argv = step.argv(self) if callable(step.argv) else step.argv
                for _ in range(MAX_ATTEMPTS):
                    attempt = self.case.launch(step, argv)
                    self.attempts.append(attempt)
                    if attempt.status != 75:
                        break
                    self.on_busy()
                    # A retry's backoff (as `backoff --retry-on 75` would), not a wait for time
                    # to pass in the tool.
                    time.sleep(self.rng.uniform(0.001, 0.01))
                if attempt.status is None:
                    return  # timed out: reported by the check
        except Exception as error:  # reported by the test
            self.error = repr(error)

    def final(self, name):
        """The last attempt of the step called `name` (the one that got through)."""
        return [a for a in self.attempts if a.step.name == name][-1]

    def all(self, name):
        return [a for a in self.attempts if a.step.name == name]


class SqliteWriteLock:
    """Holds an application database's write lock (BEGIN IMMEDIATE), as the application would."""

    def __init__(self, db):
        self.connection = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        self.connection.execute("BEGIN IMMEDIATE")

    def release(self):
        self.connection.execute("ROLLBACK")
        self.connection.close()


def money(minor, exponent=2):
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor)).rjust(exponent + 1, "0")
    return sign + (digits[:-exponent] + "." + digits[-exponent:] if exponent else digits)


def jsonl(rows):
    return "".join(json.dumps(row) + "\n" for row in rows)


def assert_same(case, actual, expected, message=""):
    """assertEqual for large collections, failing with a short account of the differences
    (unittest's own diff of thousands of differing rows takes minutes)."""
    if actual == expected:
        return
    if isinstance(actual, str) and isinstance(expected, str):
        actual, expected = actual.splitlines(), expected.splitlines()
    if isinstance(actual, (set, frozenset)) and isinstance(expected, (set, frozenset)):
        actual, expected = dict.fromkeys(actual), dict.fromkeys(expected)
    if isinstance(actual, dict) and isinstance(expected, dict):
        missing = [key for key in expected if key not in actual]
        extra = [key for key in actual if key not in expected]
        different = [(key, actual[key], expected[key]) for key in expected
                     if key in actual and actual[key] != expected[key]]
        case.fail(f"{message}: {len(missing)} missing, {len(extra)} unexpected, "
                  f"{len(different)} different; for example missing {missing[:3]!r}, "
                  f"unexpected {extra[:3]!r}, (key, got, expected) {different[:3]!r}"[:3000])
    actual, expected = list(actual), list(expected)
    first = next((index for index, (got, wanted) in enumerate(zip(actual, expected))
                  if got != wanted), min(len(actual), len(expected)))
    case.fail(f"{message}: {len(actual)} items, {len(expected)} expected; first difference "
              f"at {first}: {actual[first:first + 2]!r} != {expected[first:first + 2]!r}"[:3000])


def integrity(db):
    with sqlite3.connect(db) as connection:
        return connection.execute("PRAGMA integrity_check").fetchall()


class ConcurrencyCase(ToolTestCase):
    """Starts workers together, bounds each process, checks every exit and message."""

    def launch(self, step, argv):
        began = time.monotonic()
        stdin = step.stdin if step.stdin is not None else b""
        try:
            completed = subprocess.run([step.program, *argv], input=stdin, capture_output=True,
                                       cwd=self.dir, env=self.env, timeout=PROCESS_TIMEOUT)
        except subprocess.TimeoutExpired as expired:
            return Attempt(step, argv, None, (expired.stdout or b"").decode(errors="replace"),
                           (expired.stderr or b"").decode(errors="replace"),
                           time.monotonic() - began)
        return Attempt(step, argv, completed.returncode, completed.stdout.decode(),
                       completed.stderr.decode(errors="replace"), time.monotonic() - began)

    def run_workers(self, plans, label, hold=None):
        """Runs one worker per plan (a list of Steps), all started together. With `hold` (a
        lock already taken), releases it once a process has exited 75. Returns the workers
        after checking every attempt."""
        busy = threading.Event()
        barrier = threading.Barrier(len(plans))
        workers = [Worker(self, index, steps, barrier, busy.set)
                   for index, steps in enumerate(plans)]
        began = time.monotonic()
        for worker in workers:
            worker.start()
        if hold is not None:
            seen = busy.wait(timeout=PROCESS_TIMEOUT)
            hold.release()
            self.assertTrue(seen, f"{label}: no process exited 75 while the writer lock was held")
        bound = PROCESS_TIMEOUT * (max(len(steps) for steps in plans) + 2)
        for worker in workers:
            worker.join(timeout=max(1, bound - (time.monotonic() - began)))
        stuck = [worker.index for worker in workers if worker.is_alive()]
        self.assertEqual(stuck, [], f"{label}: workers still running after {bound}s")
        self.check_attempts(workers, label)
        attempts = [a for worker in workers for a in worker.attempts]
        retried = sum(1 for a in attempts if a.status == 75)
        print(f"\n  {label}: {len(plans)} workers, {len(attempts)} processes "
              f"({retried} exited 75 and were retried), {time.monotonic() - began:.1f}s",
              file=sys.stderr)
        return workers

    def check_attempts(self, workers, label):
        problems = []
        for worker in workers:
            if worker.error:
                problems.append(f"worker {worker.index}: {worker.error}")
            last = {}
            for attempt in worker.attempts:
                last[id(attempt.step)] = attempt
                lowered = attempt.err.lower()
                if attempt.status is None:
                    problems.append(f"worker {worker.index}: still running after "
                                    f"{PROCESS_TIMEOUT}s (a deadlock?): {attempt.describe()}")
                elif attempt.status == 75:
                    lines = attempt.err.splitlines()
                    tool = attempt.step.tool
                    if (len(lines) != 1 or (tool and not lines[0].startswith(f"{tool}: error: "))
                            or not ("busy" in lines[0] or "held" in lines[0])):
                        problems.append(f"worker {worker.index}: 75 without its one-line busy "
                                        f"message: {attempt.describe()}")
                elif attempt.status != 0 and attempt.status not in attempt.step.allowed:
                    problems.append(f"worker {worker.index}: {attempt.describe()}")
                if any(text in lowered for text in LOCKED_TEXTS):
                    problems.append(f"worker {worker.index}: SQLite busy or internal error "
                                    f"text: {attempt.describe()}")
            for attempt in last.values():
                if attempt.status == 75:
                    problems.append(f"worker {worker.index}: still 75 after {MAX_ATTEMPTS} "
                                    f"attempts: {attempt.describe()}")
            missing = len(worker.steps) - len(last)
            if missing and not worker.error and all(a.status is not None for a in last.values()):
                problems.append(f"worker {worker.index}: {missing} step(s) never ran")
        if problems:
            self.fail(f"{label}: {len(problems)} problem(s):\n" + "\n".join(problems[:20]))

    def tool_step(self, tool, name, argv, **options):
        return Step(name, tool_path(tool), argv, tool=tool, **options)


# ------------------------------------------------------------------------------ emi-schedule

EMI_RATE = Fraction(10, 100)
EMI_TODAY = "2026-06-01"          # --today of record and collect
EMI_LATER = "2027-06-01"          # --today of status: every installment is due by then
EMI_REMIND = ("--today", "2026-02-10", "--ahead", "10d")  # only the R loans fall due then
NON_RETRYABLE = {"R02", "R03", "R04", "R07", "R10"}

# Each installment's results, in attempt order (the whole sequence goes in every file that
# names the installment, so any interleaving of files applies each result exactly once).
SCENARIOS = {
    "paid": [("paid", None, None)],
    "retry": [("failed", "R01", None), ("paid", None, None)],
    "overdue_then_paid": [("failed", "R01", None), ("failed", "R01", None),
                          ("failed", "R01", None), ("paid", None, None)],
    "hard_failure": [("failed", "R02", None)],
    "partial": [("paid", None, "1000.00")],
    "partial_then_rest": [("paid", None, "2500.00"), ("paid", None, None)],
    "untouched": [],
}


def emi_results(loan, n, scenario):
    results = []
    for attempt, (result, code, amount) in enumerate(SCENARIOS[scenario], start=1):
        line = {"loan": loan, "n": n, "attempt": attempt, "result": result}
        if code:
            line["code"] = code
        if amount:
            line["amount"] = amount
        results.append(line)
    return results


def interleave(sequences, rng):
    """Merges sequences at random, keeping each one's order."""
    pending = [list(sequence) for sequence in sequences if sequence]
    merged = []
    while pending:
        chosen = rng.randrange(len(pending))
        merged.append(pending[chosen].pop(0))
        if not pending[chosen]:
            pending.pop(chosen)
    return merged


class WorkerCounts:
    """The two cases of every tool but reindex: N = 2, 8 and 32 workers with a generous busy
    timeout, and 8 workers with a tiny one while the writer lock is held. The class defines
    run_scenario(workers_count, busy_timeout, hold_lock=False)."""

    def test_2_8_and_32_processes(self):
        for count in COUNTS:
            with self.subTest(processes=count):
                self.run_scenario(count, GENEROUS)

    def test_tiny_busy_timeout_gives_only_75_and_retries_finish(self):
        self.run_scenario(8, TINY, hold_lock=True)


class EmiModel:
    """Independent model of a loan's installments: the schedule from test_emi_schedule's
    Fraction oracle, the collection rules of emi-schedule(1) (max attempts 3, penalty 2% of
    the payment rounded half-up, charged once; a payment settles penalty, interest, principal).
    """

    def __init__(self, principal_minor, first_due):
        _, rows = test_emi_schedule.oracle(principal_minor, EMI_RATE, 12, first_due)
        self.items = {n: {"n": n, "due_date": due, "payment": payment, "interest": interest,
                          "principal": principal, "closing": closing, "state": "due",
                          "attempts": 0, "penalty": 0, "paid": 0}
                      for n, due, _, payment, interest, principal, closing in rows}

    @staticmethod
    def outstanding(item):
        return item["payment"] + item["penalty"] - item["paid"]

    def apply(self, result):
        item = self.items[result["n"]]
        item["attempts"] += 1
        if result["result"] == "failed":
            if result.get("code") in NON_RETRYABLE or item["attempts"] >= 3:
                if item["state"] != "overdue":
                    item["state"] = "overdue"
                    item["penalty"] = test_emi_schedule.round_half_up(
                        Fraction(item["payment"] * 2, 100))
            return
        amount = (test_emi_schedule.minor(result["amount"], 2) if "amount" in result
                  else self.outstanding(item))
        item["paid"] += amount
        if self.outstanding(item) == 0:
            item["state"] = "paid"

    def show(self, loan):
        return [{"loan": loan, "n": n, "due_date": i["due_date"], "payment": money(i["payment"]),
                 "interest": money(i["interest"]), "principal": money(i["principal"]),
                 "closing": money(i["closing"]), "state": i["state"], "attempts": i["attempts"],
                 "penalty": money(i["penalty"]), "paid": money(i["paid"]),
                 "outstanding": money(self.outstanding(i))} for n, i in sorted(self.items.items())]

    def status(self, loan):
        items = list(self.items.values())
        due = [i for i in items if i["state"] == "due"]
        overdue = [i for i in items if i["state"] == "overdue"]
        # Scenarios never pay before a penalty is charged, so the split is penalty first.
        repaid = sum(min(i["principal"], max(0, i["paid"] - i["penalty"] - i["interest"]))
                     for i in items)
        return {"loan": loan, "currency": "INR", "installments": len(items),
                "paid": sum(1 for i in items if i["state"] == "paid"), "due": len(due),
                "due_amount": money(sum(self.outstanding(i) for i in due)),
                "overdue": len(overdue),
                "overdue_amount": money(sum(self.outstanding(i) for i in overdue)),
                "penalties": money(sum(i["penalty"] for i in items)),
                "outstanding_principal": money(sum(i["principal"] for i in items) - repaid)}


@on_both_backends
class EmiConcurrency(WorkerCounts, ConcurrencyCase):
    tool = "emi-schedule"
    SHARED = 6   # loans created before the workers start, whose results many workers record
    REMIND = 3   # loans whose first installment falls in the remind window

    @staticmethod
    def terms(principal, disbursed="2026-01-01"):
        return ("--principal", principal, "--rate", "10%", "--months", "12", "--currency", "INR",
                "--disbursed", disbursed)

    def run_scenario(self, workers_count, busy_timeout, hold_lock=False):
        db = self.state(f"emi{workers_count}-{busy_timeout}.db")
        state = ("--db", db, "--busy-timeout", busy_timeout)
        rng = random.Random(1000 + workers_count)
        loans = [{"loan": f"S{i}", "principal": f"{100000 + 1000 * i}.00", "rate": "10%",
                  "months": 12, "disbursed": "2026-01-01"} for i in range(self.SHARED)]
        loans += [{"loan": f"R{i}", "principal": "20000.00", "rate": "10%", "months": 12,
                   "disbursed": "2026-01-15"} for i in range(self.REMIND)]
        self.write("loans.jsonl", jsonl(loans))
        setup = self.run_tool("create", "--from", "loans.jsonl", "--currency", "INR", "--db", db)
        self.assertStatus(setup, 0)
        models = {f"S{i}": EmiModel(10000000 + 100000 * i, date(2026, 2, 1))
                  for i in range(self.SHARED)}
        models.update({f"R{i}": EmiModel(2000000, date(2026, 2, 15))
                       for i in range(self.REMIND)})
        models["NEW"] = EmiModel(5000000, date(2026, 2, 1))
        names = list(SCENARIOS)
        shared = {(f"S{i}", n): rng.choice(names) for i in range(self.SHARED)
                  for n in range(1, 13)}
        recorded = set()  # (loan, n) whose sequence some worker records
        plans = []
        for w in range(workers_count):
            own = f"W{w}"
            models[own] = EmiModel(5000000 + 10000 * w, date(2026, 2, 1))
            sequences = [emi_results(own, n, rng.choice(names)) for n in range(1, 13)]
            picked = [key for key in sorted(shared) if rng.random() < 0.4]
            recorded.update(picked)
            sequences += [emi_results(loan, n, shared[(loan, n)]) for loan, n in picked]
            self.write(f"results{w}.jsonl", jsonl(interleave(sequences, rng)))
            record = ("record", "--today", EMI_TODAY, "--batch", "3", *state,
                      f"results{w}.jsonl")
            writes = [
                self.tool_step("emi-schedule", "create-own",
                               ["create", "--loan", own,
                                *self.terms(f"{50000 + 100 * w}.00"), *state]),
                self.tool_step("emi-schedule", "create-new",
                               ["create", "--loan", "NEW", *self.terms("50000.00"), *state]),
                self.tool_step("emi-schedule", "record", list(record)),
                self.tool_step("emi-schedule", "remind", ["remind", *EMI_REMIND, *state]),
                self.tool_step("emi-schedule", "record-again", list(record)),
            ]
            reads = [
                self.tool_step("emi-schedule", "status",
                               ["status", "--today", EMI_TODAY, *state]),
                self.tool_step("emi-schedule", "show",
                               ["show", "--loan", f"S{w % self.SHARED}", *state]),
                self.tool_step("emi-schedule", "list", ["list", *state]),
                self.tool_step("emi-schedule", "collect",
                               ["collect", "--today", EMI_TODAY, *state]),
            ]
            steps = writes[:]
            for step in reads:  # anywhere after the worker's first command
                steps.insert(rng.randint(1, len(steps)), step)
            plans.append(steps)
        for (loan, n), scenario in shared.items():
            if (loan, n) in recorded:
                for result in emi_results(loan, n, scenario):
                    models[loan].apply(result)
        for w in range(workers_count):
            with open(self.path(f"results{w}.jsonl")) as handle:
                for line in handle:
                    result = json.loads(line)
                    if result["loan"] == f"W{w}":
                        models[f"W{w}"].apply(result)
        hold = self.hold_write_lock(db, "emi_loans") if hold_lock else None
        label = f"emi-schedule N={workers_count} --busy-timeout {busy_timeout}"
        workers = self.run_workers(plans, label, hold)
        self.check_emi(workers, db, models, label)

    def check_emi(self, workers, db, models, label):
        # Loans: each worker created its own; exactly one of them created NEW.
        self.assertTrue(all(w.final("create-own").records()[0]["created"] for w in workers))
        created_new = [w.final("create-new").records()[0]["created"] for w in workers]
        self.assertEqual(created_new.count(True), 1, f"{label}: NEW created {created_new}")
        # Every result in the files applied exactly once (counting the output of runs that
        # exited 75 after committing some batches); the others say "duplicate".
        applied = collections.Counter()
        expected = set()
        for w in workers:
            with open(self.path(f"results{w.index}.jsonl")) as handle:
                expected.update((r["loan"], r["n"], r["attempt"])
                                for r in map(json.loads, handle))
            for attempt in w.all("record") + w.all("record-again"):
                for record in attempt.records():
                    key = (record["loan"], record["n"], record["attempt"])
                    if record["applied"]:
                        applied[key] += 1
                    else:
                        self.assertEqual(record["reason"], "duplicate", f"{label}: {record}")
            again = w.final("record-again").records()
            self.assertFalse(any(r["applied"] for r in again), f"{label}: applied on a re-run")
        assert_same(self, set(applied), expected, f"{label}: results applied")
        self.assertEqual([k for k, count in applied.items() if count != 1], [], label)
        # Reminders: the first installment of each R loan, once across all the workers.
        reminders = [(r["loan"], r["n"], r["amount"]) for w in workers
                     for a in w.all("remind") for r in a.records()]
        self.assertEqual(sorted(reminders),
                         [(f"R{i}", 1, money(models[f"R{i}"].items[1]["payment"]))
                          for i in range(self.REMIND)], label)
        self.assertEqual(self.state_rows(db, "SELECT count(*) FROM emi_results"),
                         [(str(len(expected)),)], label)
        self.assertStateIntact(db)
        for loan, model in sorted(models.items()):
            shown = self.run_tool("show", "--loan", loan, "--db", db)
            self.assertStatus(shown, 0)
            self.assertEqual([json.loads(line) for line in shown.out.splitlines()],
                             model.show(loan), f"{label}: loan {loan}")
        status = self.run_tool("status", "--today", EMI_LATER, "--db", db)
        self.assertStatus(status, 0)
        assert_same(self, {r["loan"]: r for r in map(json.loads, status.out.splitlines())},
                    {loan: model.status(loan) for loan, model in models.items()}, label)
        for w in workers:  # the reads saw at least what existed before they started
            listed = {r["loan"] for r in w.final("list").records()}
            before = {f"S{i}" for i in range(self.SHARED)} | {f"R{i}" for i in range(self.REMIND)}
            self.assertLessEqual(before | {f"W{w.index}"}, listed, label)
            self.assertEqual(len(w.final("show").records()), 12, label)
            loans = {r["loan"] for r in w.final("status").records()}
            self.assertLessEqual(before | {f"W{w.index}"}, loans, label)


# ------------------------------------------------------------------------------------- price

PRICE_DAY = "2026-03-03"
PRICE_T0 = "2026-03-03T12:00:00Z"
ECB_RATES = {"USD": "1.0823", "JPY": "151.23", "GBP": "0.8551", "INR": "90.1234"}
PRICE_MARKETS = ("DE", "JP", "US", "IN")
EXTRA_RATES = [{"date": "2026-03-20", "base": "EUR", "currency": c, "rate": r}
               for c, r in (("USD", "1.1000"), ("JPY", "160.00"), ("INR", "91.5"))]


def at(seconds):
    return f"2026-03-03T12:{seconds // 60:02}:{seconds % 60:02}Z"


def price_minor(text, exponent):
    negative = text.startswith("-")
    whole, _, fraction = text.lstrip("-").partition(".")
    value = int(whole) * 10 ** exponent + (int(fraction.ljust(exponent, "0")) if exponent else 0)
    return -value if negative else value


def price_fx(currency):
    usd = Fraction(ECB_RATES["USD"])
    if currency == "USD":
        return Fraction(1)
    return (Fraction(1) if currency == "EUR" else Fraction(ECB_RATES[currency])) / usd


def price_expected(base, country):
    """(amount, net, tax) as the tool prints them, from test_price's Fraction oracle."""
    market = test_price.Price.MARKETS[country]
    return test_price.oracle(base, market, price_fx(market["currency"]))


@on_both_backends
class PriceConcurrency(WorkerCounts, ConcurrencyCase):
    tool = "price"
    SHARED_QUOTES = 4

    def configure(self, db):
        header = "Date, " + ", ".join(ECB_RATES) + ", \n"
        self.write("rates.csv", header + f"{PRICE_DAY}, " + ", ".join(ECB_RATES.values()) + ", \n")
        for args in (("rates", "load", "rates.csv"),
                     ("tax", "set", "--country", "DE", "--rate", "19%", "--inclusive"),
                     ("tax", "set", "--country", "US", "--rate", "8.875%", "--exclusive"),
                     ("tax", "set", "--country", "JP", "--rate", "10%", "--inclusive"),
                     ("rule", "set", "--currency", "EUR", "--rule", "end-99"),
                     ("rule", "set", "--currency", "JPY", "--rule", "ceil:10"),
                     ("ppp", "set", "--country", "IN", "--plr", "0.24")):
            self.assertStatus(self.run_tool(*args, "--db", db), 0)

    def run_scenario(self, workers_count, busy_timeout, hold_lock=False):
        db = self.state(f"price{workers_count}-{busy_timeout}.db")
        state = ["--db", db, "--busy-timeout", busy_timeout]
        self.configure(db)
        rng = random.Random(2000 + workers_count)
        catalog = [{"sku": f"S{i:04}", "price": f"{rng.randint(0, 99999) / 100:.2f}"}
                   for i in range(300)]
        self.write("catalog.jsonl", jsonl(catalog))
        self.write("extra.jsonl", jsonl(EXTRA_RATES))
        shared = []
        for index in range(self.SHARED_QUOTES):
            quote = self.run_tool("quote", "--amount", f"{100 + index}.00", "--from", "USD",
                                  "--to", "EUR", "--ttl", "1h", "--now", PRICE_T0, "--db", db)
            self.assertStatus(quote, 0)
            shared.append(json.loads(quote.out)["quote_id"])
        plans = []
        for w in range(workers_count):
            accept_now = at(600 + w)   # identifies the worker that accepted a shared quote

            def own_quote(worker):
                return json.loads(worker.final("quote").out)["quote_id"]

            writes = [
                self.tool_step("price", "rates-load", ["rates", "load", *state, "extra.jsonl"]),
                self.tool_step("price", "publish", ["publish", "--countries",
                                                    ",".join(PRICE_MARKETS), "--date", PRICE_DAY,
                                                    *state, "catalog.jsonl"]),
                self.tool_step("price", "quote", ["quote", "--amount", f"{10 + w}.00", "--from",
                                                  "USD", "--to", "JPY", "--now", at(w), *state]),
                self.tool_step("price", "accept-own",
                               lambda worker, now=at(60 + w): ["accept", "--quote",
                                                               own_quote(worker), "--now", now,
                                                               *state]),
                self.tool_step("price", "accept-own-again",
                               lambda worker, now=at(61 + w): ["accept", "--quote",
                                                               own_quote(worker), "--now", now,
                                                               *state], allowed={1}),
            ]
            order = shared[:]
            rng.shuffle(order)
            writes += [self.tool_step("price", f"accept-{quote}",
                                      ["accept", "--quote", quote, "--now", accept_now, *state],
                                      allowed={1}) for quote in order]
            writes.append(self.tool_step("price", "ppp-set", ["ppp", "set", "--country", "GB",
                                                               "--multiplier", "1.1", *state]))
            sku = catalog[w % len(catalog)]
            reads = [
                self.tool_step("price", "calc", ["calc", "--base", "49.99", "--country", "DE",
                                                 "--date", PRICE_DAY, *state]),
                self.tool_step("price", "rates-show", ["rates", "show", "--date", PRICE_DAY,
                                                       *state]),
                self.tool_step("price", "tax-list", ["tax", "list", *state]),
            ]
            steps = writes[:]
            for step in reads:
                steps.insert(rng.randint(0, len(steps)), step)
            # After this worker's publish, its lookup finds the price.
            steps.insert(steps.index(writes[1]) + 1,
                         self.tool_step("price", "lookup", ["lookup", "--sku", sku["sku"],
                                                            "--country", "JP", "--date",
                                                            PRICE_DAY, *state]))
            plans.append((steps, sku))
        hold = self.hold_write_lock(db, "price_rates") if hold_lock else None
        label = f"price N={workers_count} --busy-timeout {busy_timeout}"
        workers = self.run_workers([steps for steps, _ in plans], label, hold)
        self.check_price(workers, [sku for _, sku in plans], db, catalog, shared, label)

    def check_price(self, workers, skus, db, catalog, shared, label):
        # rates load: the new rows changed the state once in all.
        loads = [w.final("rates-load").records()[0] for w in workers]
        self.assertEqual([r["rows"] for r in loads], [len(EXTRA_RATES)] * len(workers))
        self.assertEqual(sum(r["changed"] for r in loads), len(EXTRA_RATES), f"{label}: {loads}")
        # publish: each market published once, unchanged for every other worker.
        statuses = collections.defaultdict(list)
        for w in workers:
            for record in w.final("publish").records():
                statuses[record["country"]].append(record["status"])
                self.assertEqual(record["skus"], len(catalog))
        for country in PRICE_MARKETS:
            self.assertEqual(sorted(statuses[country]),
                             ["published"] + ["unchanged"] * (len(workers) - 1), label)
        # The published rows are the oracle's, whole, for every market.
        rows = [(country, sku, *map(int, figures)) for country, sku, *figures in self.state_rows(
            db, "SELECT country, sku, base, amount, net, tax FROM price_published "
                f"WHERE price_date = '{PRICE_DAY}'")]
        quotes = dict(self.state_rows(db, "SELECT quote_id, accepted_at FROM price_quotes"))
        expected = []
        for country in PRICE_MARKETS:
            exponent = test_price.EXPONENT[test_price.Price.MARKETS[country]["currency"]]
            for item in catalog:
                amount, net, tax = price_expected(item["price"], country)
                expected.append((country, item["sku"], price_minor(item["price"], 2),
                                 price_minor(amount, exponent), price_minor(net, exponent),
                                 price_minor(tax, exponent)))
        assert_same(self, sorted(rows), sorted(expected), f"{label}: published rows")
        # Reads saw the oracle's figures.
        for w, sku in zip(workers, skus):
            found = w.final("lookup").records()[0]
            self.assertEqual((found["amount"], found["net"], found["tax"], found["price_date"]),
                             (*price_expected(sku["price"], "JP"), PRICE_DAY), label)
            calc = w.final("calc").records()[0]
            self.assertEqual((calc["amount"], calc["net"], calc["tax"]),
                             price_expected("49.99", "DE"), label)
            self.assertEqual([(r["currency"], r["rate"], r["date"], r["base"])
                              for r in w.final("rates-show").records()],
                             sorted((c, rate, PRICE_DAY, "EUR") for c, rate in ECB_RATES.items()))
        # Quotes: each worker's own accepted once; each shared one accepted by exactly one
        # worker, at that worker's --now, and refused as used for all the others.
        for w in workers:
            accepted = w.final("accept-own")
            self.assertEqual(accepted.records()[0]["status"], "accepted")
            again = w.final("accept-own-again")
            self.assertEqual((again.status, again.records()[0]["error"]), (1, "quote_used"))
            self.assertEqual(quotes[accepted.records()[0]["quote_id"]], accepted.argv[4])
        for quote in shared:
            finals = [w.final(f"accept-{quote}") for w in workers]
            winners = [a for a in finals if a.status == 0]
            self.assertEqual(len(winners), 1, f"{label}: {quote} accepted "
                             f"{len(winners)} times")
            when = winners[0].argv[4]
            self.assertEqual(quotes[quote], when, label)
            for attempt in finals:
                if attempt.status == 1:
                    self.assertEqual(attempt.records()[0],
                                     {"quote_id": quote, "error": "quote_used",
                                      "accepted_at": when}, label)
        self.assertEqual(len(quotes), len(shared) + len(workers))
        self.assertTrue(all(quotes.values()), label)
        listed = self.run_tool("ppp", "list", "--db", db)
        self.assertEqual({r["country"]: r["multiplier"] for r in map(json.loads,
                                                                       listed.out.splitlines())},
                         {"IN": "0.392", "GB": "1.1"})
        self.assertStateIntact(db)


# ------------------------------------------------------------------------------------ cohort

COHORT_BUCKETING = ("--period", "week", "--tz", "Europe/Berlin", "--start-event", "signup")
COHORT_REPORT = ("--summary", "--as-of", "@1773360000")
COHORT_ORACLE = {"unit": "week", "tz": "Europe/Berlin", "start_event": "signup",
                 "summary": True, "as_of": "@1773360000"}


def user_key(event):
    return str(event["user"])


class CohortConcurrency(WorkerCounts, ConcurrencyCase):
    tool = "cohort"

    def run_scenario(self, workers_count, busy_timeout, hold_lock=False):
        db = self.path(f"cohort{workers_count}-{busy_timeout}.db")
        state = ["--db", db, "--busy-timeout", busy_timeout]
        events = random_events(3000 + workers_count, 200 * workers_count + 2000,
                               users=40 * workers_count + 300)
        shards = [events[i::workers_count] for i in range(workers_count)]
        for index, shard in enumerate(shards):
            self.write(f"c{workers_count}-{index}.jsonl", jsonl(shard))
        plans = []
        for w in range(workers_count):
            mine = f"c{workers_count}-{w}.jsonl"
            neighbour = f"c{workers_count}-{(w + 1) % workers_count}.jsonl"
            plans.append([
                self.tool_step("cohort", "ingest", ["ingest", *COHORT_BUCKETING, *state, mine]),
                self.tool_step("cohort", "report", ["report", *COHORT_REPORT, *state]),
                self.tool_step("cohort", "matrix", ["matrix", *COHORT_BUCKETING, *COHORT_REPORT,
                                                    mine]),
                # The neighbour's shard again: whether before or after the neighbour's own
                # ingest, bitmaps are OR-ed and no user is added twice.
                self.tool_step("cohort", "ingest-neighbour",
                               ["ingest", *COHORT_BUCKETING, *state, neighbour]),
                self.tool_step("cohort", "report-again", ["report", *COHORT_REPORT, *state]),
            ])
        hold = self.hold_write_lock(db, None) if hold_lock else None
        label = f"cohort N={workers_count} --busy-timeout {busy_timeout}"
        workers = self.run_workers(plans, label, hold)
        users = {user_key(e) for e in events}
        ingests = [w.final(name).records()[0] for w in workers
                   for name in ("ingest", "ingest-neighbour")]
        self.assertEqual(sorted(r["events"] for r in ingests),
                         sorted(len(shard) for shard in shards for _ in range(2)), label)
        self.assertEqual(sum(r["new_users"] for r in ingests), len(users),
                         f"{label}: users added by the ingests")
        self.assertEqual(max(r["users"] for r in ingests), len(users), label)
        expected = cohort_matrix(events, **COHORT_ORACLE)
        report = self.run_tool("report", *COHORT_REPORT, "--db", db)
        self.assertStatus(report, 0)
        assert_same(self, [json.loads(line) for line in report.out.splitlines()], expected,
                    f"{label}: report")
        clean = self.run_tool("ingest", *COHORT_BUCKETING, "--db", "clean.db",
                              *[f"c{workers_count}-{i}.jsonl" for i in range(workers_count)])
        self.assertStatus(clean, 0)
        self.assertEqual(self.run_tool("report", *COHORT_REPORT, "--db", "clean.db").out,
                         report.out)
        os.remove(self.path("clean.db"))
        for w in workers:
            self.assertEqual(w.final("matrix").records(),
                             cohort_matrix(shards[w.index], **COHORT_ORACLE), label)
            for name in ("report", "report-again"):  # whole reports of some committed state
                for record in w.final(name).records():
                    if "summary" not in record:
                        self.assertLessEqual(record["retained"], record["size"], label)
        with sqlite3.connect(db) as connection:
            count, top = connection.execute("SELECT count(*), max(id) FROM cohort_users").fetchone()
            keys = {row[0] for row in connection.execute("SELECT key FROM cohort_users")}
        self.assertEqual((count, top), (len(users), len(users) - 1), f"{label}: dense ids")
        assert_same(self, keys, users, f"{label}: users")
        self.assertEqual(integrity(db), [("ok",)])


# ------------------------------------------------------------------------------------ zscore

ZSCORE_ARGS = ("--key", "metric", "--method", "robust", "--window", "20")


class ZscoreConcurrency(WorkerCounts, ConcurrencyCase):
    tool = "zscore"

    def series_rows(self, db_id):
        with sqlite3.connect(self.path(db_id)) as connection:
            return (connection.execute("SELECT * FROM zscore_series ORDER BY key").fetchall(),
                    connection.execute("SELECT * FROM zscore_settings ORDER BY name").fetchall())

    def run_scenario(self, workers_count, busy_timeout, hold_lock=False):
        name = f"z{workers_count}-{busy_timeout}.db"
        db = self.path(name)
        state = ["--db", db, "--busy-timeout", busy_timeout]
        rng = random.Random(4000 + workers_count)
        # Two series every worker feeds a prefix of (overlapping runs), and one series per
        # worker that only it feeds, in two runs (disjoint series, incremental).
        shared = hourly(24 * 15, seed=workers_count, series=("shared-a", "shared-b"))
        self.write("shared-all.jsonl", zscore_lines(shared))
        union = ["shared-all.jsonl"]
        plans = []
        for w in range(workers_count):
            cut = len(shared) if w == 0 else rng.randrange(len(shared) // 4, len(shared) + 1)
            self.write(f"shared{w}.jsonl", zscore_lines(shared[:cut]))
            own = hourly(24 * 4, seed=100 + w, series=(f"own{w}",))
            self.write(f"own{w}-1.jsonl", zscore_lines(own[:50]))
            self.write(f"own{w}-2.jsonl", zscore_lines(own[50:]))
            union += [f"own{w}-1.jsonl", f"own{w}-2.jsonl"]
            plans.append([
                self.tool_step("zscore", "run-1", [*state, *ZSCORE_ARGS, f"shared{w}.jsonl",
                                                   f"own{w}-1.jsonl"]),
                self.tool_step("zscore", "run-2", [*state, *ZSCORE_ARGS, f"own{w}-2.jsonl"]),
            ])
        hold = self.hold_write_lock(db, None) if hold_lock else None
        label = f"zscore N={workers_count} --busy-timeout {busy_timeout}"
        workers = self.run_workers(plans, label, hold)
        one_shot = self.run_tool(*ZSCORE_ARGS, *union)
        self.assertStatus(one_shot, 0)
        judged = collections.Counter(line for w in workers for a in w.attempts if a.status == 0
                                     for line in a.out.splitlines())
        # Every point judged exactly once, as one run over all the input judges it.
        assert_same(self, judged, collections.Counter(one_shot.out.splitlines()),
                    f"{label}: points judged")
        for w in workers:  # a worker's own series: all its points, by its own runs
            own = [line for a in w.attempts if a.status == 0 for line in a.out.splitlines()
                   if f'"own{w.index}"' in line]
            self.assertEqual(len(own), 24 * 4, label)
        clean = self.run_tool("--db", "clean.db", *ZSCORE_ARGS, *union)
        self.assertStatus(clean, 0)
        assert_same(self, self.series_rows(name), self.series_rows("clean.db"),
                    f"{label}: saved state")
        os.remove(self.path("clean.db"))
        self.assertEqual(integrity(db), [("ok",)])


# ----------------------------------------------------------------------------------- reindex

REINDEX_ROWS = 20000
REINDEX_KEYS = 30000
REINDEX_DDL = ("CREATE TABLE {name} (val INTEGER, k TEXT NOT NULL, id INTEGER PRIMARY KEY);\n"
               "CREATE INDEX t_k_v2 ON {name} (k)")
# The application: a process writing its own residue class of ids (so that the writers'
# models add up), one autocommit statement at a time, until the switch has happened (the old
# table is then kept as t__v1) and 50 writes more, or `cap` writes; then it saves its model.
WRITER = r"""
import json, random, sqlite3, sys
db, index, writers, seed, cap, out = sys.argv[1:7]
index, writers, cap = int(index), int(writers), int(cap)
rng = random.Random(int(seed))
model = {i: (f"k{i % 97}", i % 1000) for i in range(1, ROWS + 1) if i % writers == index}
connection = sqlite3.connect(db, isolation_level=None, timeout=60)
connection.execute("PRAGMA synchronous=NORMAL")
def key():
    return rng.randrange(1, KEYS // writers) * writers + index
def switched():
    return connection.execute("SELECT 1 FROM sqlite_schema WHERE name = 't__v1'").fetchone()
writes, remaining = 0, None
while writes < cap and remaining != 0:
    k, row, choice = key(), (f"k{rng.randrange(500)}", rng.randrange(1000)), rng.randrange(5)
    if choice == 0:
        connection.execute("INSERT OR REPLACE INTO t (id, k, val) VALUES (?, ?, ?)", (k, *row))
        model[k] = row
    elif choice == 1:
        connection.execute("UPDATE t SET k = ?, val = ? WHERE id = ?", (*row, k))
        if k in model:
            model[k] = row
    elif choice == 2:
        connection.execute("DELETE FROM t WHERE id = ?", (k,))
        model.pop(k, None)
    elif choice == 3:
        old = key()
        if k not in model and old in model:
            connection.execute("UPDATE t SET id = ? WHERE id = ?", (k, old))
            model[k] = model.pop(old)
    else:
        connection.execute("INSERT INTO t (id, k, val) VALUES (?, ?, ?) ON CONFLICT DO UPDATE "
                           "SET val = val + excluded.val", (k, *row))
        model[k] = (model[k][0], model[k][1] + row[1]) if k in model else row
    writes += 1
    if remaining is not None:
        remaining -= 1
    elif writes % 10 == 0 and switched():
        remaining = 50
connection.close()
with open(out, "w") as handle:
    json.dump({"writes": writes, "model": {str(k): v for k, v in model.items()}}, handle)
""".replace("ROWS", str(REINDEX_ROWS)).replace("KEYS", str(REINDEX_KEYS))


class ReindexConcurrency(ConcurrencyCase):
    tool = "reindex"

    def prepare(self, db):
        connection = sqlite3.connect(db)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, val INTEGER)")
        connection.executemany("INSERT INTO t VALUES (?, ?, ?)",
                               [(i, f"k{i % 97}", i % 1000) for i in range(1, REINDEX_ROWS + 1)])
        connection.commit()
        connection.close()
        self.write("v2.sql", REINDEX_DDL)
        self.write("writer.py", WRITER)

    def run_reindex(self, roles, busy_timeout, hold_lock=False, writes=3000):
        """roles: "run", "writer" or "status" per process; `writes`: a writer's most writes."""
        name = f"app{len(roles)}-{busy_timeout}-{roles.count('run')}.db"
        db = self.path(name)
        self.prepare(db)
        writers = roles.count("writer")
        timeouts = ["--busy-timeout", busy_timeout, "--lock-timeout", busy_timeout]
        run = ["run", "--db", db, "--table", "t", "--dest-ddl", "v2.sql", "--batch", "200",
               "--max-rows-per-sec", "50000", *timeouts]
        plans, writer_index = [], 0
        for index, role in enumerate(roles):
            if role == "run":
                plans.append([self.tool_step("reindex", "run", run)])
            elif role == "status":
                plans.append([self.tool_step("reindex", f"status-{k}",
                                             ["status", "--db", db, "--busy-timeout",
                                              busy_timeout]) for k in range(6)])
            else:
                plans.append([Step("writer", sys.executable,
                                   ["writer.py", db, str(writer_index), str(writers),
                                    str(index), str(writes), f"model{writer_index}.json"])])
                writer_index += 1
        hold = SqliteWriteLock(db) if hold_lock else None
        label = (f"reindex {roles.count('run')} run, {writers} writer(s), "
                 f"{roles.count('status')} status, --busy-timeout {busy_timeout}")
        workers = self.run_workers(plans, label, hold)
        phases = {"backfilling", "backfilled", "switched"}
        for w in workers:
            for attempt in w.attempts:
                if attempt.step.name.startswith("status") and attempt.status == 0:
                    for record in attempt.records():
                        self.assertIn(record["phase"], phases, label)
        self.assertEqual(json.loads(self.run_tool("status", "--db", db, "--job", "t").out)["phase"],
                         "switched", label)
        model = {i: (f"k{i % 97}", i % 1000) for i in range(1, REINDEX_ROWS + 1)}
        total_writes = 0
        for index in range(writers):
            with open(self.path(f"model{index}.json")) as handle:
                saved = json.load(handle)
            written = {int(k): tuple(v) for k, v in saved["model"].items()}
            total_writes += saved["writes"]
            model = {k: v for k, v in model.items() if k % writers != index}
            model.update(written)
        print(f"  {label}: {total_writes} application writes", file=sys.stderr)
        with sqlite3.connect(db) as connection:
            rows = {i: (k, v) for i, k, v in connection.execute("SELECT id, k, val FROM t")}
            names = {row[0] for row in connection.execute("SELECT name FROM sqlite_schema")}
            columns = [row[1] for row in connection.execute("PRAGMA table_info(t)")]
        self.assertEqual(columns, ["val", "k", "id"], label)   # the new table is behind t
        assert_same(self, rows, model, f"{label}: rows of t")
        self.assertIn("t__v1", names)
        self.assertEqual(integrity(db), [("ok",)])

    @staticmethod
    def roles(count, runs):
        if count == 2:
            return ["run", "writer"] if runs == 1 else ["run", "run"]
        extra = count - runs
        writers = extra * 2 // 3
        return ["run"] * runs + ["writer"] * writers + ["status"] * (extra - writers)

    def test_2_8_and_32_processes_writers_against_one_run(self):
        for count in COUNTS:
            with self.subTest(processes=count):
                self.run_reindex(self.roles(count, 1), GENEROUS,
                                 writes=3000 if count < 32 else 1000)

    def test_concurrent_runs_of_one_job_all_finish_it(self):
        """Two cron lines (or a retry) may start `reindex run` on the same job at once: each
        must finish the job or exit 75, never refuse it for the other's progress."""
        for count in COUNTS:
            with self.subTest(processes=count):
                self.run_reindex(self.roles(count, max(2, count // 4)), GENEROUS, writes=1000)

    def test_tiny_busy_timeout_gives_only_75_and_retries_finish(self):
        self.run_reindex(self.roles(8, 1), TINY, hold_lock=True)


if __name__ == "__main__":
    unittest.main()
