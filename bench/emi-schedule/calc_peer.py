#!/usr/bin/env python3
"""The peer of `emi-schedule calc` in bench/emi-schedule: the same reducing-balance schedule
with Python's decimal module (40 digits), ROUND_HALF_UP to the cent for the EMI and each
month's interest, the last installment paying the rest; prints the same JSON Lines.
Usage: calc_peer.py PRINCIPAL ANNUAL_PERCENT MONTHS FIRST_DUE(YYYY-MM-DD)"""
import calendar
import datetime
import json
import sys
from decimal import ROUND_HALF_UP, Decimal, getcontext

getcontext().prec = 40
CENT = Decimal("0.01")


def add_months(date, months):
    index = date.month - 1 + months
    year, month = date.year + index // 12, index % 12 + 1
    return datetime.date(year, month, min(date.day, calendar.monthrange(year, month)[1]))


def main():
    principal, percent, months = Decimal(sys.argv[1]), Decimal(sys.argv[2]), int(sys.argv[3])
    first_due = datetime.date.fromisoformat(sys.argv[4])
    r = percent / 100 / 12
    if r == 0:
        emi = (principal / months).quantize(CENT, ROUND_HALF_UP)
    else:
        growth = (1 + r) ** months
        emi = (principal * r * growth / (growth - 1)).quantize(CENT, ROUND_HALF_UP)
    balance = principal
    out = []
    for n in range(1, months + 1):
        interest = (balance * r).quantize(CENT, ROUND_HALF_UP)
        repaid = balance if n == months else emi - interest
        out.append(json.dumps({"n": n, "due_date": add_months(first_due, n - 1).isoformat(),
                               "opening": f"{balance:.2f}", "payment": f"{repaid + interest:.2f}",
                               "interest": f"{interest:.2f}", "principal": f"{repaid:.2f}",
                               "closing": f"{balance - repaid:.2f}"}, separators=(",", ":")))
        balance -= repaid
    sys.stdout.write("\n".join(out) + "\n")


main()
