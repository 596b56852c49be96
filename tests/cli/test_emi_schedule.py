"""emi-schedule calc against an independent exact oracle (Python's fractions), plus statuses."""

import calendar
import datetime
import json
import os
import random
import unittest
from fractions import Fraction

from sluice_cli import ToolTestCase

EXPONENT = {"INR": 2, "USD": 2, "JPY": 0, "KWD": 3}


def round_half_up(value):
    """Rounds a non-negative Fraction to an integer, ties away from zero."""
    whole = value.numerator // value.denominator
    return whole + 1 if (value - whole) * 2 >= 1 else whole


def add_months(date, months):
    month_index = date.month - 1 + months
    year, month = date.year + month_index // 12, month_index % 12 + 1
    return datetime.date(year, month, min(date.day, calendar.monthrange(year, month)[1]))


def oracle(principal_minor, annual_rate, months, first_due):
    """The reducing-balance schedule, in minor units, computed independently."""
    r = annual_rate / 12
    if r == 0:
        emi = round_half_up(Fraction(principal_minor, months))
    else:
        growth = (1 + r) ** months
        emi = round_half_up(principal_minor * r * growth / (growth - 1))
    rows, balance = [], principal_minor
    for n in range(1, months + 1):
        interest = round_half_up(balance * r)
        principal = balance if n == months else emi - interest
        rows.append((n, add_months(first_due, n - 1).isoformat(), balance, principal + interest,
                     interest, principal, balance - principal))
        balance -= principal
    return emi, rows


def minor(text, exponent):
    whole, _, fraction = text.partition(".")
    return int(whole) * 10 ** exponent + (int(fraction) if fraction else 0)


