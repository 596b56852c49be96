"""emi-schedule's loan terms beyond the monthly annuity, and what today is: --currency (no
default), --tz and --now, --frequency and --method, each against emi_decimal_model.py (Python
decimal) or values derived by hand."""

import datetime
import json
import random
import sqlite3
import unittest
from decimal import Decimal

import os

from emi_decimal_model import (LoanModel, Refused, Row, accrued_interest, payoff_quote,
                                schedule)
from sluice_cli import ToolTestCase, on_both_backends, sqlite_only


def records(text):
    return [json.loads(line) for line in text.splitlines() if line]


def shown(rows):
    return [{key: row[key] for key in ("n", "due_date", "payment", "interest", "principal",
                                       "closing")} for row in rows]


class EmiTermsCalc(ToolTestCase):
    tool = "emi-schedule"

    def calc(self, *args, status=0):
        result = self.run_tool("calc", "--disbursed", "2026-01-15", *args)
        self.assertStatus(result, status)
        return records(result.out) if status == 0 else result

    def test_calc_without_a_currency_is_a_usage_error(self):
        result = self.run_tool("calc", "--principal", "100.00", "--rate", "10%", "--months", "3")
        self.assertError(result, 2, "--currency is required")
        self.assertEqual(result.stdout, b"")

    def test_weekly_loan_by_hand(self):
        # 26% a year is exactly 0.5% a week. EMI = 10000 x 0.005 x 1.005^4 / (1.005^4 - 1)
        # = 2531.3279... -> 2531.33; interest 50.00, 7518.67 x 0.005 = 37.59335 -> 37.59,
        # 5024.93 x 0.005 = 25.12465 -> 25.12, 2518.72 x 0.005 = 12.5936 -> 12.59.
        rows = self.calc("--principal", "10000.00", "--rate", "26%", "--months", "4",
                         "--currency", "INR", "--frequency", "weekly", "--summary")
        self.assertEqual([(r["due_date"], r["payment"], r["interest"]) for r in rows[:4]],
                         [("2026-01-22", "2531.33", "50.00"), ("2026-01-29", "2531.33", "37.59"),
                          ("2026-02-05", "2531.33", "25.12"), ("2026-02-12", "2531.31", "12.59")])
        self.assertEqual((rows[4]["frequency"], rows[4]["repayment"], rows[4]["total_interest"]),
                         ("weekly", "annuity", "125.30"))

    def test_fortnightly_due_dates_and_first_due_default(self):
        rows = self.calc("--principal", "2600.00", "--rate", "0%", "--months", "3",
                         "--currency", "INR", "--frequency", "fortnightly")
        self.assertEqual([(r["due_date"], r["payment"]) for r in rows],
                         [("2026-01-29", "866.67"), ("2026-02-12", "866.67"),
                          ("2026-02-26", "866.66")])

    def test_flat_and_equal_principal_by_hand(self):
        base = ("--principal", "1000.00", "--rate", "12%", "--months", "4", "--currency", "INR")
        # Flat: I = 1000 x 12% x 4/12 = 40.00; (1000 + 40) / 4 = 260.00, 10.00 interest each.
        flat = self.calc(*base, "--method", "flat", "--summary")
        self.assertEqual({(r["payment"], r["interest"], r["principal"]) for r in flat[:4]},
                         {("260.00", "10.00", "250.00")})
        self.assertEqual((flat[4]["method"], flat[4]["repayment"], flat[4]["total_interest"]),
                         ("flat", "flat", "40.00"))
        # Equal principal: 250.00 a month plus 1% of 1000, 750, 500, 250.
        equal = self.calc(*base, "--method", "equal-principal", "--summary")
        self.assertEqual([r["payment"] for r in equal[:4]],
                         ["260.00", "257.50", "255.00", "252.50"])
        self.assertEqual((equal[4]["emi"], equal[4]["method"], equal[4]["total_interest"]),
                         ("260.00", "reducing-balance", "25.00"))
        # Flat interest that does not divide evenly: I = 100.00 x 10% x 3/12 = 2.50; its parts
        # are round(2.50 k/3) - round(2.50 (k-1)/3): 0.83, 0.84, 0.83; installments 34.17.
        odd = self.calc("--principal", "100.00", "--rate", "10%", "--months", "3", "--currency",
                        "INR", "--method", "flat")
        self.assertEqual([(r["payment"], r["interest"]) for r in odd],
                         [("34.17", "0.83"), ("34.17", "0.84"), ("34.16", "0.83")])

    def test_random_loans_match_the_decimal_model(self):
        generator = random.Random(34)
        for _ in range(24):
            principal = Decimal(generator.randint(1000, 5000000)) / 100
            basis_points = generator.choice([0, generator.randint(50, 3600)])
            count = generator.randint(1, 60)
            frequency = generator.choice(["monthly", "weekly", "fortnightly"])
            method = generator.choice(["annuity", "equal-principal", "flat"])
            first_due = datetime.date(2026, 2, 15) if frequency == "monthly" else (
                datetime.date(2026, 1, 22 if frequency == "weekly" else 29))
            case = (str(principal), basis_points, count, frequency, method)
            result = self.run_tool("calc", "--disbursed", "2026-01-15", "--principal",
                                   str(principal), "--rate", f"{basis_points}bp", "--months",
                                   str(count), "--currency", "INR", "--frequency", frequency,
                                   "--method", method)
            try:
                expected = [row.shown() for row in schedule(principal, basis_points, count,
                                                            first_due, frequency, method)]
            except Refused:
                self.assertEqual(result.status, 65, case)
                continue
            self.assertEqual(result.status, 0, (case, result.err))
            self.assertEqual(shown(records(result.out)), expected, case)

    def test_bad_terms_are_usage_errors(self):
        base = ("--principal", "100.00", "--rate", "10%", "--months", "3", "--currency", "INR")
        self.assertError(self.calc(*base, "--frequency", "daily", status=2), 2, "--frequency")
        self.assertError(self.calc(*base, "--method", "rule-of-78", status=2), 2, "--method")
        self.assertError(self.calc(*base, "--frequency", "weekly", "--eom", status=2), 2,
                         "--eom is for monthly loans")
        self.assertError(self.calc(*base, "--tz", "Mars/Olympus", status=2), 2, "--tz")
        self.assertError(self.calc(*base, "--now", "yesterday", status=2), 2, "--now")

    def test_tz_decides_the_default_disbursal_date(self):
        args = ("calc", "--principal", "1000.00", "--rate", "12%", "--months", "2",
                "--currency", "INR", "--now", "2026-01-14T20:00:00Z", "--summary")
        # 20:00 UTC is 01:30 the next day in India (UTC+05:30), still the 14th in New York.
        for zone, day in ((None, "2026-01-14"), ("Asia/Kolkata", "2026-01-15"),
                          ("America/New_York", "2026-01-14")):
            result = self.run_tool(*args, *(("--tz", zone) if zone else ()))
            self.assertStatus(result, 0)
            self.assertEqual(records(result.out)[-1]["disbursed"], day, zone)
        # --today wins over the clock.
        result = self.run_tool(*args, "--tz", "Asia/Kolkata", "--today", "2026-03-01")
        self.assertEqual(records(result.out)[-1]["disbursed"], "2026-03-01")


