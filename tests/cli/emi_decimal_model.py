"""An independent model of an emi-schedule loan's installments under prepayments and repricings,
in Python's decimal (money rounded half-up to the paisa, never a binary float), written from the
rules of emi-schedule(1):

- EMI = B r (1+r)^n / ((1+r)^n - 1) with r = annual / 12 (B / n when r = 0), rounded half-up once;
- each month's interest is the opening balance times r, rounded half-up; principal = EMI -
  interest, except the last installment, which pays the whole opening balance;
- installment k is due on the first due date plus k-1 months (the day clamped to short months);
- a revision (prepay, reprice) dated ON rebuilds the installments after the last one due on or
  before ON, from the opening balance of the first installment it rebuilds (which already
  reflects every earlier revision); reduce-emi and reprice without --keep-emi spread it over the
  same remaining months, reduce-tenure and --keep-emi keep the payment of that installment;
- a revision in an earlier period than the latest one, or with nothing left to rebuild, is
  refused (exit status 65), and so is anything the schedule rules refuse.
"""

import calendar
import datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext

CENT = Decimal("0.01")
MAX_MONTHS = 1200


class Refused(Exception):
    """emi-schedule must refuse this request with exit status 65 and change nothing."""


def money(value):
    with localcontext() as context:
        context.prec = 120
        return value.quantize(CENT, rounding=ROUND_HALF_UP)


def add_months(date, months):
    month_index = date.month - 1 + months
    year, month = date.year + month_index // 12, month_index % 12 + 1
    return datetime.date(year, month, min(date.day, calendar.monthrange(year, month)[1]))


def monthly_interest(balance, basis_points):
    """balance x (basis_points / 10000) / 12, rounded half-up: a tie is a terminating decimal,
    so 120 significant digits hold it exactly."""
    with localcontext() as context:
        context.prec = 120
        return money(balance * basis_points / Decimal(120000))


def equated_installment(balance, basis_points, months):
    """The EMI of `balance` over `months` at an annual rate of `basis_points`: with r = a/b,
    B a (b+a)^n / (b ((b+a)^n - b^n)), numerator and denominator exact integers of paise."""
    with localcontext() as context:
        context.prec = 120
        if basis_points == 0:
            return money(balance / months)
        a, b = basis_points, 120000
        grown, base = (b + a) ** months, b ** months
        paise = int(balance * 100)
        return money(Decimal(paise * a * grown) / Decimal(b * (grown - base)) / 100)


class Row:
    def __init__(self, number, due, opening, interest, principal):
        self.number, self.due, self.opening = number, due, opening
        self.interest, self.principal = interest, principal
        self.payment = principal + interest
        self.closing = opening - principal

    def shown(self):
        """The fields `emi-schedule show` prints, as text."""
        return {"n": self.number, "due_date": self.due.isoformat(), "payment": str(self.payment),
                "interest": str(self.interest), "principal": str(self.principal),
                "closing": str(self.closing)}


class LoanModel:
    def __init__(self, principal, basis_points, months, first_due):
        self.basis_points, self.months, self.first_due = basis_points, months, first_due
        self.latest_after = None  # the period of the latest revision
        self.rows = []
        self.emi = equated_installment(principal, basis_points, months)
        self.rows = self.rebuild(0, principal, None)

    def due(self, number):
        return add_months(self.first_due, number - 1)

    def installment(self, number, opening, payment, last):
        interest = monthly_interest(opening, self.basis_points)
        principal = opening if last else payment - interest
        if not last and (principal <= 0 or principal >= opening):
            raise Refused(f"the EMI {payment} does not fit month {number}")
        return Row(number, self.due(number), opening, interest, principal)

    def rebuild(self, after, balance, keep_emi):
        """The installments after `after`, from `balance`; sets self.emi."""
        rows = []
        if keep_emi is None:
            self.emi = equated_installment(balance, self.basis_points, self.months - after)
            if self.emi <= 0:
                raise Refused("the EMI rounds to zero")
            for number in range(after + 1, self.months + 1):
                rows.append(self.installment(number, balance, self.emi, number == self.months))
                balance = rows[-1].closing
            return rows
        self.emi = keep_emi
        number = after + 1
        while balance > 0:
            if number > after + MAX_MONTHS:
                raise Refused("more than 1200 months")
            last = keep_emi >= balance + monthly_interest(balance, self.basis_points)
            rows.append(self.installment(number, balance, keep_emi, last))
            balance = rows[-1].closing
            number += 1
        return rows

    def split(self, on):
        """(after, balance, payment of the next installment) for a revision dated `on`."""
        after = max((row.number for row in self.rows if row.due <= on), default=0)
        if after >= self.months:
            raise Refused("no installment is due after the date")
        if self.latest_after is not None and after < self.latest_after:
            raise Refused("a revision in an earlier period than the latest one")
        following = self.rows[after]
        assert following.number == after + 1
        return after, following.opening, following.payment

    def commit(self, after, rows, basis_points):
        """Takes a revision's result (only once nothing refused it)."""
        self.rows = self.rows[:after] + rows
        self.months = after + len(rows)
        self.basis_points = basis_points
        self.latest_after = after

    def prepay(self, amount, on, mode):
        """Returns (after, balance, new balance, emi, months) as prepay prints them."""
        after, balance, next_payment = self.split(on)
        if amount <= 0 or amount > balance:
            raise Refused("the amount is not between zero and the balance")
        saved_emi = self.emi
        rows = []
        try:
            if amount < balance:
                keep = next_payment if mode == "reduce-tenure" else None
                rows = self.rebuild(after, balance - amount, keep)
            else:
                self.emi = Decimal("0.00")
        except Refused:
            self.emi = saved_emi
            raise
        self.commit(after, rows, self.basis_points)
        return after, balance, balance - amount, self.emi, self.months

    def reprice(self, basis_points, on, keep_emi):
        """Returns (after, balance, emi, months) as reprice prints them."""
        after, balance, next_payment = self.split(on)
        saved = (self.emi, self.basis_points)
        self.basis_points = basis_points
        try:
            rows = self.rebuild(after, balance, next_payment if keep_emi else None)
        except Refused:
            self.emi, self.basis_points = saved
            raise
        self.commit(after, rows, basis_points)
        return after, balance, self.emi, self.months

    def outstanding_principal(self):
        return sum((row.principal for row in self.rows), Decimal("0.00"))


