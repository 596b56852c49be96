"""emi-schedule's stored loans and collection cycle: create, remind, collect, record, status,
with exact statuses, idempotent re-runs, bad input that leaves state untouched, and SIGKILL."""

import json
import os
import random
import signal
import subprocess
import time
import unittest

from fractions import Fraction

import datetime
import fcntl
import struct
import termios
from decimal import Decimal

from sluice_cli import ToolTestCase, on_both_backends, sqlite_only, tool_path
from test_emi_schedule import minor as minor_units, oracle, round_half_up


def minor(text):
    return minor_units(text, 2)

LOAN = ("--principal", "100000.00", "--rate", "10%", "--months", "12", "--currency", "INR",
        "--disbursed", "2026-01-15")


def records(text):
    return [json.loads(line) for line in text.splitlines() if line]


EMI_TABLES = ("emi_loans", "emi_installments", "emi_results", "emi_charges", "emi_revisions",
              "emi_installments_history", "emi_presentments")


def hours_from_now(hours):
    """--now for a run `hours` from now: after the leases of the intents earlier runs took."""
    return f"@{int(time.time()) + hours * 3600}"


@on_both_backends
class EmiCycle(ToolTestCase):
    tool = "emi-schedule"

    def emi(self, *args, stdin=b"", status=0):
        result = self.run_tool(*args, "--db", self.state("loans"), stdin=stdin)
        self.assertStatus(result, status)
        return records(result.out) if status == 0 else result

    def results(self, *lines):
        return "".join(json.dumps(line) + "\n" for line in lines)

    def test_create_is_idempotent_and_refuses_different_terms(self):
        first = self.emi("create", "--loan", "L1", *LOAN)
        self.assertEqual(first, [{"loan": "L1", "created": True, "currency": "INR",
                                  "principal": "100000.00", "emi": "8791.59", "months": 12,
                                  "first_due": "2026-02-15"}])
        self.assertFalse(self.emi("create", "--loan", "L1", *LOAN)[0]["created"])
        changed = self.emi("create", "--loan", "L1", *LOAN[:-2], "--disbursed", "2026-01-16",
                           status=65)
        self.assertError(changed, 65, "L1", "different terms")
        self.assertEqual(len(self.emi("show", "--loan", "L1")), 12)

    def test_create_from_file_is_one_transaction(self):
        self.write("loans.jsonl",
                   '{"loan":"A","principal":"1000.00","rate":"12%","months":6,"currency":"INR"}\n'
                   '{"loan":"B","principal":5000,"rate":"850bp","months":12,"currency":"USD",'
                   '"first_due":"2026-02-28","eom":true}\n')
        self.assertEqual(self.emi("create", "--from", "loans.jsonl", "--disbursed", "2026-01-15"),
                         [{"created": 2, "unchanged": 0}])
        self.assertEqual(self.emi("create", "--from", "loans.jsonl", "--disbursed", "2026-01-15"),
                         [{"created": 0, "unchanged": 2}])
        dates = [row["due_date"] for row in self.emi("show", "--loan", "B")][:3]
        self.assertEqual(dates, ["2026-02-28", "2026-03-31", "2026-04-30"])
        self.write("bad.jsonl", '{"loan":"C","principal":"1.00","rate":"1%","months":2}\n'
                                '{"loan":"D","principal":"1.005","rate":"1%","months":2}\n')
        before = self.dump()
        # No default currency: a record without one, and no --currency, is bad input.
        result = self.emi("create", "--from", "bad.jsonl", status=65)
        self.assertError(result, 65, "bad.jsonl:1", 'field "currency" is missing')
        # --currency is the default of records that name none.
        result = self.emi("create", "--from", "bad.jsonl", "--currency", "INR", status=65)
        self.assertError(result, 65, "bad.jsonl:2", "1.005")
        self.assertEqual(self.dump(), before)
        self.assertEqual([loan["loan"] for loan in self.emi("list")], ["A", "B"])

    def schedule_rows(self, loan):
        return [(r["n"], r["due_date"], minor(r["payment"]), minor(r["interest"]),
                 minor(r["principal"]), minor(r["closing"])) for r in self.emi("show", "--loan", loan)]

    def test_prepay_and_reprice_rebuild_the_future_like_a_fresh_schedule(self):
        self.emi("create", "--loan", "L1", *LOAN)
        revision = self.emi("prepay", "--loan", "L1", "--amount", "20000.00", "--on",
                            "2026-04-20", "--mode", "reduce-emi")[0]
        self.assertEqual((revision["revision"], revision["after"], revision["balance"],
                          revision["new_balance"], revision["emi"], revision["months"]),
                         (1, 3, "75925.71", "55925.71", "6475.75", 12))
        # Installments 4-12 are the schedule of 55925.71 over 9 months, computed independently.
        emi, expected = oracle(5592571, Fraction(10, 100), 9, datetime.date(2026, 5, 15))
        self.assertEqual(emi, 647575)
        got = self.schedule_rows("L1")[3:]
        self.assertEqual(got, [(n + 3, due, payment, interest, principal, closing)
                               for n, due, _, payment, interest, principal, closing in expected])
        # Keep the EMI: fewer months; the last installment pays the rest.
        tenure = self.emi("prepay", "--loan", "L1", "--amount", "10000.00", "--on", "2026-05-20")[0]
        self.assertEqual((tenure["mode"], tenure["emi"], tenure["months"]),
                         ("reduce-tenure", "6475.75", 11))
        rows = self.schedule_rows("L1")
        self.assertEqual(rows[4][0], 5)
        self.assertEqual(rows[4][3], round_half_up(Fraction(3991601, 120)))  # 39916.01 * 10%/12
        self.assertEqual(rows[-1][5], 0)
        self.assertEqual(sum(r[4] for r in rows[4:]), 3991601)
        repriced = self.emi("reprice", "--loan", "L1", "--rate", "12%", "--from", "2026-07-01")[0]
        emi, expected = oracle(3377289, Fraction(12, 100), 6, datetime.date(2026, 7, 15))
        self.assertEqual((repriced["after"], repriced["emi"]), (5, "5827.46"))
        self.assertEqual(minor(repriced["emi"]), emi)
        self.assertEqual(self.schedule_rows("L1")[5:],
                         [(n + 5, due, payment, interest, principal, closing)
                          for n, due, _, payment, interest, principal, closing in expected])
        loans = self.state("loans")
        self.assertEqual(self.state_rows(loans, "SELECT kind FROM emi_revisions ORDER BY revision"),
                         [("prepay",), ("prepay",), ("reprice",)])
        self.assertEqual(self.state_rows(
            loans, "SELECT count(*) FROM emi_installments_history WHERE revision = 1"), [("9",)])
        # Re-running create with the original terms still finds them identical.
        self.assertFalse(self.emi("create", "--loan", "L1", *LOAN)[0]["created"])

    def test_prepay_refuses_amounts_over_the_balance_and_touched_installments(self):
        self.emi("create", "--loan", "L1", *LOAN)
        too_much = self.emi("prepay", "--loan", "L1", "--amount", "100000.01", "--on",
                            "2026-01-20", status=65)
        self.assertError(too_much, 65, "balance")
        self.emi("record", "--today", "2026-02-15", stdin=self.results(
            {"loan": "L1", "n": 2, "attempt": 1, "result": "failed", "code": "R01"}))
        touched = self.emi("prepay", "--loan", "L1", "--amount", "100.00", "--on", "2026-02-20",
                           status=65)
        self.assertError(touched, 65, "installment 2")
        self.emi("create", "--loan", "L2", *LOAN)
        closed = self.emi("prepay", "--loan", "L2", "--amount", "100000.00", "--on", "2026-01-20")
        self.assertEqual(closed[0]["months"], 0)
        self.assertEqual(self.emi("show", "--loan", "L2"), [])
        self.assertEqual(self.emi("status", "--loan", "L2")[0]["installments"], 0)
        self.assertEqual(self.emi("show", "--loan", "L3", status=66).status, 66)

    def test_full_collection_cycle(self):
        self.emi("create", "--loan", "L1", *LOAN)
        reminders = self.emi("remind", "--today", "2026-02-14")
        self.assertEqual(reminders, [{"loan": "L1", "n": 1, "due_date": "2026-02-15",
                                      "amount": "8791.59", "currency": "INR"}])
        self.assertEqual(self.emi("remind", "--today", "2026-02-14"), [])
        self.assertEqual(self.emi("collect", "--today", "2026-02-14"), [])
        intents = self.emi("collect", "--today", "2026-02-15")
        self.assertEqual(intents, [{"loan": "L1", "n": 1, "attempt": 1, "amount": "8791.59",
                                    "currency": "INR", "due_date": "2026-02-15",
                                    "idempotency_key": "L1:1:1"}])
        # The intent is leased to that run for an hour: a second run meanwhile emits nothing,
        # one after it offers the same intent (same key).
        self.assertEqual(self.emi("collect", "--today", "2026-02-15"), [])
        self.assertEqual(self.emi("collect", "--today", "2026-02-15", "--now", hours_from_now(2)),
                         intents)
        days = {1: "2026-02-15", 2: "2026-02-17", 3: "2026-02-19"}
        for attempt, day in days.items():
            # Recording a result ends the lease: the next attempt is offered when it is due.
            offered = self.emi("collect", "--today", day, "--now", hours_from_now(4))
            self.assertEqual([i["attempt"] for i in offered], [attempt])
            failure = {"loan": "L1", "n": 1, "attempt": attempt, "result": "failed",
                       "code": "R01"}
            applied = self.emi("record", "--today", day, stdin=self.results(failure, failure))
            self.assertEqual([r["applied"] for r in applied], [True, False])
            self.assertEqual(applied[1]["reason"], "duplicate")
            if attempt < 3:
                self.assertEqual(self.emi("collect", "--today", day), [])
        self.assertEqual(applied[0]["state"], "overdue")
        self.assertEqual(applied[0]["penalty"], "175.83")  # 2% of 8791.59, once
        self.assertEqual(self.emi("collect", "--today", "2026-03-01"), [])
        status = self.emi("status", "--today", "2026-03-01")[0]
        self.assertEqual((status["overdue"], status["overdue_amount"], status["penalties"]),
                         (1, "8967.42", "175.83"))
        paid = self.emi("record", "--today", "2026-03-02", stdin=self.results(
            {"loan": "L1", "n": 1, "attempt": 4, "result": "paid", "amount": "8967.42"}))
        self.assertEqual((paid[0]["applied"], paid[0]["state"], paid[0]["outstanding"]),
                         (True, "paid", "0.00"))
        self.assertEqual(self.state_rows(self.state("loans"), "SELECT kind, amount FROM emi_charges"),
                         [("penalty", "17583")])

    def test_grace_period_makes_unpaid_installments_overdue_once(self):
        self.emi("create", "--loan", "G", *LOAN, "--grace", "5d", "--penalty", "flat:100.00")
        self.assertEqual(len(self.emi("collect", "--today", "2026-02-20")), 1)  # 5 days: not yet
        self.assertEqual(self.emi("collect", "--today", "2026-02-21"), [])
        self.emi("collect", "--today", "2026-02-22")
        status = self.emi("status", "--today", "2026-02-22")[0]
        self.assertEqual((status["overdue"], status["penalties"], status["overdue_amount"]),
                         (1, "100.00", "8891.59"))
        self.assertEqual(self.state_rows(self.state("loans"), "SELECT count(*) FROM emi_charges"),
                         [("1",)])

    def test_record_reports_unknown_and_superseded_results(self):
        self.emi("create", "--loan", "L1", *LOAN)
        applied = self.emi("record", "--today", "2026-02-15", stdin=self.results(
            {"loan": "nope", "n": 1, "attempt": 1, "result": "paid"},
            {"loan": "L1", "n": 99, "attempt": 1, "result": "paid"},
            {"loan": "L1", "n": 1, "attempt": 2, "result": "paid"},
            {"loan": "L1", "n": 1, "attempt": 1, "result": "paid"}))
        self.assertEqual([r.get("reason") for r in applied],
                         ["unknown_loan", "unknown_installment", "superseded", None])
        self.assertEqual(applied[3]["state"], "paid")

    def test_bad_result_line_is_65_with_its_line_and_state_untouched(self):
        self.emi("create", "--loan", "L1", *LOAN)
        good = {"loan": "L1", "n": 1, "attempt": 1, "result": "failed", "code": "R01"}
        for bad, fragment in ((b'{"loan":"L1","n":2,"attempt":1}\n', "result"),
                              (b'{"loan":"L1","n":"2","attempt":1,"result":"paid"}\n', '"n"'),
                              (b'{"loan":"L1","n":2,"attempt":1,"result":"paid",'
                               b'"amount":"1.234"}\n', "amount"),
                              (b'{"loan":"L1",\n', "<stdin>:2")):
            before = self.dump()
            result = self.emi("record", "--today", "2026-02-15",
                              stdin=self.results(good).encode() + bad, status=65)
            self.assertError(result, 65, "<stdin>:2", fragment)
            self.assertEqual(self.dump(), before)

    def stored_amounts(self):
        rows = self.state_rows(self.state("loans"), "SELECT loan, n, attempt, result, amount "
                                                    "FROM emi_results ORDER BY 1, 2, 3")
        return [(loan, int(n), int(attempt), result, int(amount))
                for loan, n, attempt, result, amount in rows]

    def test_paid_without_amount_pays_what_the_attempt_presented(self):
        self.emi("create", "--loan", "A", *LOAN, "--grace", "5d", "--penalty", "flat:25.00")
        intents = self.emi("collect", "--today", "2026-02-15")
        self.assertEqual([(i["attempt"], i["amount"]) for i in intents], [(1, "8791.59")])
        # The debit is presented; before the gateway answers, the installment goes past its
        # grace period and is charged the penalty.
        self.assertEqual(self.emi("collect", "--today", "2026-02-21"), [])
        self.assertEqual(self.emi("status", "--today", "2026-02-21")[0]["penalties"], "25.00")
        result = {"loan": "A", "n": 1, "attempt": 1, "result": "paid"}
        recorded = self.emi("record", "--today", "2026-02-21", stdin=self.results(result))[0]
        # The gateway took what was presented; the penalty added since stays outstanding.
        owed = Decimal("8791.59") + Decimal("25.00") - Decimal(intents[0]["amount"])
        self.assertEqual((recorded["applied"], recorded["outstanding"]), (True, str(owed)))
        self.assertEqual(self.stored_amounts(), [("A", 1, 1, "paid", 879159)])
        again = self.emi("record", "--today", "2026-02-22", stdin=self.results(result))[0]
        self.assertEqual((again["applied"], again["reason"]), (False, "duplicate"))

    def test_collect_repeats_the_amount_it_first_presented(self):
        self.emi("create", "--loan", "A", *LOAN)
        first = self.emi("collect", "--today", "2026-02-15")
        self.assertEqual(self.emi("collect", "--today", "2026-02-16", "--now", hours_from_now(2)),
                         first)
        self.assertEqual(self.state_rows(self.state("loans"),
                                         "SELECT loan, n, attempt, amount FROM emi_presentments"),
                         [("A", "1", "1", "879159")])

    def test_a_result_that_differs_in_amount_is_a_conflict(self):
        for loan in ("L1", "L2"):
            self.emi("create", "--loan", loan, *LOAN)
        self.emi("collect", "--today", "2026-02-15")
        partial = {"loan": "L1", "n": 1, "attempt": 1, "result": "paid", "amount": "8000.00"}
        self.assertTrue(self.emi("record", "--today", "2026-02-15",
                                 stdin=self.results(partial))[0]["applied"])
        self.assertEqual(self.emi("record", "--today", "2026-02-15", stdin=self.results(
            partial))[0]["reason"], "duplicate")
        before = self.stored_amounts()
        corrected = dict(partial, amount="8791.59")
        without_amount = {key: partial[key] for key in ("loan", "n", "attempt", "result")}
        other = {"loan": "L2", "n": 1, "attempt": 1, "result": "paid"}
        result = self.emi("record", "--today", "2026-02-16", status=65,
                          stdin=self.results(corrected, without_amount, other))
        self.assertError(result, 65, "<stdin>:1", "<stdin>:2", "conflict", "8000.00")
        outcomes = records(result.out)
        self.assertEqual([(r["loan"], r["applied"], r.get("reason")) for r in outcomes],
                         [("L1", False, "conflict"), ("L1", False, "conflict"), ("L2", True, None)])
        self.assertEqual(outcomes[0]["outstanding"], "791.59")  # 8791.59 - 8000.00, unchanged
        self.assertEqual(self.stored_amounts(), before + [("L2", 1, 1, "paid", 879159)])

    def loans_with_failed_results(self, loans):
        """Creates loans L0.. and writes results.jsonl: a failed first attempt at each of their
        12 installments. Returns the result records."""
        # One process creates them all (create --from): under the sanitizers a process per
        # loan would cost more than the test itself.
        self.write("loans.jsonl", "".join(
            json.dumps({"loan": f"L{number}", "principal": "100000.00", "rate": "10%",
                        "months": 12}) + "\n" for number in range(loans)))
        self.assertEqual(self.emi("create", "--from", "loans.jsonl", "--currency", "INR",
                                  "--disbursed", "2026-01-15"),
                         [{"created": loans, "unchanged": 0}])
        lines = [{"loan": f"L{loan}", "n": n, "attempt": 1, "result": "failed", "code": "R01"}
                 for loan in range(loans) for n in range(1, 13)]
        self.write("results.jsonl", self.results(*lines))
        return lines

    def test_record_prints_each_applied_result_before_committing_it(self):
        # A reader that stops reading (a stalled pipe, then SIGKILL) must not leave results
        # committed that no output ever reported as applied.
        lines = self.loans_with_failed_results(20)
        reader, writer = os.pipe()
        # One batch prints about 30 KB: more than the pipe holds, less than the tool's buffer.
        fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, 4096)
        capacity = fcntl.fcntl(writer, fcntl.F_GETPIPE_SZ)
        child = self.start_tool("record", "--today", "2026-02-15", "--db", self.state("loans"),
                                "--batch", "240", "results.jsonl", stdout=writer)
        os.close(writer)
        deadline = time.monotonic() + 60
        while (child.poll() is None and self.pipe_bytes(reader) < capacity
               and time.monotonic() < deadline):
            time.sleep(0.005)
        self.assertIsNone(child.poll(), "record ended instead of blocking on a full pipe")
        committed = {(loan, n, attempt) for loan, n, attempt, *_ in self.stored_amounts()}
        child.send_signal(signal.SIGKILL)
        child.wait()
        with os.fdopen(reader, "rb") as pipe:
            printed = pipe.read().decode()
        complete = printed[:printed.rfind("\n") + 1]
        reported = {(r["loan"], r["n"], r["attempt"]) for r in records(complete) if r["applied"]}
        self.assertEqual(len(committed - reported), 0, "results committed but never printed")
        rerun = self.emi("record", "--today", "2026-02-15", "results.jsonl")
        reported |= {(r["loan"], r["n"], r["attempt"]) for r in rerun if r["applied"]}
        stored = {(loan, n, attempt) for loan, n, attempt, *_ in self.stored_amounts()}
        self.assertEqual(len(stored), len(lines))
        self.assertEqual(stored, reported)

    @staticmethod
    def pipe_bytes(descriptor):
        return struct.unpack("i", fcntl.ioctl(descriptor, termios.FIONREAD, b"\0" * 4))[0]

    def applied(self):
        return int(self.state_rows(self.state("loans"), "SELECT count(*) FROM emi_results")[0][0])

    def dump(self):
        return self.state_dump(self.state("loans"), EMI_TABLES)

    def test_2_and_4_concurrent_collects_emit_every_intent_once(self):
        # Collect on several hosts at once: each due installment goes to one of them (its row
        # lock and lease), whichever way their transactions interleave.
        for count in (2, 4):
            with self.subTest(collectors=count):
                loans = self.state(f"collect{count}")
                self.write("many.jsonl", "".join(
                    json.dumps({"loan": f"C{i}", "principal": "1000.00", "rate": "12%",
                                "months": 6}) + "\n" for i in range(300)))
                self.assertStatus(self.run_tool("create", "--from", "many.jsonl", "--currency",
                                                "INR", "--disbursed", "2026-01-15", "--db", loans),
                                  0)
                children = [self.start_tool("collect", "--today", "2026-02-15", "--db", loans,
                                            "--busy-timeout", "60s", stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE) for _ in range(count)]
                emitted = []
                for child in children:
                    out, err = child.communicate(timeout=120)
                    self.assertEqual((child.returncode, err), (0, b""))
                    emitted += [(i["loan"], i["n"], i["attempt"]) for i in records(out.decode())]
                self.assertEqual(sorted(emitted), sorted((f"C{i}", 1, 1) for i in range(300)))

    @sqlite_only
    def test_missing_state_file_is_66_for_readers(self):
        result = self.run_tool("collect", "--today", "2026-02-15", "--db", "absent.db")
        self.assertError(result, 66, "absent.db")
        self.assertFalse(os.path.exists(self.path("absent.db")))

    def test_concurrent_record_processes_apply_each_result_once(self):
        for number in range(20):
            self.emi("create", "--loan", f"L{number}", *LOAN)
        lines = [{"loan": f"L{loan}", "n": n, "attempt": 1, "result": "paid"}
                 for loan in range(20) for n in range(1, 13)]
        self.write("results.jsonl", self.results(*lines))
        children = [subprocess.Popen([tool_path("emi-schedule"), "record", "--today",
                                      "2026-02-15", "--db", self.state("loans"), "--batch", "5",
                                      "results.jsonl"], stdout=subprocess.PIPE, cwd=self.dir,
                                     env=self.env) for _ in range(6)]
        outputs = [child.communicate(timeout=120)[0] for child in children]
        self.assertEqual([child.returncode for child in children], [0] * 6)
        applied = [r for out in outputs for r in records(out.decode()) if r["applied"]]
        self.assertEqual(len(applied), len(lines))
        self.assertEqual(len({(r["loan"], r["n"]) for r in applied}), len(lines))
        status = self.emi("status", "--today", "2027-02-01")
        self.assertEqual({(s["paid"], s["outstanding_principal"]) for s in status},
                         {(12, "0.00")})

    def test_sigkill_during_record_then_rerun_applies_each_result_once(self):
        lines = self.loans_with_failed_results(150)
        generator = random.Random(7)
        applied_after_kill = []
        for round_number in range(3):
            with open(self.path("results.jsonl"), "rb") as source, \
                    open(self.path(f"killed{round_number}.jsonl"), "wb") as output:
                # Small batches: many commits (synchronous=FULL), so the kill lands mid-run.
                child = subprocess.Popen([tool_path("emi-schedule"), "record", "--today",
                                          "2026-02-15", "--db", self.state("loans"), "--batch", "7"],
                                         stdin=source, stdout=output, cwd=self.dir,
                                         env=self.env)
                # Kill once the run has committed something new (an event, not a time: a
                # sanitizer build starts far slower), a little later still.
                before = applied_after_kill[-1] if applied_after_kill else 0
                deadline = time.monotonic() + 60
                while (child.poll() is None and self.applied() <= before
                       and time.monotonic() < deadline):
                    time.sleep(0.005)
                time.sleep(generator.uniform(0.0, 0.03))
                child.send_signal(signal.SIGKILL)
                child.wait()
            applied_after_kill.append(self.applied())
        self.assertEqual(applied_after_kill, sorted(applied_after_kill))
        self.assertTrue(any(0 < count < len(lines) for count in applied_after_kill),
                        applied_after_kill)
        rerun = self.emi("record", "--today", "2026-02-15", "results.jsonl")
        self.assertEqual(len(rerun), len(lines))
        self.assertTrue(all(r["applied"] or r["reason"] == "duplicate" for r in rerun))
        # Every result applied was reported applied by some run: a killed run printed what it
        # committed (its last line may be cut short by the kill).
        reported = {(r["loan"], r["n"], r["attempt"]) for r in rerun if r["applied"]}
        for round_number in range(3):
            printed = self.read(f"killed{round_number}.jsonl").decode()
            complete = records(printed[:printed.rfind("\n") + 1])
            reported |= {(r["loan"], r["n"], r["attempt"]) for r in complete if r["applied"]}
        never_reported = {(line["loan"], line["n"], 1) for line in lines} - reported
        self.assertEqual(len(never_reported), 0, "results applied but never reported applied")
        loans = self.state("loans")
        self.assertStateIntact(loans)
        self.assertEqual(self.applied(), len(lines))
        self.assertEqual(self.state_rows(loans, "SELECT DISTINCT attempts FROM emi_installments"),
                         [("1",)])