# A hand-made calendar of 2026 (1 January 2026 is a Thursday): a Friday holiday before a month
# end that falls on a Saturday, a Tuesday month end, a Monday holiday after a Sunday month end,
# and a Friday holiday before a weekend at a month end.
HOLIDAYS = ("# holidays of the test\n"
            "2026-01-30  # Friday\n"
            "\n"
            "2026-03-31\n"
            "2026-06-01\n"
            "2026-07-31 # Friday, the weekend after it\n")

# Month ends from 31 January (--eom) and where each roll takes them, derived by hand:
# Sat 31 Jan: following Mon 2 Feb; preceding Fri 30 Jan is a holiday, so Thu 29 Jan, which is
#   also modified-following's (following would cross into February).
# Sat 28 Feb: Mon 2 Mar / Fri 27 Feb.   Tue 31 Mar (holiday): Wed 1 Apr / Mon 30 Mar.
# Thu 30 Apr: itself.   Sun 31 May: Mon 1 Jun is a holiday, so Tue 2 Jun / Fri 29 May.
# Tue 30 Jun: itself.   Fri 31 Jul (holiday): Mon 3 Aug / Thu 30 Jul.   Mon 31 Aug: itself.
ROLLED = {
    "none": ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30",
             "2026-07-31", "2026-08-31"],
    "following": ["2026-02-02", "2026-03-02", "2026-04-01", "2026-04-30", "2026-06-02",
                  "2026-06-30", "2026-08-03", "2026-08-31"],
    "modified-following": ["2026-01-29", "2026-02-27", "2026-03-30", "2026-04-30", "2026-05-29",
                           "2026-06-30", "2026-07-30", "2026-08-31"],
    "preceding": ["2026-01-29", "2026-02-27", "2026-03-30", "2026-04-30", "2026-05-29",
                  "2026-06-30", "2026-07-30", "2026-08-31"],
}
MONTH_ENDS = ("--principal", "8000.00", "--rate", "12%", "--months", "8", "--currency", "INR",
              "--disbursed", "2025-12-31", "--eom")


