"""emi-schedule prepay and reprice: every revision starts from the balance after all earlier
revisions, a revision in an earlier period than the latest one is refused, and random sequences of
revisions match an independent model in Python's decimal (emi_decimal_model)."""

import datetime
import random
import unittest
from decimal import Decimal

from emi_decimal_model import LoanModel, Refused, add_months
from sluice_cli import ToolTestCase, on_both_backends
from test_emi_cycle import EMI_TABLES, LOAN, records


@on_both_backends
class EmiRevisions(ToolTestCase):
    tool = "emi-schedule"

    def emi(self, *args, status=0):
        result = self.run_tool(*args, "--db", self.state("loans"))
        self.assertStatus(result, status)
        return records(result.out) if status == 0 else result

    def shown(self, loan):
        return [{key: row[key] for key in ("n", "due_date", "payment", "interest", "principal",
                                           "closing")} for row in self.emi("show", "--loan", loan)]

    def outstanding_principal(self, loan):
        return self.emi("status", "--loan", loan, "--today", "2026-01-15")[0][
            "outstanding_principal"]

    def test_second_prepayment_in_a_period_starts_from_the_first_ones_balance(self):
        self.emi("create", "--loan", "L1", *LOAN)
        first = self.emi("prepay", "--loan", "L1", "--amount", "10000.00", "--on", "2026-02-20")
        self.assertEqual((first[0]["balance"], first[0]["new_balance"]),
                         ("92041.74", "82041.74"))
        second = self.emi("prepay", "--loan", "L1", "--amount", "10000.00", "--on", "2026-02-25")
        self.assertEqual((second[0]["after"], second[0]["balance"], second[0]["new_balance"]),
                         (1, "82041.74", "72041.74"))
        # 100000.00 lent, 20000.00 prepaid, nothing paid yet.
        self.assertEqual(self.outstanding_principal("L1"), "80000.00")
        model = LoanModel(Decimal("100000.00"), 1000, 12, datetime.date(2026, 2, 15))
        model.prepay(Decimal("10000.00"), datetime.date(2026, 2, 20), "reduce-tenure")
        model.prepay(Decimal("10000.00"), datetime.date(2026, 2, 25), "reduce-tenure")
        self.assertEqual(self.shown("L1"), [row.shown() for row in model.rows])

    def test_reprice_after_a_prepayment_keeps_the_prepayment(self):
        self.emi("create", "--loan", "L1", *LOAN)
        self.emi("prepay", "--loan", "L1", "--amount", "50000.00", "--on", "2026-02-20")
        repriced = self.emi("reprice", "--loan", "L1", "--rate", "9%", "--from", "2026-02-20")
        self.assertEqual((repriced[0]["after"], repriced[0]["balance"]), (1, "42041.74"))
        self.assertEqual(self.outstanding_principal("L1"), "50000.00")
        model = LoanModel(Decimal("100000.00"), 1000, 12, datetime.date(2026, 2, 15))
        model.prepay(Decimal("50000.00"), datetime.date(2026, 2, 20), "reduce-tenure")
        model.reprice(900, datetime.date(2026, 2, 20), False)
        self.assertEqual(self.shown("L1"), [row.shown() for row in model.rows])

    def test_a_revision_in_an_earlier_period_than_the_latest_is_refused(self):
        self.emi("create", "--loan", "L1", *LOAN)
        self.emi("prepay", "--loan", "L1", "--amount", "10000.00", "--on", "2026-04-20")
        before = self.dump()
        for command in (("prepay", "--loan", "L1", "--amount", "100.00", "--on", "2026-03-20"),
                        ("reprice", "--loan", "L1", "--rate", "9%", "--from", "2026-01-20")):
            with self.subTest(command=command[0]):
                result = self.emi(*command, status=65)
                self.assertError(result, 65, "L1", "2026-04-20", "date order")
                self.assertEqual(result.stdout, b"")
                self.assertEqual(self.dump(), before)
        # The same period, even an earlier day of it, is fine: interest is monthly.
        later = self.emi("reprice", "--loan", "L1", "--rate", "9%", "--from", "2026-04-16")
        self.assertEqual(later[0]["after"], 3)

    def dump(self):
        return self.state_dump(self.state("loans"), EMI_TABLES)

    def apply(self, model, loan, operation):
        """Runs one revision on the tool and the model; checks the printed record."""
        kind, on = operation[0], operation[1]
        if kind == "prepay":
            amount, mode = operation[2], operation[3]
            args = ("prepay", "--loan", loan, "--amount", str(amount), "--on", on.isoformat(),
                    "--mode", mode)
        else:
            basis_points, keep_emi = operation[2], operation[3]
            args = ("reprice", "--loan", loan, "--rate", f"{basis_points}bp", "--from",
                    on.isoformat(), *(("--keep-emi",) if keep_emi else ()))
        try:
            expected = (model.prepay(amount, on, mode) if kind == "prepay"
                        else model.reprice(basis_points, on, keep_emi))
        except Refused as refusal:
            result = self.run_tool(*args, "--db", self.state("loans"))
            self.assertEqual(result.status, 65, (args, str(refusal), result))
            return "refused"
        printed = self.emi(*args)[0]
        if kind == "prepay":
            got = (printed["after"], Decimal(printed["balance"]), Decimal(printed["new_balance"]),
                   Decimal(printed["emi"]), printed["months"])
        else:
            got = (printed["after"], Decimal(printed["balance"]), Decimal(printed["emi"]),
                   printed["months"])
        self.assertEqual(got, expected, args)
        return "applied"

    def operation(self, generator, model, period):
        """A random revision in `period` (installments due before it: period - 1)."""
        on = add_months(model.first_due, period - 1) + datetime.timedelta(
            days=generator.randint(0, 27))
        following = [row for row in model.rows if row.due > on]
        balance = following[0].opening if following else Decimal("1000.00")
        if generator.random() < 0.55:
            choice = generator.random()
            if choice < 0.1:
                amount = balance  # closes the loan
            elif choice < 0.15:
                amount = balance + Decimal("0.01")  # too much: refused
            else:
                amount = (balance * Decimal(generator.randint(1, 60)) / 100).quantize(
                    Decimal("0.01"))
            return ("prepay", on, max(amount, Decimal("0.01")),
                    generator.choice(["reduce-tenure", "reduce-emi"]))
        return ("reprice", on, generator.choice([0, generator.randint(100, 3000)]),
                generator.random() < 0.5)

    def test_random_revision_sequences_match_a_decimal_model(self):
        generator = random.Random(20261)
        outcomes = {"applied": 0, "refused": 0}
        for index in range(30):
            loan = f"P{index}"
            principal = Decimal(generator.randint(100000, 50000000)) / 100
            basis_points = generator.choice([0, generator.randint(100, 2400)])
            months = generator.randint(6, 36)
            self.emi("create", "--loan", loan, "--principal", str(principal), "--rate",
                     f"{basis_points}bp", "--months", str(months), "--currency", "INR",
                     "--disbursed", "2026-01-15")
            model = LoanModel(principal, basis_points, months, datetime.date(2026, 2, 15))
            period = 0
            for _ in range(generator.randint(1, 6)):
                # Mostly forward in time, sometimes the same period, sometimes an earlier one.
                period = max(0, period + generator.choice([-2, 0, 0, 1, 1, 2, 3]))
                operation = self.operation(generator, model, period)
                outcomes[self.apply(model, loan, operation)] += 1
                self.assertEqual(self.shown(loan), [row.shown() for row in model.rows],
                                 (loan, operation))
                self.assertEqual(Decimal(self.outstanding_principal(loan)),
                                 model.outstanding_principal(), (loan, operation))
        self.assertGreater(outcomes["applied"], 50, outcomes)
        self.assertGreater(outcomes["refused"], 5, outcomes)

if __name__ == "__main__":
    unittest.main()