class EmiCalc(ToolTestCase):
    tool = "emi-schedule"

    def calc(self, *args):
        dates = () if "--disbursed" in args else ("--disbursed", "2026-01-15")
        currency = () if "--currency" in args else ("--currency", "INR")
        result = self.run_tool("calc", *dates, *currency, *args)
        self.assertStatus(result, 0)
        return [json.loads(line) for line in result.out.splitlines()]

    def test_help_is_0_and_bad_usage_is_2(self):
        self.assertStatus(self.run_tool("--help"), 0)
        self.assertStatus(self.run_tool("calc", "--help"), 0)
        base = ("calc", "--principal", "100.00", "--months", "3")
        self.assertError(self.run_tool(*base, "--rate", "1%", "--bogus"), 2, "--bogus")
        self.assertError(self.run_tool(*base, "--currency", "INR", "--rate", "10"), 2,
                         "has no unit")
        self.assertError(self.run_tool(*base, "--rate", "10%", "--currency", "XXX"), 2, "XXX")
        self.assertError(self.run_tool("calc", "--principal", "12.345", "--currency", "USD",
                                       "--rate", "10%", "--months", "3"), 2, "12.345")
        base += ("--currency", "INR")
        self.assertError(self.run_tool(*base, "--rate", "10%", "--bpi", "later"), 2, "later")
        self.assertError(self.run_tool(*base, "--rate", "10%", "--disbursed", "2026-02-30"), 2,
                         "2026-02-30")

    def test_out_of_range_principal_and_months_are_usage_errors(self):
        # An option value outside its range is a usage error (2), as in backoff and zscore;
        # sluice(7) decides, and emi-schedule(1) says the same.
        terms = {"--principal": "100.00", "--rate": "10%", "--months": "3", "--currency": "INR"}
        for option, value, fragment in (("--principal", "0", "more than zero"),
                                        ("--principal", "0.00", "more than zero"),
                                        ("--months", "0", "between 1 and 1200"),
                                        ("--months", "1201", "between 1 and 1200")):
            args = [word for name, given in dict(terms, **{option: value}).items()
                    for word in (name, given)]
            for command in (["calc"], ["create", "--loan", "L1", "--db", "loans.db"]):
                with self.subTest(command=command[0], option=option, value=value):
                    result = self.run_tool(*command, *args, "--disbursed", "2026-01-15")
                    self.assertError(result, 2, option, fragment)
                    self.assertEqual(result.stdout, b"")
        self.assertFalse(os.path.exists(self.path("loans.db")))
        # In a create --from file the same value is bad input (65) naming its line and field.
        self.write("loans.jsonl",
                   '{"loan":"A","principal":"100.00","rate":"10%","months":3,"currency":"INR"}\n'
                   '{"loan":"B","principal":"100.00","rate":"10%","months":0,"currency":"INR"}\n')
        result = self.run_tool("create", "--from", "loans.jsonl", "--db", "loans.db")
        self.assertError(result, 65, "loans.jsonl:2", '"months"', "between 1 and 1200")

    def test_golden_schedules_from_the_issue(self):
        rows = self.calc("--principal", "100000.00", "--rate", "10%", "--months", "12",
                         "--summary")
        self.assertEqual(rows[0], {"n": 1, "due_date": "2026-02-15", "opening": "100000.00",
                                   "payment": "8791.59", "interest": "833.33",
                                   "principal": "7958.26", "closing": "92041.74"})
        self.assertEqual(rows[11]["payment"], "8791.56")
        summary = rows[12]
        self.assertEqual((summary["emi"], summary["total_interest"], summary["total_paid"]),
                         ("8791.59", "5499.05", "105499.05"))
        long_loan = self.calc("--principal", "500000.00", "--rate", "8.5%", "--months", "240",
                              "--summary")
        self.assertEqual((long_loan[-1]["emi"], long_loan[-1]["total_interest"]),
                         ("4339.12", "541386.34"))
        flat = self.calc("--principal", "120000.00", "--rate", "0%", "--months", "12")
        self.assertEqual({row["payment"] for row in flat}, {"10000.00"})

    def test_matches_an_exact_oracle_on_random_loans(self):
        generator = random.Random(42)
        for _ in range(150):
            currency = generator.choice(sorted(EXPONENT))
            exponent = EXPONENT[currency]
            principal_minor = generator.randint(10 ** (exponent + 3), 10 ** (exponent + 8))
            basis_points = generator.randint(0, 3000)
            months = generator.choice([1, 2, 12, 36, 60, 120, 240, 360, generator.randint(1, 480)])
            principal_text = str(principal_minor // 10 ** exponent)
            if exponent:
                principal_text += "." + str(principal_minor % 10 ** exponent).zfill(exponent)
            rows = self.calc("--principal", principal_text, "--rate", f"{basis_points}bp",
                             "--months", str(months), "--currency", currency, "--summary")
            emi, expected = oracle(principal_minor, Fraction(basis_points, 10000), months,
                                   datetime.date(2026, 2, 15))
            got = [(r["n"], r["due_date"], minor(r["opening"], exponent),
                    minor(r["payment"], exponent), minor(r["interest"], exponent),
                    minor(r["principal"], exponent), minor(r["closing"], exponent))
                   for r in rows[:-1]]
            self.assertEqual(got, expected, (principal_text, basis_points, months, currency))
            self.assertEqual(minor(rows[-1]["emi"], exponent), emi)

    def test_invariant_breaking_inputs_are_65_and_print_nothing(self):
        result = self.run_tool("calc", "--principal", "2", "--currency", "JPY", "--rate", "0%",
                               "--months", "4", "--disbursed", "2026-01-15")
        self.assertError(result, 65, "installment 2")
        self.assertEqual(result.stdout, b"")

    def test_month_end_due_dates(self):
        rows = self.calc("--principal", "1000.00", "--rate", "12%", "--months", "4",
                         "--disbursed", "2027-12-31", "--first-due", "2028-01-31")
        self.assertEqual([r["due_date"] for r in rows],
                         ["2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30"])
        eom = self.calc("--principal", "1000.00", "--rate", "12%", "--months", "3",
                        "--first-due", "2026-02-28", "--eom")
        self.assertEqual([r["due_date"] for r in eom], ["2026-02-28", "2026-03-31", "2026-04-30"])

    def test_broken_period_interest_separate_line(self):
        rows = self.calc("--principal", "100000.00", "--rate", "10%", "--months", "12",
                         "--disbursed", "2026-01-05", "--first-due", "2026-02-15", "--bpi",
                         "separate", "--summary")
        self.assertEqual(rows[0]["n"], 0)
        # 100000.00 x 10% x 10 days / 365 = 273.972... -> 273.97
        self.assertEqual((rows[0]["payment"], rows[0]["due_date"]), ("273.97", "2026-01-05"))
        self.assertEqual((rows[-1]["bpi"], rows[-1]["bpi_days"]), ("273.97", 10))


if __name__ == "__main__":
    unittest.main()