class EmiCalendar(ToolTestCase):
    tool = "emi-schedule"

    def due_dates(self, *args):
        result = self.run_tool("calc", *args)
        self.assertStatus(result, 0)
        return [row["due_date"] for row in records(result.out)]

    def test_each_roll_against_a_hand_made_calendar(self):
        self.write("holidays.txt", HOLIDAYS)
        unrolled = records(self.run_tool("calc", *MONTH_ENDS).out)
        for roll, dates in ROLLED.items():
            with self.subTest(roll=roll):
                calendar = ("--calendar", "holidays.txt") if roll != "none" else ()
                result = self.run_tool("calc", *MONTH_ENDS, *calendar, "--roll", roll)
                self.assertStatus(result, 0)
                rows = records(result.out)
                self.assertEqual([row["due_date"] for row in rows], dates)
                # Rolling moves dates only: every amount is that of the unrolled schedule.
                self.assertEqual([{k: v for k, v in row.items() if k != "due_date"}
                                  for row in rows],
                                 [{k: v for k, v in row.items() if k != "due_date"}
                                  for row in unrolled])

    def test_modified_following_stays_in_the_month_when_it_can(self):
        # Fri 13 Mar 2026 a holiday: following and modified-following Mon 16 Mar, preceding
        # Thu 12 Mar.
        self.write("holidays.txt", "2026-03-13\n")
        base = ("--principal", "100.00", "--rate", "12%", "--months", "1", "--currency", "INR",
                "--disbursed", "2026-02-13", "--calendar", "holidays.txt", "--roll")
        self.assertEqual(self.due_dates(*base, "following"), ["2026-03-16"])
        self.assertEqual(self.due_dates(*base, "modified-following"), ["2026-03-16"])
        self.assertEqual(self.due_dates(*base, "preceding"), ["2026-03-12"])

    def test_another_weekend(self):
        # Friday and Saturday off: Sat 31 Jan moves to Sun 1 Feb, Sat 28 Feb to Sun 1 Mar.
        self.assertEqual(self.due_dates(*MONTH_ENDS[:5], "2", *MONTH_ENDS[6:], "--weekend",
                                        "fri,sat", "--roll", "following"),
                         ["2026-02-01", "2026-03-01"])

    def test_bad_calendars(self):
        self.write("holidays.txt", "2026-01-26\n# fine\n2026-02-30\n")
        result = self.run_tool("calc", *MONTH_ENDS, "--calendar", "holidays.txt", "--roll",
                               "following")
        self.assertError(result, 65, "holidays.txt:3", "2026-02-30")
        self.assertEqual(result.stdout, b"")
        result = self.run_tool("calc", *MONTH_ENDS, "--calendar", "missing.txt", "--roll",
                               "following")
        self.assertStatus(result, 66)
        self.write("good.txt", "2026-01-26\n")
        self.assertError(self.run_tool("calc", *MONTH_ENDS, "--calendar", "good.txt"), 2,
                         "only with --roll")
        self.assertError(self.run_tool("calc", *MONTH_ENDS, "--weekend", "sat,sun,funday",
                                       "--roll", "following"), 2, "--weekend", "funday")
        self.assertError(self.run_tool("calc", *MONTH_ENDS, "--roll", "nearest"), 2, "--roll")
        # Given at all, even as the default, --weekend without --roll changes nothing.
        self.assertError(self.run_tool("calc", *MONTH_ENDS, "--weekend", "sat,sun"), 2,
                         "only with --roll")

    def test_a_roll_that_reorders_due_dates_is_refused(self):
        # Weekly from Mon 5 Jan 2026 with two weeks of holidays from Mon 12 Jan: following moves
        # 12 and 19 January both to Mon 26 January; preceding moves 12 January back over the
        # holidays of 6 to 9 January and the weekend onto disbursal itself.
        weekly = ("--principal", "1000.00", "--rate", "12%", "--months", "4", "--currency",
                  "INR", "--frequency", "weekly", "--disbursed", "2026-01-05", "--calendar",
                  "holidays.txt", "--roll")
        self.write("holidays.txt", "".join(f"2026-01-{day:02}\n" for day in
                                           (12, 13, 14, 15, 16, 19, 20, 21, 22, 23)))
        result = self.run_tool("calc", *weekly, "following")
        self.assertError(result, 65, "installment 2 falls due on 2026-01-26",
                         "--roll following from 2026-01-19",
                         "not after installment 1's due date on 2026-01-26")
        self.assertEqual(result.stdout, b"")
        self.write("holidays.txt", "2026-01-06\n2026-01-07\n2026-01-08\n2026-01-09\n2026-01-12\n")
        result = self.run_tool("calc", *weekly, "preceding")
        self.assertError(result, 65, "installment 1 falls due on 2026-01-05",
                         "--roll preceding from 2026-01-12", "not after disbursal on 2026-01-05")
        self.assertEqual(self.due_dates(*weekly, "following"),
                         ["2026-01-13", "2026-01-19", "2026-01-26", "2026-02-02"])

    def test_bad_options_leave_no_state_file(self):
        self.write("loans.jsonl", '{"loan":"L1","principal":"100.00","rate":"10%","months":3}\n')
        self.write("bad.txt", "2026-02-30\n")
        create = ("create", "--from", "loans.jsonl", "--currency", "INR", "--db")
        for args, status, message in (
                (("--calendar", "missing.txt", "--roll", "following"), 66, "missing.txt"),
                (("--calendar", "bad.txt", "--roll", "following"), 65, "bad.txt:1"),
                (("--weekend", "sat,sun"), 2, "only with --roll"),
                (("--weekend", "funday", "--roll", "following"), 2, "funday")):
            with self.subTest(args=args):
                result = self.run_tool(*create, self.path("loans.db"), *args)
                self.assertError(result, status, message)
                self.assertFalse(os.path.exists(self.path("loans.db")))
        # Nor does a loans file that cannot be read.
        result = self.run_tool("create", "--from", "absent.jsonl", "--currency", "INR", "--db",
                               self.path("loans.db"))
        self.assertError(result, 66, "cannot open 'absent.jsonl'")
        self.assertFalse(os.path.exists(self.path("loans.db")))
        # payoff reads its options before the state file: a bad one is 2, not 66 (no file).
        for args in (("--on", "2026-02-30"), ("--late-rate", "24")):
            with self.subTest(args=args):
                self.assertError(self.run_tool("payoff", "--loan", "L1", "--db",
                                               self.path("absent.db"), *args), 2, args[0])