class EmiRecordServerCrash(ToolTestCase):
    """The PostgreSQL server dies (pg_ctl stop -m immediate) while record applies results in
    batches, then comes back: the interrupted run fails with 69 or 75, and a rerun applies
    every result not yet committed, none twice."""
    tool = "emi-schedule"

    def test_a_server_crash_mid_record_loses_no_result_and_applies_none_twice(self):
        url = self.start_private_server()
        self.write("many.jsonl", "".join(
            json.dumps({"loan": f"C{i}", "principal": "1000.00", "rate": "12%", "months": 6})
            + "\n" for i in range(2000)))
        self.assertStatus(self.run_tool("create", "--from", "many.jsonl", "--currency", "INR",
                                        "--disbursed", "2026-01-15", "--db", url), 0)
        intents = records(self.run_tool("collect", "--today", "2026-02-15", "--db", url).out)
        self.write("results.jsonl", "".join(
            json.dumps({"loan": i["loan"], "n": i["n"], "attempt": i["attempt"],
                        "result": "paid", "amount": i["amount"]}) + "\n" for i in intents))
        with open(self.path("first.jsonl"), "wb") as out:
            child = self.start_tool("record", "--today", "2026-02-15", "--batch", "10",
                                    "results.jsonl", "--db", url, stdout=out,
                                    stderr=subprocess.PIPE)
            while child.poll() is None and os.path.getsize(self.path("first.jsonl")) < 20000:
                time.sleep(0.001)
            self.crash_private_server()
            _, err = child.communicate(timeout=120)
        self.assertIn(child.returncode, (69, 75), err)
        self.restart_private_server()
        second = self.run_tool("record", "--today", "2026-02-15", "results.jsonl", "--db", url)
        self.assertStatus(second, 0)
        first = self.read("first.jsonl").decode()
        first = records(first[:first.rfind("\n") + 1])
        applied_first = {(r["loan"], r["n"]) for r in first if r["applied"]}
        applied_second = {(r["loan"], r["n"]) for r in records(second.out) if r["applied"]}
        everything = {(i["loan"], i["n"]) for i in intents}
        self.assertEqual(len(everything), 2000)
        self.assertEqual(applied_first | applied_second, everything)  # none lost
        # Outcomes are printed before their batch commits: at most the batch being committed
        # when the server died is reported by both runs.
        self.assertLessEqual(len(applied_first & applied_second), 10)
        self.assertEqual(self.state_rows(url, "SELECT count(*), count(DISTINCT loan) FROM "
                                              "emi_results"), [("2000", "2000")])
        self.assertEqual(self.state_rows(url, "SELECT state, attempts, count(*) FROM "
                                              "emi_installments WHERE n = 1 GROUP BY 1, 2"),
                         [("paid", "1", "2000")])


if __name__ == "__main__":
    unittest.main()