# Frequencies and repayment methods (emi-schedule(1), REPAYMENT METHODS), for `calc` and a loan
# as `create` stores it: the periodic rate is annual / 12, 52 or 26; weekly and fortnightly due
# dates step 7 or 14 days from the first due date.
PERIODS_A_YEAR = {"monthly": 12, "weekly": 52, "fortnightly": 26}
DAYS_A_PERIOD = {"weekly": 7, "fortnightly": 14}


def due_date(first_due, number, frequency):
    if frequency == "monthly":
        return add_months(first_due, number - 1)
    return first_due + datetime.timedelta(days=DAYS_A_PERIOD[frequency] * (number - 1))


def periodic_interest(balance, basis_points, periods):
    """balance x (basis_points / 10000) / periods, rounded half-up to the paisa."""
    with localcontext() as context:
        context.prec = 120
        return money(balance * basis_points / Decimal(10000 * periods))


def annuity_payment(balance, basis_points, count, periods):
    """B a (b+a)^n / (b ((b+a)^n - b^n)) with r = a/b = basis_points / (10000 periods)."""
    with localcontext() as context:
        context.prec = 200
        if basis_points == 0:
            return money(balance / count)
        a, b = basis_points, 10000 * periods
        grown, base = (b + a) ** count, b ** count
        paise = int(balance * 100)
        return money(Decimal(paise * a * grown) / Decimal(b * (grown - base)) / 100)


def schedule(principal, basis_points, count, first_due, frequency="monthly", method="annuity"):
    """The rows `emi-schedule calc` prints (without broken-period interest), as Row objects;
    raises Refused where emi-schedule must exit 65."""
    periods = PERIODS_A_YEAR[frequency]
    with localcontext() as context:
        context.prec = 120
        if method == "flat":
            interest_total = money(principal * basis_points * count / Decimal(10000 * periods))
            payment = money((principal + interest_total) / count)
            def interest_of(number, balance):
                return (money(interest_total * number / count)
                        - money(interest_total * (number - 1) / count))
            def principal_of(interest):
                return payment - interest
        elif method == "equal-principal":
            share = money(principal / count)
            def interest_of(number, balance):
                return periodic_interest(balance, basis_points, periods)
            def principal_of(interest):
                return share
        else:
            payment = annuity_payment(principal, basis_points, count, periods)
            if payment <= 0:
                raise Refused("the EMI rounds to zero")
            def interest_of(number, balance):
                return periodic_interest(balance, basis_points, periods)
            def principal_of(interest):
                return payment - interest
    rows, balance = [], principal
    for number in range(1, count + 1):
        interest = interest_of(number, balance)
        repaid = balance if number == count else principal_of(interest)
        if number != count and (repaid <= 0 or repaid >= balance):
            raise Refused(f"installment {number} does not fit")
        rows.append(Row(number, due_date(first_due, number, frequency), balance, interest, repaid))
        balance = rows[-1].closing
    return rows


def accrued_interest(balance, basis_points, days):
    """A payoff quote's accrued interest: balance x annual rate x days / 365 (ACT/365F),
    rounded half-up to the paisa."""
    with localcontext() as context:
        context.prec = 120
        return money(balance * basis_points * days / Decimal(10000 * 365))


def payoff_quote(rows, on, basis_points, accrual_start, flat_principal=None):
    """A payoff quote on date `on` with nothing paid, from the rules of emi-schedule(1), payoff:
    rows are the loan's installments (a separate broken-period charge is row 0, due at
    disbursal), accrual_start is disbursal (plus the broken days under --bpi separate), and
    flat_principal is the original principal of a flat loan (None for the others)."""
    zero = Decimal("0.00")
    due = [row for row in rows if row.due <= on]
    later = [row for row in rows if row.due > on and row.number > 0]
    accrued_from = max([accrual_start] + [row.due for row in due if row.number > 0])
    days = max((on - accrued_from).days, 0) if later else 0
    basis = flat_principal if flat_principal is not None else sum(
        (row.principal for row in later), zero)
    accrued = accrued_interest(basis, basis_points, days) if later else zero
    on_overdue = zero if flat_principal is not None else sum(
        (accrued_interest(row.principal, basis_points, (on - row.due).days)
         for row in due if row.number > 0), zero)
    quote = {"principal": sum((row.principal for row in rows), zero),
             "interest_due": sum((row.interest for row in due), zero),
             "interest_accrued": accrued, "accrued_from": accrued_from.isoformat(),
             "accrued_days": days, "interest_on_overdue": on_overdue}
    quote["total"] = (quote["principal"] + quote["interest_due"] + accrued + on_overdue)
    return {key: value if isinstance(value, (int, str)) else str(value)
            for key, value in quote.items()}