@on_both_backends
class EmiTermsStored(ToolTestCase):
    tool = "emi-schedule"

    def emi(self, *args, status=0):
        result = self.run_tool(*args, "--db", self.state("loans"))
        self.assertStatus(result, status)
        return records(result.out) if status == 0 else result

    def test_create_without_a_currency_creates_nothing(self):
        result = self.emi("create", "--loan", "L1", "--principal", "100.00", "--rate", "10%",
                          "--months", "3", status=2)
        self.assertError(result, 2, "--currency is required")
        result = self.emi("create", "--from", "-", "--penalty", "flat:10.00", status=2)
        self.assertError(result, 2, "a flat --penalty needs --currency")

    def test_weekly_flat_loan_is_stored_and_collected_on_its_dates(self):
        self.emi("create", "--loan", "W", "--principal", "1000.00", "--rate", "12%", "--months",
                 "4", "--currency", "INR", "--frequency", "weekly", "--method", "flat",
                 "--disbursed", "2026-01-15")
        # Flat over 4 weeks: I = 1000 x 12% x 4/52 = 9.230769... -> 9.23; (1009.23) / 4 =
        # 252.3075 -> 252.31; interest through k: round(9.23 k / 4) = 2.31, 4.62, 6.92, 9.23,
        # so the parts are 2.31, 2.31, 2.30, 2.31.
        rows = self.emi("show", "--loan", "W")
        self.assertEqual([(r["due_date"], r["payment"], r["interest"]) for r in rows],
                         [("2026-01-22", "252.31", "2.31"), ("2026-01-29", "252.31", "2.31"),
                          ("2026-02-05", "252.31", "2.30"), ("2026-02-12", "252.30", "2.31")])
        intents = self.emi("collect", "--today", "2026-01-29")
        self.assertEqual([(i["n"], i["amount"], i["currency"]) for i in intents],
                         [(1, "252.31", "INR"), (2, "252.31", "INR")])
        self.assertEqual(self.emi("list")[0]["loan"], "W")
        # Revisions rebuild annuities only; the flat loan is left as it was.
        before = self.emi("show", "--loan", "W")
        self.assertError(self.emi("prepay", "--loan", "W", "--amount", "100.00", "--on",
                                  "2026-02-01", status=65), 65, "annuity loans only")
        self.assertEqual(self.emi("show", "--loan", "W"), before)
        # The same terms again are the same loan; another method is not.
        again = ("create", "--loan", "W", "--principal", "1000.00", "--rate", "12%", "--months",
                 "4", "--currency", "INR", "--frequency", "weekly", "--disbursed", "2026-01-15")
        self.assertFalse(self.emi(*again, "--method", "flat")[0]["created"])
        self.assertError(self.emi(*again, status=65), 65, "different terms")

    def test_create_from_reads_frequency_and_method_per_record(self):
        self.write("loans.jsonl",
                   '{"loan":"E","principal":"5000.00","rate":"18%","months":5,'
                   '"frequency":"fortnightly","method":"equal-principal"}\n'
                   '{"loan":"M","principal":"5000.00","rate":"18%","months":5}\n')
        self.assertEqual(self.emi("create", "--from", "loans.jsonl", "--currency", "INR",
                                  "--disbursed", "2026-01-15"), [{"created": 2, "unchanged": 0}])
        for loan, first_due, frequency, method in (
                ("E", datetime.date(2026, 1, 29), "fortnightly", "equal-principal"),
                ("M", datetime.date(2026, 2, 15), "monthly", "annuity")):
            expected = [row.shown() for row in schedule(Decimal("5000.00"), 1800, 5, first_due,
                                                        frequency, method)]
            self.assertEqual(shown(self.emi("show", "--loan", loan)), expected, loan)

    def test_tz_decides_what_collect_and_status_call_today(self):
        self.emi("create", "--loan", "L1", "--principal", "1200.00", "--rate", "0%", "--months",
                 "3", "--currency", "INR", "--disbursed", "2026-01-15")
        # 2026-02-14T20:00Z is 01:30 on 15 February in India: installment 1 is due there.
        now = ("--now", "2026-02-14T20:00:00Z")
        self.assertEqual(self.emi("status", *now)[0]["due"], 0)
        self.assertEqual(self.emi("status", *now, "--tz", "Asia/Kolkata")[0]["due"], 1)
        self.assertEqual(self.emi("collect", *now), [])
        intents = self.emi("collect", *now, "--tz", "Asia/Kolkata")
        self.assertEqual([(i["n"], i["amount"], i["due_date"]) for i in intents],
                         [(1, "400.00", "2026-02-15")])

    def test_a_stored_loan_keeps_its_calendar_through_a_revision(self):
        self.write("holidays.txt", HOLIDAYS)
        created = self.emi("create", "--loan", "R", *MONTH_ENDS, "--calendar", "holidays.txt",
                           "--roll", "modified-following")
        self.assertEqual(created[0]["first_due"], "2026-01-31")
        self.assertEqual([row["due_date"] for row in self.emi("show", "--loan", "R")],
                         ROLLED["modified-following"])
        # The file may change later; the loan keeps the calendar it was created with.
        self.write("holidays.txt", "")
        self.emi("prepay", "--loan", "R", "--amount", "1000.00", "--on", "2026-02-01",
                 "--mode", "reduce-emi")
        self.assertEqual([row["due_date"] for row in self.emi("show", "--loan", "R")],
                         ROLLED["modified-following"])
        # Collect on Thu 29 January: installment 1 is due then, a day before its Friday holiday.
        self.assertEqual([i["n"] for i in self.emi("collect", "--today", "2026-01-29")], [1])

    def test_payoff_quote_against_the_decimal_model(self):
        self.emi("create", "--loan", "L1", "--principal", "100000.00", "--rate", "10%",
                 "--months", "12", "--currency", "INR", "--disbursed", "2026-01-15")
        rows = LoanModel(Decimal("100000.00"), 1000, 12, datetime.date(2026, 2, 15)).rows
        # On 1 March nothing is paid: installment 1 (15 Feb) is due with its interest, and
        # 14 days accrue on the principal of installments 2 to 12 (92041.74 -> 353.04).
        not_yet_due = sum((row.principal for row in rows[1:]), Decimal("0.00"))
        accrued = accrued_interest(not_yet_due, 1000, 14)
        self.assertEqual((str(not_yet_due), str(accrued)), ("92041.74", "353.04"))
        # Installment 1's principal, overdue for 14 days, still earns 10%: 7958.26 -> 30.52.
        overdue = accrued_interest(rows[0].principal, 1000, 14)
        self.assertEqual(str(overdue), "30.52")
        quote = self.emi("payoff", "--loan", "L1", "--on", "2026-03-01")[0]
        expected = {"loan": "L1", "on": "2026-03-01", "currency": "INR",
                    "principal": "100000.00", "interest_due": str(rows[0].interest),
                    "interest_accrued": str(accrued), "accrued_from": "2026-02-15",
                    "accrued_days": 14, "interest_on_overdue": str(overdue),
                    "day_count": "ACT/365F", "fees": "0.00", "late_interest": "0.00",
                    "total": str(Decimal("100000.00") + rows[0].interest + accrued + overdue)}
        self.assertEqual(expected["total"], "101216.89")  # as emi-schedule(1)'s example says
        self.assertEqual(quote, expected)
        # Three failed presentments make installment 1 overdue with 2% of 8791.59 = 175.83.
        for attempt in (1, 2, 3):
            self.emi("collect", "--today", f"2026-02-{15 + 2 * (attempt - 1)}")
            result = self.run_tool("record", "--today", f"2026-02-{15 + 2 * (attempt - 1)}",
                                   "--db", self.state("loans"),
                                   stdin=json.dumps({"loan": "L1", "n": 1, "attempt": attempt,
                                                     "result": "failed", "code": "R01"}).encode())
            self.assertStatus(result, 0)
        quote = self.emi("payoff", "--loan", "L1", "--on", "2026-03-01")[0]
        self.assertEqual((quote["fees"], quote["late_interest"], quote["total"]),
                         ("175.83", "0.00", str(Decimal(expected["total"]) + Decimal("175.83"))))
        # At 24% a year late, the unpaid 8791.59 of installment 1 owes 14 days of it.
        late = accrued_interest(rows[0].payment, 2400, 14)
        self.assertEqual(str(late), "80.93")  # 8791.59 x 0.24 x 14 / 365 = 80.9308...
        quote = self.emi("payoff", "--loan", "L1", "--on", "2026-03-01", "--late-rate", "24%")[0]
        self.assertEqual((quote["late_interest"], quote["total"]),
                         (str(late), str(Decimal(expected["total"]) + Decimal("175.83") + late)))
        self.assertError(self.emi("payoff", "--loan", "L1", "--late-rate", "24", status=2), 2,
                         "--late-rate")
        # On a due date nothing accrues and that installment's interest is due.
        quote = self.emi("payoff", "--loan", "L1", "--on", "2026-03-15")[0]
        self.assertEqual((quote["interest_due"], quote["interest_accrued"], quote["accrued_days"]),
                         (str(rows[0].interest + rows[1].interest), "0.00", 0))
        # Paying installment 1 leaves its principal out of the quote.
        result = self.run_tool("record", "--today", "2026-02-20", "--db", self.state("loans"),
                               stdin=b'{"loan":"L1","n":1,"attempt":4,"result":"paid"}\n')
        self.assertStatus(result, 0)
        quote = self.emi("payoff", "--loan", "L1", "--on", "2026-03-01")[0]
        self.assertEqual((quote["principal"], quote["interest_due"], quote["fees"],
                          quote["total"]),
                         ("92041.74", "0.00", "0.00", str(not_yet_due + accrued)))
        # Today, from --now in --tz, is the default date.
        quote = self.emi("payoff", "--loan", "L1", "--now", "2026-02-28T20:00:00Z", "--tz",
                         "Asia/Kolkata")[0]
        self.assertEqual((quote["on"], quote["accrued_days"]), ("2026-03-01", 14))
        self.assertError(self.emi("payoff", "--loan", "L1", "--on", "2026-01-14", status=65), 65,
                         "disbursed on 2026-01-15")
        self.assertError(self.emi("payoff", "--loan", "NOPE", "--on", "2026-03-01", status=66),
                         66, "no loan 'NOPE'")

    def test_payoff_quotes_of_other_terms_against_the_decimal_model(self):
        day = datetime.date
        self.write("holidays.txt", HOLIDAYS)
        hundred_k = Decimal("100000.00")
        # A separate broken-period charge for 14 days (15 Feb to 1 Mar): 383.56, due at
        # disbursal; interest then accrues from 29 January, disbursal plus those 14 days.
        self.emi("create", "--loan", "S", "--principal", "100000.00", "--rate", "10%",
                 "--months", "12", "--currency", "INR", "--disbursed", "2026-01-15",
                 "--first-due", "2026-03-01", "--bpi", "separate")
        charge = accrued_interest(hundred_k, 1000, 14)
        self.assertEqual(str(charge), "383.56")
        separate = ([Row(0, day(2026, 1, 15), hundred_k, charge, Decimal("0.00"))]
                    + schedule(hundred_k, 1000, 12, day(2026, 3, 1)))
        self.emi("create", "--loan", "E", "--principal", "60000.00", "--rate", "12%", "--months",
                 "6", "--currency", "INR", "--disbursed", "2026-01-15", "--method",
                 "equal-principal")
        self.emi("create", "--loan", "W", "--principal", "5200.00", "--rate", "10.4%",
                 "--months", "10", "--currency", "INR", "--disbursed", "2026-01-15",
                 "--frequency", "weekly")
        self.emi("create", "--loan", "R", *MONTH_ENDS, "--calendar", "holidays.txt", "--roll",
                 "following")
        rolled = schedule(Decimal("8000.00"), 1200, 8, day(2026, 1, 31))
        for row, due in zip(rolled, ROLLED["following"]):
            row.due = datetime.date.fromisoformat(due)
        cases = [
            ("S", "2026-01-20", separate, 1000, day(2026, 1, 29)),  # within the broken period
            ("S", "2026-02-10", separate, 1000, day(2026, 1, 29)),  # 12 days, not 26
            ("S", "2026-03-10", separate, 1000, day(2026, 1, 29)),
            ("E", "2026-04-01", schedule(Decimal("60000.00"), 1200, 6, day(2026, 2, 15),
                                         method="equal-principal"), 1200, day(2026, 1, 15)),
            ("W", "2026-02-09", schedule(Decimal("5200.00"), 1040, 10, day(2026, 1, 22),
                                         "weekly"), 1040, day(2026, 1, 15)),
            # 28 Feb rolls to Mon 2 Mar: on 1 March installment 2 is not due yet.
            ("R", "2026-03-01", rolled, 1200, day(2025, 12, 31)),
        ]
        for loan, on, rows, basis_points, start in cases:
            with self.subTest(loan=loan, on=on):
                quote = self.emi("payoff", "--loan", loan, "--on", on)[0]
                expected = payoff_quote(rows, datetime.date.fromisoformat(on), basis_points,
                                        start)
                self.assertEqual({key: quote[key] for key in expected}, expected)
        # By hand for S: 100000.00 x 10% x 12 / 365 = 328.767... on 10 February.
        quote = self.emi("payoff", "--loan", "S", "--on", "2026-02-10")[0]
        self.assertEqual((quote["interest_due"], quote["interest_accrued"], quote["total"]),
                         ("383.56", "328.77", "100712.33"))

    @sqlite_only
    def test_a_loan_stored_before_frequencies_reads_as_a_monthly_annuity(self):
        self.emi("create", "--loan", "OLD", "--principal", "100000.00", "--rate", "10%",
                 "--months", "12", "--currency", "INR", "--disbursed", "2026-01-15")
        # Make the file as version 4 left it: no frequency, method or calendar columns.
        with sqlite3.connect(self.state("loans")) as database:
            for column in ("frequency", "method", "roll", "weekend", "holidays"):
                database.execute(f"ALTER TABLE emi_loans DROP COLUMN {column}")
            database.execute("UPDATE sluice_meta SET version = 4 WHERE component = 'emi-schedule'")
        database.close()
        self.assertEqual(self.emi("status", "--today", "2026-02-15")[0]["due_amount"], "8791.59")
        self.assertFalse(self.emi("create", "--loan", "OLD", "--principal", "100000.00", "--rate",
                                  "10%", "--months", "12", "--currency", "INR", "--disbursed",
                                  "2026-01-15")[0]["created"])
        prepaid = self.emi("prepay", "--loan", "OLD", "--amount", "10000.00", "--on",
                           "2026-02-20")
        self.assertEqual(prepaid[0]["new_balance"], "82041.74")


if __name__ == "__main__":
    unittest.main()
