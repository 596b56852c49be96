#!/usr/bin/env python3
"""The Python peer of `emi-schedule calc`: the same reducing-balance EMI schedule, stdlib only.

    calc_decimal.py --principal 500000.00 --rate 8.5% --months 360 --disbursed 2026-01-15
    calc_decimal.py ... --naive-interest      # interest = round(opening x r), r kept at 40 digits

What a user would write instead of emi-schedule, numpy-financial style but with decimal.Decimal
at 40 significant digits instead of binary floats:

- monthly rate r = annual rate / 12; EMI = P r (1+r)^n / ((1+r)^n - 1) (P / n when r = 0),
  rounded half-up (ROUND_HALF_UP) to 0.01;
- each month: interest = opening x r rounded half-up to 0.01, principal = EMI - interest,
  closing = opening - principal; the last installment pays the remaining balance plus its
  interest, so the balance ends at exactly 0;
- due dates: month k is due on first due + (k - 1) months, the day clamped to the month's length,
  where the first due date is one month after disbursal (also clamped).

Interest is computed as (opening x annual percent) / 1200, one division: when the exact value is a
half-cent tie (13% p.a. on an opening of 68094.00 is exactly 737.685) the 40-digit quotient is
exact and rounds up to 737.69, as emi-schedule does. Keeping r = annual / 1200 as a 40-digit
Decimal and multiplying (what `--naive-interest` does, and what a straight port of
numpy-financial's ipmt would do) gives 737.68499...998 there, which rounds down to 737.68: one
cent off, and every later row differs. (At 10% or 8.5% the 40-digit r happens to be close enough;
at 13% or 22% most ties go wrong.)

Prints one JSON object per installment, keys n, due_date, opening, payment, interest, principal,
closing, money as strings: the bytes `emi-schedule calc` prints for the same loan (2-decimal
currencies, no broken period, no --first-due, --eom or other options).
"""

import argparse
import calendar
import datetime
import decimal
import json
import sys
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def parse_rate_percent(text):
    """'8.5%' -> Decimal('8.5'); '850bp' -> Decimal('8.50')."""
    if text.endswith("%"):
        return Decimal(text[:-1])
    if text.endswith("bp"):
        return Decimal(text[:-2]) / 100
    raise ValueError(f"--rate: '{text}' has no unit (8.5% or 850bp)")


def add_months(day, months):
    """day + months, the day of the month clamped to the target month's length."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def schedule(principal, percent, months, first_due, naive_interest=False):
    r = percent / 1200  # monthly rate, at the context's 40 digits
    if r == 0:
        emi = (principal / months).quantize(CENT, ROUND_HALF_UP)
    else:
        grown = (1 + r) ** months
        emi = (principal * r * grown / (grown - 1)).quantize(CENT, ROUND_HALF_UP)
    balance = principal
    for n in range(1, months + 1):
        opening = balance
        exact = opening * r if naive_interest else opening * percent / 1200
        interest = exact.quantize(CENT, ROUND_HALF_UP)
        principal_part = opening if n == months else emi - interest
        if principal_part <= 0 or principal_part > opening:
            raise ValueError(f"the EMI {emi} does not fit month {n} (interest {interest})")
        balance = opening - principal_part
        yield {
            "n": n,
            "due_date": add_months(first_due, n - 1).isoformat(),
            "opening": str(opening),
            "payment": str(principal_part + interest),
            "interest": str(interest),
            "principal": str(principal_part),
            "closing": str(balance),
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--principal", required=True, help="amount lent, 2 decimals")
    parser.add_argument("--rate", required=True, help="annual rate: 8.5%% or 850bp")
    parser.add_argument("--months", required=True, type=int)
    parser.add_argument("--currency", required=True, choices=("INR",),
                        help="the currency, as emi-schedule requires it (2 decimals)")
    parser.add_argument("--disbursed", required=True, help="YYYY-MM-DD")
    parser.add_argument("--naive-interest", action="store_true",
                        help="interest = opening x r with r rounded to 40 digits (see above)")
    args = parser.parse_args()

    decimal.getcontext().prec = 40
    principal = Decimal(args.principal)
    if principal.as_tuple().exponent != -2 or principal <= 0:
        parser.error("--principal must be positive with exactly 2 decimals, e.g. 100000.00")
    if not 1 <= args.months <= 1200:
        parser.error("--months must be between 1 and 1200")
    percent = parse_rate_percent(args.rate)
    first_due = add_months(datetime.date.fromisoformat(args.disbursed), 1)

    dumps = json.JSONEncoder(separators=(",", ":")).encode
    out = sys.stdout
    for row in schedule(principal, percent, args.months, first_due, args.naive_interest):
        out.write(dumps(row))
        out.write("\n")


if __name__ == "__main__":
    main()
