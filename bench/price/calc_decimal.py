#!/usr/bin/env python3
"""The peer of `price calc` and its oracle: the same prices in stdlib Python, exactly.

calc_decimal.py --rates RATES.jsonl --countries DE,FR,... --date YYYY-MM-DD [CATALOG ...]

Reads a catalog ({"sku","price"} JSON Lines, base prices in USD; stdin without files) and prints,
for each SKU and each market in the order given, the record `price calc --countries ... --date
...` prints, with the same keys in the same order:
sku,country,currency,amount,net,tax,tax_rate,inclusive,fx_rate,fx_date,multiplier,rule,base,
base_currency,tax_category,source (the catalog has no tax categories and the markets no fixed
prices: null and "conversion").

Written from the rules in bench/price's brief and price(1), not from price's code:
  - cross rate USD->X = Fraction(EUR->X) / Fraction(EUR->USD), exact (the rates file is
    ECB-style, base EUR; each leg the latest rate on or before --date; fx_date the older leg's
    date, null and rate 1 when X is USD);
  - multiplier: explicit, or m = plr + (1 - plr) * 0.2 clamped to [0.3, 1]; 1 without one;
  - inclusive tax t: gross = round_half_up(base * fx * m * (1 + t)) in the market currency's
    minor unit, amount = rule(gross), net = round_half_up(amount / (1 + t)), tax = amount - net;
  - exclusive: amount = rule(round_half_up(base * fx * m)), net = amount,
    tax = round_half_up(amount * t); untaxed: the same with tax 0, tax_rate null;
  - rules on the figure in minor units, never on 0 or below the rule's min: end-99 the
    smallest N.99 >= figure; ceil:STEP the smallest multiple of STEP >= figure; nearest:STEP
    the nearest multiple, ties up, never 0 for a positive figure;
  - fx_rate and multiplier shown with at most 10 decimals (half-even), trailing zeros cut;
    tax_rate as a percentage ("19%", "8.875%"); amounts with the currency's decimals.
Every rounding is integer arithmetic on exact fractions (fractions.Fraction for the factors,
decimal.Decimal to read the decimal texts), so there is no binary floating point anywhere.

The markets (the same settings run.sh stores with `price tax set`, `price ppp set` and
`price rule set`) are the MARKETS table below.
"""

import argparse
import json
import sys
from decimal import Decimal
from fractions import Fraction

BASE_CURRENCY = "USD"
EXPONENT = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "INR": 2, "CHF": 2, "KWD": 3, "BRL": 2,
            "KRW": 0}
# country: currency, tax (percent text, inclusive) or None, adjustment, rule, rule minimum
MARKETS = {
    "DE": ("EUR", ("19", True), None, "end-99", None),
    "FR": ("EUR", ("20", True), None, "end-99", None),
    "GB": ("GBP", ("20", True), None, "end-99", None),
    "JP": ("JPY", ("10", True), None, "ceil:10", None),
    "IN": ("INR", ("18", True), ("plr", "0.24"), "none", None),
    "US": ("USD", ("8.875", False), None, "none", None),
    "CH": ("CHF", ("8.1", True), None, "nearest:0.05", None),
    "KW": ("KWD", None, None, "none", None),
    "BR": ("BRL", ("17", False), ("multiplier", "0.6"), "none", None),
    "KR": ("KRW", ("10", True), None, "ceil:1000", "1000"),
}
SMOOTHING, LOWEST, HIGHEST = Fraction("0.2"), Fraction("0.3"), Fraction(1)


def round_half_up(numerator, denominator):
    """numerator / denominator (denominator > 0) to the nearest integer, ties away from 0."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def ceil_div(numerator, denominator):
    return -((-numerator) // denominator)


def minor_units(text, exponent):
    value = Decimal(text).scaleb(exponent)
    if value != value.to_integral_value():
        raise ValueError(f"{text} has more than {exponent} decimals")
    return int(value)


def show_amount(minor, exponent):
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    if exponent == 0:
        return f"{sign}{minor}"
    unit = 10 ** exponent
    return f"{sign}{minor // unit}.{minor % unit:0{exponent}d}"


def show_fraction(value, places=10):
    scaled = round(value * 10 ** places)  # round() of a Fraction is half-even
    text = show_amount(scaled, places).rstrip("0").rstrip(".")
    return text


def apply_rule(rule, minimum, figure, exponent):
    if figure == 0 or (minimum is not None and figure < minimum):
        return figure
    if rule == "none":
        return figure
    if rule == "end-99":
        unit, ending = 10 ** exponent, 99 * 10 ** (exponent - 2)
        return ceil_div(figure - ending, unit) * unit + ending
    kind, step_text = rule.split(":")
    step = minor_units(step_text, exponent)
    if kind == "ceil":
        return ceil_div(figure, step) * step
    if kind == "nearest":
        return round_half_up(figure, step) * step or step  # a paid item never shows as free
    raise ValueError(rule)


def load_rates(path, date):
    """{currency: (Fraction rate per EUR, date)}: each currency's latest rate on or before date."""
    legs = {}
    with open(path) as rates:
        for line in rates:
            record = json.loads(line)
            if record["base"] != "EUR":
                raise ValueError("rates must be quoted against EUR")
            day = record["date"]
            if day <= date and (record["currency"] not in legs or legs[record["currency"]][1] < day):
                legs[record["currency"]] = (Fraction(Decimal(record["rate"])), day)
    legs["EUR"] = (Fraction(1), None)
    return legs


class Market:
    def __init__(self, country, legs):
        currency, tax, adjustment, rule, minimum = MARKETS[country]
        self.country, self.currency, self.rule = country, currency, rule
        self.exponent = EXPONENT[currency]
        if currency == BASE_CURRENCY:
            fx, fx_date = Fraction(1), None
        else:
            (to_rate, to_date), (from_rate, from_date) = legs[currency], legs[BASE_CURRENCY]
            fx = to_rate / from_rate
            fx_date = min(d for d in (to_date, from_date) if d is not None)
        if adjustment is None:
            multiplier = Fraction(1)
        elif adjustment[0] == "multiplier":
            multiplier = Fraction(Decimal(adjustment[1]))
        else:
            plr = Fraction(Decimal(adjustment[1]))
            multiplier = min(max(plr + (1 - plr) * SMOOTHING, LOWEST), HIGHEST)
        self.minimum = None if minimum is None else minor_units(minimum, self.exponent)
        self.rate = None if tax is None else Fraction(Decimal(tax[0])) / 100
        self.inclusive = tax is not None and tax[1]
        # base cents -> the market's minor units before rounding (with the tax when inclusive)
        factor = fx * multiplier * Fraction(10) ** (self.exponent - EXPONENT[BASE_CURRENCY])
        if self.inclusive:
            factor *= 1 + self.rate
        self.factor = (factor.numerator, factor.denominator)
        self.fields = {  # the record's fixed fields
            "tax_rate": None if tax is None else f"{Decimal(tax[0]).normalize():f}%",
            "inclusive": self.inclusive,
            "fx_rate": show_fraction(fx),
            "fx_date": fx_date,
            "multiplier": show_fraction(multiplier),
            "rule": rule,
        }

    def record(self, sku, price_text, base):
        numerator, denominator = self.factor
        amount = apply_rule(self.rule, self.minimum, round_half_up(base * numerator, denominator),
                            self.exponent)
        if self.rate is None:
            net, tax = amount, 0
        elif self.inclusive:  # net = amount / (1 + t)
            net = round_half_up(amount * self.rate.denominator,
                                self.rate.denominator + self.rate.numerator)
            tax = amount - net
        else:
            net, tax = amount, round_half_up(amount * self.rate.numerator, self.rate.denominator)
        e = self.exponent
        record = {"sku": sku, "country": self.country, "currency": self.currency,
                  "amount": show_amount(amount, e), "net": show_amount(net, e),
                  "tax": show_amount(tax, e)}
        record.update(self.fields)
        record["base"] = show_amount(base, EXPONENT[BASE_CURRENCY])
        record["base_currency"] = BASE_CURRENCY
        record["tax_category"] = None
        record["source"] = "conversion"
        return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", required=True)
    parser.add_argument("--countries", required=True)
    parser.add_argument("--date", required=True)
    parser.add_argument("catalog", nargs="*")
    args = parser.parse_args()
    legs = load_rates(args.rates, args.date)
    markets = [Market(country, legs) for country in args.countries.split(",")]
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    out = sys.stdout
    lines = []
    for handle in [open(path) for path in args.catalog] or [sys.stdin]:
        for line in handle:
            item = json.loads(line)
            base = minor_units(item["price"], EXPONENT[BASE_CURRENCY])
            for market in markets:
                lines.append(dumps(market.record(item["sku"], item["price"], base)))
            if len(lines) >= 10000:
                lines.append("")
                out.write("\n".join(lines))
                lines.clear()
    if lines:
        lines.append("")
        out.write("\n".join(lines))


if __name__ == "__main__":
    main()
