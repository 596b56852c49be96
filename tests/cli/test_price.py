"""price: the real binary against an independent Fraction oracle, the documented exit statuses,
quotes accepted at most once under concurrency, and publish surviving SIGKILL."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
import unittest

from fractions import Fraction

from sluice_cli import ToolTestCase, also_through_pgbouncer, on_both_backends, sqlite_only

DAY = "2026-03-03"
# ECB-style rates against EUR, so USD->X cross rates do not terminate.
RATES_CSV = ("Date, USD, JPY, GBP, INR, KWD, CHF, CYP, \n"
             "2026-03-03, 1.0823, 151.23, 0.8551, 90.1234, 0.3321, 0.9412, N/A, \n"
             "2 March 2026, 1.0800, 150.00, 0.8500, 90.0000, 0.3300, 0.9400, N/A, \n")
EXPONENT = {"USD": 2, "EUR": 2, "JPY": 0, "GBP": 2, "INR": 2, "KWD": 3, "CHF": 2}


def records(text):
    return [json.loads(line) for line in text.splitlines() if line]


def round_half_up(value):
    """Nearest integer to a Fraction, ties away from zero."""
    magnitude = abs(value)
    whole = magnitude.numerator // magnitude.denominator
    if magnitude - whole >= Fraction(1, 2):
        whole += 1
    return whole if value >= 0 else -whole


def text(minor, exponent):
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor)).rjust(exponent + 1, "0")
    return sign + (digits[:-exponent] + "." + digits[-exponent:] if exponent else digits)


def apply_rule(rule, minimum, figure, exponent):
    if figure == 0 or figure < minimum or rule == "none":
        return figure
    if rule.startswith("end-"):
        unit = 10 ** exponent
        ending = int(rule[4:]) * 10 ** (exponent - 2)
        k = -((ending - figure) // unit)  # ceil((figure - ending) / unit)
        return k * unit + ending
    kind, step_text = rule.split(":")
    step = int(Fraction(step_text) * 10 ** exponent)
    if kind == "ceil":
        return -(-figure // step) * step
    return round_half_up(Fraction(figure, step)) * step or step  # never shown as free


def nearest_point(figure, ending, unit):
    """nearest-NN from its definition: the closer of the points either side, the higher on a
    tie, and the first point when none lies below."""
    points = [k * unit + ending for k in range(figure // unit - 1, figure // unit + 2)]
    below = max(p for p in points if p <= figure) if figure >= ending else None
    above = min(p for p in points if p >= figure)
    if below is None:
        return above
    return below if figure - below < above - figure else above


def capped(point, figure, cap):
    return point if abs(point - figure) <= cap * figure else figure


def oracle(base, market, fx):
    """The issue's layers, computed with Python fractions from the definitions."""
    exponent = EXPONENT[market["currency"]]
    local = Fraction(base) * fx * market.get("multiplier", 1) * 10 ** exponent
    rate = market.get("tax")
    if rate is not None and market["inclusive"]:
        amount = apply_rule(market["rule"], 0, round_half_up(local * (1 + rate)), exponent)
        net = round_half_up(Fraction(amount) / (1 + rate))
        return text(amount, exponent), text(net, exponent), text(amount - net, exponent)
    amount = apply_rule(market["rule"], 0, round_half_up(local), exponent)
    tax = round_half_up(amount * rate) if rate is not None else 0
    return text(amount, exponent), text(amount, exponent), text(tax, exponent)


@on_both_backends
@also_through_pgbouncer
class Price(ToolTestCase):
    tool = "price"

    def price(self, *args, stdin=b"", status=0):
        result = self.run_tool(*args, "--db", self.state("price"), stdin=stdin)
        self.assertStatus(result, status)
        return records(result.out) if status == 0 else result

    def setup_markets(self):
        self.write("rates.csv", RATES_CSV)
        self.price("rates", "load", "rates.csv")
        self.price("tax", "set", "--country", "DE", "--rate", "19%", "--inclusive")
        self.price("tax", "set", "--country", "US", "--rate", "8.875%", "--exclusive")
        self.price("tax", "set", "--country", "JP", "--rate", "10%", "--inclusive")
        self.price("tax", "set", "--country", "CH", "--rate", "8.1%", "--inclusive")
        self.price("rule", "set", "--currency", "EUR", "--rule", "end-99")
        self.price("rule", "set", "--currency", "JPY", "--rule", "ceil:10")
        self.price("rule", "set", "--currency", "CHF", "--rule", "nearest:0.05")
        self.price("ppp", "set", "--country", "IN", "--plr", "0.24")
        self.price("ppp", "set", "--country", "GB", "--multiplier", "1.1")

    MARKETS = {
        "DE": {"currency": "EUR", "tax": Fraction(19, 100), "inclusive": True, "rule": "end-99"},
        "US": {"currency": "USD", "tax": Fraction(8875, 100000), "inclusive": False,
               "rule": "none"},
        "JP": {"currency": "JPY", "tax": Fraction(1, 10), "inclusive": True, "rule": "ceil:10"},
        "CH": {"currency": "CHF", "tax": Fraction(81, 1000), "inclusive": True,
               "rule": "nearest:0.05"},
        "IN": {"currency": "INR", "multiplier": Fraction(392, 1000), "rule": "none"},
        "GB": {"currency": "GBP", "multiplier": Fraction(11, 10), "rule": "none"},
        "KW": {"currency": "KWD", "rule": "none"},
    }

    def test_catalog_prices_match_an_independent_fraction_oracle(self):
        self.setup_markets()
        generator = random.Random(5)
        catalog = [{"sku": f"S{i}", "price": f"{generator.randint(0, 999999) / 100:.2f}"}
                   for i in range(400)]
        catalog.append({"sku": "zero", "price": "0"})
        catalog.append({"sku": "cent", "price": "0.01"})  # CHF nearest:0.05 shows 0.05, not 0
        stdin = "".join(json.dumps(item) + "\n" for item in catalog)
        countries = ",".join(self.MARKETS)
        out = self.price("calc", "--countries", countries, "--date", DAY, stdin=stdin)
        self.assertEqual(len(out), len(catalog) * len(self.MARKETS))
        usd = Fraction("1.0823")
        for record in out:
            market = self.MARKETS[record["country"]]
            currency = market["currency"]
            fx = Fraction(1) if currency == "USD" else (
                Fraction(1) if currency == "EUR" else Fraction(
                    RATES_CSV.splitlines()[1].split(", ")[
                        RATES_CSV.splitlines()[0].split(", ").index(currency)])) / usd
            base = next(item["price"] for item in catalog if item["sku"] == record["sku"])
            expected = oracle(base, market, fx)
            self.assertEqual((record["amount"], record["net"], record["tax"]), expected, record)
            self.assertEqual(record["fx_date"], None if currency == "USD" else DAY)
        first = out[0]
        self.assertEqual(list(first), ["sku", "country", "currency", "amount", "net", "tax",
                                       "tax_rate", "inclusive", "fx_rate", "fx_date",
                                       "multiplier", "rule", "base", "base_currency",
                                       "tax_category", "source"])

    def test_worked_case_of_the_issue(self):
        self.write("rates.jsonl",
                   '{"date":"2026-03-02","base":"USD","currency":"EUR","rate":"0.92"}\n')
        self.price("rates", "load", "--format", "jsonl", "rates.jsonl")
        self.price("tax", "set", "--country", "DE", "--rate", "19%", "--inclusive")
        self.price("rule", "set", "--currency", "EUR", "--rule", "end-99")
        out = self.price("calc", "--base", "49.99", "--country", "DE", "--date", "2026-03-04")
        self.assertEqual(out, [{"country": "DE", "currency": "EUR", "amount": "54.99",
                                "net": "46.21", "tax": "8.78", "tax_rate": "19%",
                                "inclusive": True, "fx_rate": "0.92", "fx_date": "2026-03-02",
                                "multiplier": "1", "rule": "end-99", "base": "49.99",
                                "base_currency": "USD", "tax_category": None,
                                "source": "conversion"}])

    def test_untaxed_country_says_so(self):
        self.setup_markets()
        out = self.price("calc", "--base", "10", "--country", "KW", "--date", DAY)[0]
        self.assertEqual((out["tax_rate"], out["inclusive"], out["tax"]), (None, False, "0.000"))

    def test_stale_missing_and_unknown(self):
        self.setup_markets()
        stale = self.price("calc", "--base", "1", "--country", "DE", "--date", "2026-03-08",
                           status=65)
        self.assertError(stale, 65, "2026-03-03", "--max-rate-age")
        self.price("calc", "--base", "1", "--country", "DE", "--date", "2026-03-08",
                   "--max-rate-age", "5d")
        early = self.price("calc", "--base", "1", "--country", "DE", "--date", "2026-03-01",
                           status=65)
        self.assertError(early, 65, "no USD rate published on or before 2026-03-01")
        brl = self.price("calc", "--base", "1", "--country", "BR", "--date", DAY, status=65)
        self.assertError(brl, 65, "BRL")
        self.assertError(self.price("calc", "--base", "1", "--country", "DE", "--currency", "HRK",
                                    status=2), 2, "withdrawn")
        self.assertError(self.price("calc", "--base", "1", "--country", "XX", status=2), 2,
                         "--country: 'XX'")
        self.assertError(self.price("calc", "--base", "1", "--country", "DE,JP", status=2), 2,
                         "--country: one country")
        self.assertError(self.price("calc", "--base", "1", "--countries", "DE,de", status=2), 2,
                         "--countries: 'de'")
        self.assertError(self.price("rule", "set", "--currency", "JPY", "--rule", "end-99",
                                    status=2), 2, "end-99")
        self.assertError(self.price("tax", "set", "--country", "DE", "--rate", "19",
                                    "--inclusive", status=2), 2, "%")

    def test_bad_catalog_lines_name_line_and_field_and_skip_invalid_exits_1(self):
        self.setup_markets()
        lines = ['{"sku":"A","price":"1.00"}', '{"sku":"B","price":"-1.00"}',
                 '{"sku":"C","price":"1.001"}', '{"sku":"D"}', 'not json']
        stdin = "\n".join(lines) + "\n"
        bad = self.price("calc", "--countries", "DE", "--date", DAY, stdin=stdin, status=65)
        self.assertError(bad, 65, "<stdin>:2", "price", "negative")
        self.assertEqual(bad.out, "")
        skipped = self.run_tool("calc", "--countries", "DE", "--date", DAY, "--skip-invalid",
                                "--db", self.state("price"), stdin=stdin)
        self.assertStatus(skipped, 1)
        self.assertEqual([r["sku"] for r in records(skipped.out)], ["A"])
        for line in (":2:", ":3:", ":4:", ":5:"):
            self.assertIn(line, skipped.err)

    def test_closed_pipe_ends_quietly(self):
        self.setup_markets()
        stdin = "".join(json.dumps({"sku": f"S{i}", "price": "1.00"}) + "\n"
                        for i in range(50000))
        self.write("catalog.jsonl", stdin)
        pipeline = subprocess.run(
            f"'{self.bin()}' calc --db '{self.state('price')}' --countries DE,JP --date {DAY} "
            "catalog.jsonl "
            "| head -1", shell=True, cwd=self.dir, capture_output=True, env=self.env)
        self.assertEqual(pipeline.stderr, b"")
        self.assertEqual(len(pipeline.stdout.splitlines()), 1)

    def bin(self):
        from sluice_cli import tool_path
        return tool_path("price")

    @sqlite_only
    def test_usage_and_missing_state(self):
        self.assertStatus(self.run_tool("--help"), 0)
        self.assertStatus(self.run_tool("calc", "--help"), 0)
        self.assertError(self.run_tool("calc", "--bogus"), 2)
        self.assertError(self.run_tool("lookup", "--sku", "A", "--country", "DE", "--db",
                                       "none.db"), 66, "none.db")
        self.assertError(self.run_tool("rates", "load", "missing.csv", "--db", "p.db"), 66,
                         "missing.csv")
        # Reading commands never create the state file a mistyped --db names.
        for args in (("calc", "--base", "1", "--country", "US"),
                     ("quote", "--amount", "1", "--from", "USD", "--to", "EUR")):
            self.assertError(self.run_tool(*args, "--db", "typo.db"), 66, "typo.db")
            self.assertFalse(os.path.exists(self.path("typo.db")))
        # Commands that never read the clock take no --now.
        self.assertError(self.run_tool("tax", "set", "--country", "DE", "--rate", "19%",
                                       "--inclusive", "--now", "@0", "--db", "p.db"), 2, "--now")

    def test_skipped_ecb_columns_are_listed_and_quiet_drops_the_note(self):
        self.write("rates.csv", RATES_CSV)
        loud = self.run_tool("rates", "load", "rates.csv", "--db", self.state("price"))
        self.assertStatus(loud, 0)
        self.assertEqual(records(loud.out)[0]["skipped_currencies"], ["CYP"])
        self.assertIn("price: note: rates.csv: skipped the columns", loud.err)
        quiet = self.run_tool("rates", "load", "--quiet", "rates.csv", "--db", self.state("price"))
        self.assertStatus(quiet, 0)
        self.assertEqual(quiet.err, "")
        self.assertEqual(records(quiet.out)[0]["changed"], 0)

    def test_a_repeated_row_counts_once_and_only_changes_count(self):
        self.write("rates.jsonl", "".join(json.dumps(row) + "\n" for row in [
            {"date": "2026-03-02", "base": "EUR", "currency": "USD", "rate": "1.01"},
            {"date": "2026-03-02", "base": "EUR", "currency": "JPY", "rate": "150"},
            {"date": "2026-03-02", "base": "EUR", "currency": "USD", "rate": "1.01"}]))
        loaded = self.price("rates", "load", "--format", "jsonl", "rates.jsonl")[0]
        self.assertEqual((loaded["rows"], loaded["changed"]), (2, 2))  # one USD row kept
        self.write("again.jsonl", "".join(json.dumps(row) + "\n" for row in [
            {"date": "2026-03-02", "base": "EUR", "currency": "USD", "rate": "1.01"},
            {"date": "2026-03-02", "base": "EUR", "currency": "JPY", "rate": "151"},
            {"date": "2026-03-03", "base": "EUR", "currency": "USD", "rate": "1.03"}]))
        again = self.price("rates", "load", "--format", "jsonl", "again.jsonl")[0]
        self.assertEqual(again["changed"], 2)  # the unchanged USD day is not counted
        shown = {r["currency"]: (r["date"], r["rate"])
                 for r in self.price("rates", "show", "--date", "2026-03-03")}
        self.assertEqual(shown, {"USD": ("2026-03-03", "1.03"), "JPY": ("2026-03-02", "151")})

    def test_bad_rates_file_leaves_state_untouched(self):
        self.setup_markets()
        before = self.price("rates", "show", "--date", DAY)
        self.write("bad.csv", "Date,USD\n2026-03-04,1.1\n2026-03-05,x\n")
        self.assertError(self.price("rates", "load", "bad.csv", status=65), 65, "bad.csv:3")
        self.assertEqual(self.price("rates", "show", "--date", "2026-03-05"), before)

    def test_an_ecb_column_for_the_base_currency_is_refused(self):
        # Found by fuzz/price_rates_fuzz: a EUR column stored a EUR/EUR rate of 2.0.
        self.setup_markets()
        before = self.price("rates", "show", "--date", DAY)
        self.write("eur.csv", "Date,USD,EUR\n2026-03-04,1.1,2.0\n")
        self.assertError(self.price("rates", "load", "eur.csv", status=65), 65,
                         "eur.csv:1: EUR: currency equals base (ECB rates are quoted against EUR)")
        self.assertEqual(self.price("rates", "show", "--date", DAY), before)

    def test_rates_show_gives_each_currency_its_latest_rate(self):
        self.write("rates.jsonl",
                   '{"date":"2026-03-02","base":"EUR","currency":"USD","rate":"1.08"}\n'
                   '{"date":"2026-03-02","base":"EUR","currency":"JPY","rate":"150"}\n'
                   '{"date":"2026-03-03","base":"EUR","currency":"USD","rate":"1.09"}\n'
                   '{"date":"2026-03-05","base":"EUR","currency":"JPY","rate":"151"}\n')
        self.price("rates", "load", "--format", "jsonl", "rates.jsonl")
        shown = self.price("rates", "show", "--date", "2026-03-04")
        self.assertEqual(shown, [
            {"currency": "JPY", "rate": "150", "date": "2026-03-02", "base": "EUR"},
            {"currency": "USD", "rate": "1.09", "date": "2026-03-03", "base": "EUR"}])
        none = self.price("rates", "show", "--date", "2026-03-01", status=1)
        self.assertError(none, 1, "2026-03-01")

    def test_allocate_sums_exactly(self):
        def parts(amount, currency, ratios):
            result = self.run_tool("allocate", "--amount", amount, "--currency", currency,
                                   "--ratios", ratios)
            self.assertStatus(result, 0)
            return [record["amount"] for record in records(result.out)]
        self.assertEqual(parts("100.00", "USD", "1,1,1"), ["33.34", "33.33", "33.33"])
        self.assertEqual(parts("99.99", "USD", "75,25"), ["74.99", "25.00"])
        self.assertEqual(parts("-100.00", "USD", "1,1,1"), ["-33.34", "-33.33", "-33.33"])
        self.assertEqual(parts("10", "JPY", "0.5,0.25,0.25"), ["5", "3", "2"])
        self.assertError(self.run_tool("allocate", "--amount", "1.001", "--currency", "USD",
                                       "--ratios", "1"), 2, "--amount")

    def test_nearest_price_point_under_a_cap_matches_the_oracle(self):
        self.setup_markets()
        stored = self.price("rule", "set", "--currency", "EUR", "--rule", "nearest-99",
                            "--max-uplift", "5.0%")
        self.assertEqual(stored, [{"currency": "EUR", "rule": "nearest-99", "min": None,
                                   "max_uplift": "5%"}])
        bases = ["0.30", "1.00", "1.17", "1.29", "4.17", "9.10", "24.30", "49.99", "99.00"]
        self.write("catalog.jsonl", "".join(f'{{"sku":"s{i}","price":"{b}"}}\n'
                                            for i, b in enumerate(bases)))
        out = self.price("calc", "--country", "DE", "--date", DAY, "catalog.jsonl")
        fx = 1 / Fraction("1.0823")
        for base, record in zip(bases, out):
            figure = round_half_up(Fraction(base) * fx * Fraction(119, 100) * 100)
            expected = capped(nearest_point(figure, 99, 100), figure, Fraction(5, 100))
            self.assertEqual(record["amount"], text(expected, 2), base)
        # Down, up and the fallback all occur (by hand, gross = base * 1.19 / 1.0823): 9.10 is
        # 10.0055 -> 10.01 -> 9.99; 24.30 is 26.7181 -> 26.72 -> 26.99; 1.17 is 1.2864 -> 1.29,
        # whose nearest point 0.99 is 23% away, so it stays 1.29.
        self.assertEqual([out[i]["amount"] for i in (5, 6, 2)], ["9.99", "26.99", "1.29"])
        for bad, message in ((["--max-uplift", "5"], "--max-uplift: '5' has no unit"),
                             (["--max-uplift", "-1%"], "--max-uplift: invalid rate '-1%'")):
            args = ["rule", "set", "--currency", "EUR", "--rule", "nearest-99", *bad]
            self.assertError(self.price(*args, status=2), 2, message)
        self.assertError(self.price("rule", "set", "--currency", "EUR", "--rule", "nearest-98",
                                    status=2), 2, "--rule: 'nearest-98' is not none")

    def test_tax_categories_pay_their_rate_and_an_unknown_one_is_bad_data(self):
        self.setup_markets()
        stored = self.price("tax", "set", "--country", "DE", "--category", "food", "--rate", "7%")
        self.assertEqual(stored, [{"country": "DE", "rate": "7%", "inclusive": True,
                                   "category": "food"}])
        self.price("tax", "set", "--country", "US", "--category", "books", "--rate", "0%")
        catalog = [("A", "49.99", "food"), ("B", "49.99", None), ("C", "3.10", "books"),
                   ("D", "12.00", "food")]
        self.write("catalog.jsonl", "".join(
            json.dumps({"sku": sku, "price": price, **({"tax_category": c} if c else {})}) + "\n"
            for sku, price, c in catalog))
        out = self.price("calc", "--countries", "DE,US,KW", "--date", DAY, "catalog.jsonl")
        fx = {"DE": 1 / Fraction("1.0823"), "US": Fraction(1), "KW": Fraction("0.3321") /
              Fraction("1.0823")}
        own = {("DE", "food"): Fraction(7, 100), ("US", "books"): Fraction(0)}
        for record in out:
            sku, base, category = next(item for item in catalog if item[0] == record["sku"])
            market = dict(self.MARKETS[record["country"]])
            if market.get("tax") is not None:
                market["tax"] = own.get((record["country"], category), market["tax"])
            self.assertEqual((record["amount"], record["net"], record["tax"]),
                             oracle(base, market, fx[record["country"]]), record)
            self.assertEqual(record["tax_category"], category)
        # By hand: 49.99 USD food in DE is 49.99 / 1.0823 * 1.07 = 49.4219 -> 49.42 -> 49.99,
        # net 49.99 / 1.07 = 46.72; books in the US pay 0%, food there the standard 8.875%.
        self.assertEqual([(r["amount"], r["net"], r["tax_rate"]) for r in out[0:2]],
                         [("49.99", "46.72", "7%"), ("49.99", "49.99", "8.875%")])
        self.assertEqual(out[7]["tax_rate"], "0%")
        self.assertEqual(out[2]["tax_rate"], None)  # KW is untaxed whatever the category
        # An unknown category names the file, line and field: 65, or skipped with 1.
        self.write("bad.jsonl", '{"sku":"A","price":"1"}\n{"sku":"B","price":"1",'
                                '"tax_category":"fod"}\n{"sku":"C","price":"1","tax_category":7}\n')
        bad = self.price("calc", "--country", "DE", "--date", DAY, "bad.jsonl", status=65)
        self.assertError(bad, 65, "bad.jsonl:2", "field 'tax_category'", "'fod'",
                         "known: books, food")
        skipped = self.run_tool("calc", "--country", "DE", "--date", DAY, "--skip-invalid",
                                "bad.jsonl", "--db", self.state("price"))
        self.assertStatus(skipped, 1)
        self.assertEqual([r["sku"] for r in records(skipped.out)], ["A"])
        self.assertIn("bad.jsonl:3: field 'tax_category'", skipped.err)
        # On the command line too an unknown category is 65 (the state lacks it); an empty
        # one is a usage error, found before the state file is opened.
        self.assertError(self.price("calc", "--country", "DE", "--date", DAY, "--base", "1",
                                    "--tax-category", "fod", status=65), 65,
                         "--tax-category: no tax category 'fod' (known: books, food)")
        self.assertError(self.run_tool("calc", "--country", "DE", "--base", "1",
                                       "--tax-category", "", "--db", self.path("missing.db")),
                         2, "--tax-category: must not be empty")
        # A category needs its country's tax, and goes with it.
        self.assertError(self.price("tax", "set", "--country", "FR", "--category", "food",
                                    "--rate", "5.5%", status=65), 65, "FR has no tax")
        self.assertError(self.price("tax", "set", "--country", "DE", "--category", "food",
                                    "--rate", "7%", "--inclusive", status=2), 2, "--category")
        self.price("tax", "remove", "--country", "DE")
        self.assertEqual([(r["country"], r["category"]) for r in self.price("tax", "list")],
                         [("CH", None), ("JP", None), ("US", None), ("US", "books")])
        self.assertError(self.price("tax", "remove", "--country", "US", "--category", "food",
                                    status=1), 1, "food")

    def test_overrides_win_over_conversion_and_are_published_as_such(self):
        self.setup_markets()
        self.assertEqual(self.price("override", "set", "--country", "DE", "--sku", "A",
                                    "--price", "45"),
                         [{"country": "DE", "currency": "EUR", "sku": "A", "price": "45.00"}])
        self.write("fixed.jsonl", '{"country":"JP","sku":"B","price":"1000"}\n'
                                  '{"country":"DE","currency":"USD","sku":"B","price":9.5}\n')
        self.assertEqual(self.price("override", "load", "fixed.jsonl"), [{"overrides": 2}])
        self.write("catalog.jsonl", '{"sku":"A","price":"49.99"}\n{"sku":"B","price":"2.99"}\n')
        out = self.price("calc", "--countries", "DE,JP", "--date", DAY, "catalog.jsonl")
        # By hand: 45.00 gross at 19% is net 45 / 1.19 = 37.8151 -> 37.82, tax 7.18 (no end-99);
        # 1000 JPY at 10% is net 909.09 -> 909, tax 91. B in DE is converted (its fixed price
        # is for DE in USD); A in JP too.
        shown = [(r["sku"], r["country"], r["amount"], r["net"], r["tax"], r["source"])
                 for r in out]
        self.assertEqual(shown, [
            ("A", "DE", "45.00", "37.82", "7.18", "override"),
            ("A", "JP", *oracle("49.99", self.MARKETS["JP"], Fraction("151.23") /
                                Fraction("1.0823")), "conversion"),
            ("B", "DE", *oracle("2.99", self.MARKETS["DE"], 1 / Fraction("1.0823")),
             "conversion"),
            ("B", "JP", "1000", "909", "91", "override")])
        usd = self.price("calc", "--country", "DE", "--currency", "USD", "--date", DAY,
                         "catalog.jsonl")
        self.assertEqual([(r["amount"], r["source"]) for r in usd][1], ("9.50", "override"))
        self.price("publish", "--countries", "DE,JP", "--date", DAY, "catalog.jsonl")
        found = self.price("lookup", "--sku", "A", "--country", "DE", "--date", DAY)[0]
        self.assertEqual(found, dict(out[0], price_date=DAY))
        # Changing a fixed price replaces the market at the next publish.
        self.price("override", "set", "--country", "DE", "--sku", "A", "--price", "44.00")
        statuses = self.price("publish", "--countries", "DE,JP", "--date", DAY, "catalog.jsonl")
        self.assertEqual([r["status"] for r in statuses], ["replaced", "unchanged"])
        # A bad file changes nothing and names the line and field.
        before = self.state_dump(self.state("price"), ["price_overrides"])
        self.write("bad.jsonl", '{"country":"DE","sku":"C","price":"1.00"}\n'
                                '{"country":"DE","sku":"D","price":"1.001"}\n')
        self.assertError(self.price("override", "load", "bad.jsonl", status=65), 65,
                         "bad.jsonl:2", "field 'price'")
        self.assertEqual(self.state_dump(self.state("price"), ["price_overrides"]), before)
        self.assertError(self.price("override", "set", "--country", "JP", "--sku", "A",
                                    "--price", "1.5", status=2), 2, "--price")
        self.price("override", "remove", "--country", "DE", "--sku", "A")
        self.assertError(self.price("override", "remove", "--country", "DE", "--sku", "A",
                                    status=1), 1, "no override")
        self.assertEqual([(r["country"], r["sku"]) for r in self.price("override", "list")],
                         [("DE", "B"), ("JP", "B")])

    def test_a_fixed_price_in_another_currency_than_the_countrys_draws_a_note(self):
        override = lambda *args: self.run_tool("override", *args, "--db", self.state("price"))
        own = override("set", "--country", "DE", "--sku", "A", "--price", "45")
        self.assertStatus(own, 0)
        self.assertEqual(own.err, "")
        foreign = override("set", "--country", "DE", "--currency", "GBP", "--sku", "A",
                           "--price", "39")
        self.assertStatus(foreign, 0)
        self.assertEqual(foreign.err, "price: note: DE is priced in EUR: this GBP price applies "
                                      "only where DE is priced in GBP (calc --country DE "
                                      "--currency GBP, or a markets file)\n")
        self.assertEqual(records(foreign.out), [{"country": "DE", "currency": "GBP", "sku": "A",
                                                 "price": "39.00"}])
        self.write("fixed.jsonl", '{"country":"JP","sku":"B","price":"1000"}\n'
                                  '{"country":"DE","currency":"USD","sku":"B","price":"9.50"}\n'
                                  '{"country":"CH","currency":"EUR","sku":"B","price":"9.00"}\n')
        loaded = override("load", "fixed.jsonl")
        self.assertStatus(loaded, 0)
        self.assertEqual(loaded.err, "price: note: 2 of the fixed prices are in another currency "
                                     "than their country's: each applies only where its country "
                                     "is priced in that currency\n")

    def test_locale_adds_the_amount_as_the_locale_writes_it(self):
        self.setup_markets()
        # CLDR's forms by hand: 1100 USD in DE is 1100 / 1.0823 * 1.19 = 1209.4613 -> 1209.46,
        # end-99 1209.99; in JP 1100 * 151.23 / 1.0823 * 1.1 = 169073.55 -> 169074, ceil:10
        # 169080; in IN 1100 * 0.392 * 90.1234 / 1.0823 = 35906.135 -> 35906.14 (the lakh
        # grouping starts above 99,999).
        out = self.price("calc", "--countries", "DE,JP", "--date", DAY, "--base", "1100",
                         "--locale", "de-DE")
        self.assertEqual([r["display"] for r in out], ["1.209,99\u00a0\u20ac", "169.080\u00a0\u00a5"])
        self.write("catalog.jsonl", '{"sku":"A","price":"1100"}\n')
        india = self.price("calc", "--country", "IN", "--date", DAY, "--locale", "en-IN",
                           "catalog.jsonl")[0]
        self.assertEqual((india["amount"], india["display"]), ("35906.14", "\u20b935,906.14"))
        self.price("publish", "--country", "JP", "--date", DAY, "catalog.jsonl")
        found = self.price("lookup", "--sku", "A", "--country", "JP", "--date", DAY, "--locale",
                           "ja-JP")[0]
        self.assertEqual(found["display"], "\uffe5169,080")
        self.assertNotIn("display", self.price("lookup", "--sku", "A", "--country", "JP")[0])
        self.assertError(self.run_tool("calc", "--country", "DE", "--base", "1", "--locale",
                                       "xx-QQ", "--db", self.path("missing.db")), 2, "--locale")

    def back_to_version_1(self):
        with sqlite3.connect(self.state("price")) as connection:
            for statement in ("ALTER TABLE price_rules DROP COLUMN max_uplift",
                              "DROP TABLE price_overrides", "DROP TABLE price_tax_categories",
                              "ALTER TABLE price_published DROP COLUMN tax_category",
                              "ALTER TABLE price_published DROP COLUMN tax_rate",
                              "ALTER TABLE price_published DROP COLUMN source",
                              "ALTER TABLE price_quotes DROP COLUMN cancelled_at",
                              "UPDATE sluice_meta SET version = 1 WHERE component = 'price'"):
                connection.execute(statement)

    def state_version(self):
        return self.state_rows(self.state("price"),
                               "SELECT version FROM sluice_meta WHERE component = 'price'")

    @sqlite_only
    def test_override_options_are_checked_before_the_state_file_is_opened(self):
        # A usage error neither creates a state file nor migrates one, and a mistyped key of
        # override remove is 2 (a bad request), not 66 (no state file).
        missing = self.path("missing.db")
        for args, message in (
                (("set", "--country", "XX", "--sku", "A", "--price", "1"),
                 "--country: unknown country 'XX'"),
                (("set", "--country", "DE", "--currency", "EUX", "--sku", "A", "--price", "1"),
                 "--currency"),
                (("set", "--country", "DE", "--sku", "A", "--price", "1.001"), "--price"),
                (("remove", "--country", "XX", "--sku", "A"), "--country: unknown country 'XX'"),
                (("remove", "--country", "DE", "--sku", ""), "--sku: must not be empty")):
            self.assertError(self.run_tool("override", *args, "--db", missing), 2, message)
            self.assertFalse(os.path.exists(missing), args)
        self.price("rule", "set", "--currency", "EUR", "--rule", "end-99")
        self.back_to_version_1()
        for args in (("set", "--country", "XX", "--sku", "A", "--price", "1"),
                     ("remove", "--country", "XX", "--sku", "A")):
            self.assertError(self.price("override", *args, status=2), 2, "'XX'")
        self.assertEqual(self.state_version(), [("1",)])

    @sqlite_only
    def test_set_options_are_checked_before_the_state_file_is_opened(self):
        missing = self.path("missing.db")
        for args, message in (
                (("tax", "set", "--country", "DE", "--rate", "19", "--inclusive"), "no unit"),
                (("tax", "set", "--country", "DE", "--rate", "19%"), "--inclusive or"),
                (("tax", "set", "--country", "XX", "--category", "food", "--rate", "7%"),
                 "--country: 'XX' is not an ISO 3166-1 alpha-2"),
                (("ppp", "set", "--country", "DE"), "--plr or --multiplier"),
                (("ppp", "set", "--country", "XX", "--multiplier", "1"), "'XX'"),
                (("ppp", "set", "--country", "DE", "--multiplier", "0"),
                 "multiplier: must be above zero"),
                (("rule", "set", "--currency", "JPY", "--rule", "end-99"), "needs cents")):
            self.assertError(self.run_tool(*args, "--db", missing), 2, message)
            self.assertFalse(os.path.exists(missing), args)

    @sqlite_only
    def test_a_version_1_state_is_migrated_and_keeps_its_rows(self):
        self.setup_markets()
        self.write("catalog.jsonl", '{"sku":"A","price":"49.99"}\n')
        self.price("publish", "--country", "DE", "--date", DAY, "catalog.jsonl")
        self.back_to_version_1()
        listed = self.price("rule", "list")
        self.assertEqual(listed[0], {"currency": "CHF", "rule": "nearest:0.05", "min": None,
                                     "max_uplift": None})
        self.assertEqual(self.state_version(), [("2",)])
        # A price published by version 1 is a conversion at the publication's tax rate.
        found = self.price("lookup", "--sku", "A", "--country", "DE", "--date", DAY)[0]
        self.assertEqual((found["amount"], found["tax_rate"], found["tax_category"],
                          found["source"]), ("54.99", "19%", None, "conversion"))

    def test_publish_is_idempotent_replaces_on_change_and_lookup_answers(self):
        self.setup_markets()
        self.write("catalog.jsonl", '{"sku":"B","price":"2.99"}\n{"sku":"A","price":"49.99"}\n')
        statuses = lambda out: [(r["country"], r["status"]) for r in out]
        args = ("publish", "--countries", "DE,JP", "--date", DAY, "catalog.jsonl")
        self.assertEqual(statuses(self.price(*args)), [("DE", "published"), ("JP", "published")])
        self.assertEqual(statuses(self.price(*args)), [("DE", "unchanged"), ("JP", "unchanged")])
        self.price("tax", "set", "--country", "JP", "--rate", "8%", "--inclusive")
        self.assertEqual(statuses(self.price(*args)), [("DE", "unchanged"), ("JP", "replaced")])
        calc = self.price("calc", "--countries", "JP", "--date", DAY, "catalog.jsonl")
        found = self.price("lookup", "--sku", "A", "--country", "JP", "--date", "2026-03-05")
        self.assertEqual(found, [dict(calc[1], price_date=DAY)])
        missing = self.price("lookup", "--sku", "Z", "--country", "JP", "--date", DAY, status=1)
        self.assertError(missing, 1, "Z")
        self.write("dup.jsonl", '{"sku":"A","price":"1"}\n{"sku":"A","price":"2"}\n')
        self.assertError(self.price("publish", "--countries", "DE", "dup.jsonl", status=65), 65,
                         "dup.jsonl:2", "dup.jsonl:1")

    def test_lookup_and_remove_refuse_a_bad_country_or_currency_as_usage_errors(self):
        # Checked before the state file is opened, as calc and publish do: a web handler
        # answers 400 for a bad request, not 404.
        self.assertError(self.price("lookup", "--sku", "A", "--country", "de", status=2), 2,
                         "--country: 'de' is not an ISO 3166-1 alpha-2 country code")
        self.setup_markets()
        self.write("catalog.jsonl", '{"sku":"A","price":"49.99"}\n')
        self.price("publish", "--countries", "DE", "--date", DAY, "catalog.jsonl")
        for country in ("de", "XX", "DE,JP", ""):
            result = self.price("lookup", "--sku", "A", "--country", country, "--date", DAY,
                                status=2)
            self.assertError(result, 2, f"--country: '{country}'")
            self.assertEqual(result.out, "")
        self.assertError(self.price("lookup", "--sku", "A", "--country", "DE", "--date",
                                    "2026-02-30", status=2), 2, "--date")
        for command in ("ppp", "tax"):
            self.assertError(self.price(command, "remove", "--country", "de", status=2), 2,
                             "--country: 'de'")
        self.assertError(self.price("rule", "remove", "--currency", "eur", status=2), 2,
                         "unknown currency 'eur'")

    def test_calc_and_publish_share_one_price_limit(self):
        # The largest price is INT64_MAX minor units (92233720368547758.07 USD). With a
        # multiplier of 2, a base one cent higher than half of it gives one cent too many.
        self.price("ppp", "set", "--country", "US", "--multiplier", "2")
        under, over = "46116860184273879.03", "46116860184273879.04"
        largest = "92233720368547758.06"
        calc = self.price("calc", "--base", under, "--country", "US", "--date", DAY)
        self.assertEqual(calc[0]["amount"], largest)
        self.write("under.jsonl", json.dumps({"sku": "A", "price": under}) + "\n")
        self.price("publish", "--country", "US", "--date", DAY, "under.jsonl")
        found = self.price("lookup", "--sku", "A", "--country", "US", "--date", DAY)
        self.assertEqual(found[0]["amount"], largest)
        too_large = "amount 92233720368547758.08 USD is above the largest price, " \
                    "92233720368547758.07 USD"
        self.assertError(self.price("calc", "--base", over, "--country", "US", "--date", DAY,
                                    status=65), 65, too_large)
        self.write("over.jsonl", json.dumps({"sku": "B", "price": over}) + "\n")
        for command in ("calc", "publish"):
            result = self.price(command, "--country", "US", "--date", DAY, "over.jsonl",
                                status=65)
            self.assertError(result, 65, "over.jsonl:1: sku B: " + too_large)
            self.assertEqual(result.out, "")

    def test_two_values_for_one_day_and_currency_are_refused(self):
        self.write("twice.csv", "Date, USD, JPY\n2026-03-03, 1.0823, 151.23\n"
                                "2026-03-04, 1.0850, 151.30\n2026-03-03, 1.0900, 151.23\n")
        result = self.price("rates", "load", "twice.csv", status=65)
        self.assertError(result, 65, "twice.csv:4: USD on 2026-03-03 is 1.0900 here and 1.0823 "
                                     "on line 2")
        self.write("twice.jsonl",
                   '{"date":"2026-03-03","base":"EUR","currency":"USD","rate":"1.08"}\n'
                   '{"date":"2026-03-03","base":"EUR","currency":"USD","rate":1.09}\n')
        result = self.price("rates", "load", "twice.jsonl", status=65)
        self.assertError(result, 65, "twice.jsonl:2: USD on 2026-03-03 is 1.09 here and 1.08 on "
                                     "line 1")
        self.assertError(self.price("rates", "show", "--date", DAY, status=1), 1, "no rates")
        # The same value twice (an overlapping download) is one rate, however it is written.
        self.write("same.csv", "Date, USD\n2026-03-03, 1.0823\n2026-03-03, 1.08230\n")
        loaded = self.price("rates", "load", "same.csv")
        self.assertEqual((loaded[0]["rows"], loaded[0]["changed"]), (1, 1))
        self.assertEqual(self.price("rates", "show", "--date", DAY)[0]["rate"], "1.0823")

    def test_a_json_number_price_is_read_exactly_from_its_text(self):
        self.price("rule", "set", "--currency", "USD", "--rule", "none")
        catalog = ('{"sku":"A","price":1e2}\n{"sku":"B","price":1.5e1}\n'
                   '{"sku":"C","price":0.0199E2}\n{"sku":"D","price":4999e-2}\n'
                   '{"sku":"E","price":49.99}\n')
        out = self.price("calc", "--country", "US", "--date", DAY, stdin=catalog)
        self.assertEqual([(r["sku"], r["amount"], r["base"]) for r in out],
                         [("A", "100.00", "100.00"), ("B", "15.00", "15.00"),
                          ("C", "1.99", "1.99"), ("D", "49.99", "49.99"),
                          ("E", "49.99", "49.99")])
        for line, message in [
                ('{"sku":"F","price":1.001e0}',
                 "field 'price': invalid amount '1.001e0': more than 2 decimal places"),
                ('{"sku":"G","price":1e-3}',
                 "field 'price': invalid amount '1e-3': more than 2 decimal places"),
                ('{"sku":"H","price":1e400}', "field 'price': invalid amount '1e400': too large"),
                ('{"sku":"I","price":-1e2}',
                 "field 'price': invalid amount '-1e2': must not be negative")]:
            result = self.price("calc", "--country", "US", "--date", DAY,
                                stdin=catalog + line + "\n", status=65)
            self.assertError(result, 65, "<stdin>:6: " + message)

    def quote(self, *extra, now="2026-03-03T12:00:00Z"):
        return self.price("quote", "--amount", "100.00", "--from", "USD", "--to", "EUR",
                          "--now", now, *extra)[0]

    def test_quote_locks_its_rate_and_expires_exactly_at_expires_at(self):
        self.setup_markets()
        quote = self.quote("--ttl", "10m", "--fee", "1%")
        rate = Fraction(1) / Fraction("1.0823") * Fraction(99, 100)
        self.assertEqual(quote["amount_to"], text(round_half_up(10000 * rate), 2))
        self.assertEqual(quote["expires_at"], "2026-03-03T12:10:00Z")
        # Reloading rates does not change the quote.
        self.write("new.csv", "Date,USD\n2026-03-03,2.0\n")
        self.price("rates", "load", "new.csv")
        expired = self.price("accept", "--quote", quote["quote_id"], "--now",
                             "2026-03-03T12:10:00Z", status=1)
        self.assertEqual(json.loads(expired.out)["error"], "quote_expired")
        accepted = self.price("accept", "--quote", quote["quote_id"], "--amount-to",
                              quote["amount_to"], "--now", "2026-03-03T12:09:59.999Z")
        self.assertEqual((accepted[0]["status"], accepted[0]["amount_to"]),
                         ("accepted", quote["amount_to"]))
        used = self.price("accept", "--quote", quote["quote_id"], "--now",
                          "2026-03-03T12:09:59Z", status=1)
        self.assertEqual(json.loads(used.out)["error"], "quote_used")

    def test_amount_mismatch_and_unknown_quote_are_65(self):
        self.setup_markets()
        quote = self.quote()
        mismatch = self.price("accept", "--quote", quote["quote_id"], "--amount-to", "1.00",
                              "--now", "2026-03-03T12:00:01Z", status=65)
        self.assertError(mismatch, 65, "amount_to")
        self.assertError(self.price("accept", "--quote", "q_nope", status=65), 65, "q_nope")
        # The mismatch did not use the quote.
        self.price("accept", "--quote", quote["quote_id"], "--now", "2026-03-03T12:00:02Z")

    def test_quotes_are_shown_listed_and_cancelled_and_a_long_ttl_is_refused(self):
        self.setup_markets()
        first, second, third = self.quote(), self.quote(), self.quote("--ttl", "24h")
        at = lambda clock: ("--now", f"2026-03-03T{clock}Z")
        shown = self.price("quote", "show", "--quote", first["quote_id"], *at("12:05:00"))[0]
        self.assertEqual(shown, dict(first, status="open", accepted_at=None, cancelled_at=None))
        cancelled = self.price("quote", "cancel", "--quote", first["quote_id"], *at("12:05:00"))
        self.assertEqual((cancelled[0]["status"], cancelled[0]["cancelled_at"]),
                         ("cancelled", "2026-03-03T12:05:00Z"))
        again = self.price("quote", "cancel", "--quote", first["quote_id"], *at("12:06:00"))
        self.assertEqual(again, cancelled)  # cancelling twice changes nothing
        refused = self.price("accept", "--quote", first["quote_id"], *at("12:06:00"), status=1)
        self.assertEqual(json.loads(refused.out)["error"], "quote_cancelled")
        self.price("accept", "--quote", second["quote_id"], *at("12:07:00"))
        used = self.price("quote", "cancel", "--quote", second["quote_id"], *at("12:08:00"),
                          status=1)
        self.assertEqual(json.loads(used.out)["error"], "quote_used")
        statuses = {r["quote_id"]: r["status"] for r in self.price("quote", "list", *at("12:10:00"))}
        self.assertEqual(statuses, {first["quote_id"]: "cancelled", second["quote_id"]: "accepted",
                                    third["quote_id"]: "open"})
        self.assertEqual(third["expires_at"], "2026-03-04T12:00:00Z")
        expired = self.price("quote", "cancel", "--quote", third["quote_id"], "--now",
                             "2026-03-04T12:00:00Z", status=1)
        self.assertEqual(json.loads(expired.out)["error"], "quote_expired")
        self.assertError(self.price("quote", "show", "--quote", "q_nope", status=65), 65,
                         "q_nope")
        for ttl in ("24h1s", "2d"):
            self.assertError(self.price("quote", "--amount", "1", "--from", "USD", "--to", "EUR",
                                        "--ttl", ttl, status=2), 2, "--ttl", "1d")
        self.assertError(self.price("quote", "--from", "USD", "--to", "EUR", status=2), 2,
                         "--amount")

    def test_lookup_refuses_a_price_or_rates_older_than_max_age(self):
        self.setup_markets()
        self.write("catalog.jsonl", '{"sku":"A","price":"49.99"}\n')
        self.price("publish", "--country", "DE", "--date", "2026-03-05", "catalog.jsonl")
        lookup = ("lookup", "--sku", "A", "--country", "DE")
        # Published for 2026-03-05 with the rates of 2026-03-03: on 03-08 the price is 3 days
        # old and its rates 5.
        self.assertEqual(len(self.price(*lookup, "--date", "2026-03-08", "--max-age", "5d")), 1)
        self.assertError(self.price(*lookup, "--date", "2026-03-08", "--max-age", "4d",
                                    status=1), 1, "uses rates from 2026-03-03, 5 days")
        self.assertError(self.price(*lookup, "--date", "2026-03-08", "--max-age", "2d",
                                    status=1), 1, "published for 2026-03-05, 3 days")
        self.assertEqual(len(self.price(*lookup, "--date", "2026-03-08")), 1)  # no limit
        self.assertError(self.price(*lookup, "--max-age", "2", status=2), 2, "--max-age")

    def test_2_8_and_32_concurrent_accepts_succeed_once(self):
        self.setup_markets()
        for count in (2, 8, 32):
            with self.subTest(processes=count):
                quote = self.quote()
                children = [self.start_tool("accept", "--quote", quote["quote_id"], "--db",
                                            self.state("price"), "--busy-timeout", "60s",
                                            "--now", "2026-03-03T12:01:00Z",
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                            for _ in range(count)]
                outcomes = []
                for child in children:
                    out, err = child.communicate(timeout=120)
                    self.assertIn(child.returncode, (0, 1), err)
                    outcomes.append((child.returncode, json.loads(out).get("error")))
                self.assertEqual(sorted(outcomes, key=str),
                                 sorted([(0, None)] + [(1, "quote_used")] * (count - 1), key=str))

    def test_of_accepts_and_cancels_racing_for_a_quote_exactly_one_succeeds(self):
        self.setup_markets()
        quote = self.quote()
        commands = [["accept"], ["quote", "cancel"]] * 4
        children = [self.start_tool(*command, "--quote", quote["quote_id"], "--db",
                                    self.state("price"), "--busy-timeout", "60s", "--now",
                                    "2026-03-03T12:01:00Z", stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
                    for command in commands]
        statuses = []
        for child in children:
            out, err = child.communicate(timeout=120)
            self.assertIn(child.returncode, (0, 1), err)
            statuses.append(child.returncode)
        final = self.price("quote", "show", "--quote", quote["quote_id"])[0]["status"]
        # A second cancel of a cancelled quote succeeds too: every cancel wins when one did.
        expected = [0, 1] * 4 if final == "cancelled" else [0] + [1] * 7
        self.assertEqual(sorted(statuses), sorted(expected), final)

    @sqlite_only
    def test_sigkill_during_publish_leaves_whole_markets(self):
        self.setup_markets()
        catalog = "".join(json.dumps({"sku": f"S{i:07}", "price": "9.99"}) + "\n"
                          for i in range(60000))
        self.write("catalog.jsonl", catalog)
        args = ("publish", "--countries", "DE,JP,US,IN", "--date", DAY, "catalog.jsonl")
        self.price(*args)
        self.price("tax", "set", "--country", "DE", "--rate", "7%", "--inclusive")
        self.price("tax", "set", "--country", "JP", "--rate", "8%", "--inclusive")
        child = self.start_tool(*args, "--db", self.state("price"), stdout=subprocess.DEVNULL)
        # Wait for the write transaction to start (its WAL grows), then kill mid-write.
        wal = self.state("price") + "-wal"
        deadline = time.monotonic() + 60
        while (not os.path.exists(wal) or os.path.getsize(wal) < 1 << 20) and child.poll() is None:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.005)
        self.assertIsNone(child.poll(), "publish ended before it could be killed mid-write")
        child.send_signal(signal.SIGKILL)
        child.wait()
        with sqlite3.connect(self.state("price")) as db:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            for country, skus in db.execute(
                    "SELECT country, skus FROM price_publications WHERE price_date = ?", (DAY,)):
                count = db.execute("SELECT count(*) FROM price_published WHERE price_date = ? "
                                   "AND country = ?", (DAY, country)).fetchone()[0]
                self.assertEqual(count, skus, country)
        # A completed re-run then replaces both changed markets.
        statuses = {r["country"]: r["status"] for r in self.price(*args)}
        self.assertEqual(statuses, {"DE": "replaced", "JP": "replaced", "US": "unchanged",
                                    "IN": "unchanged"})
        found = self.price("lookup", "--sku", "S0000001", "--country", "DE", "--date", DAY)[0]
        self.assertEqual(found["tax_rate"], "7%")


class PriceServerCrash(ToolTestCase):
    """The PostgreSQL server dies (pg_ctl stop -m immediate) while publish copies its rows,
    then comes back: the interrupted publish fails with 69 or 75, every market is whole or
    absent, and a rerun publishes each market once."""
    tool = "price"

    def test_a_server_crash_mid_publish_leaves_whole_markets_and_a_rerun_completes(self):
        url = self.start_private_server()
        self.write("rates.csv", RATES_CSV)
        self.assertStatus(self.run_tool("rates", "load", "rates.csv", "--db", url), 0)
        catalog = "".join(json.dumps({"sku": f"S{i:07}", "price": "9.99"}) + "\n"
                          for i in range(200000))
        self.write("catalog.jsonl", catalog)
        args = ("publish", "--countries", "DE,JP,US,IN", "--date", DAY, "catalog.jsonl", "--db", url)
        child = self.start_tool(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not self.copying(url) and child.poll() is None:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.005)
        self.crash_private_server()
        out, err = child.communicate(timeout=120)
        self.assertIn(child.returncode, (69, 75), err)
        self.assertEqual(out, b"")
        self.restart_private_server()
        self.assertEqual(self.published(url), {})  # one transaction: nothing of it stayed
        rerun = self.run_tool(*args)
        self.assertStatus(rerun, 0)
        self.assertEqual({r["country"]: r["status"] for r in records(rerun.out)},
                         dict.fromkeys(("DE", "JP", "US", "IN"), "published"))
        self.assertEqual(self.published(url), dict.fromkeys(("DE", "JP", "US", "IN"),
                                                            (200000, 200000)))

    def copying(self, url):
        rows = subprocess.run(["psql", url, "-qAtX", "-c",
                               "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%'"
                               " AND pid != pg_backend_pid()"],
                              capture_output=True, text=True, timeout=30).stdout.strip()
        return rows not in ("", "0")

    def published(self, url):
        """{country: (skus the publication says, rows published)}."""
        rows = subprocess.run(["psql", url, "-qAtX", "-F", " ", "-c",
                               "SELECT p.country, p.skus, (SELECT count(*) FROM price_published r "
                               "WHERE r.price_date = p.price_date AND r.country = p.country) "
                               "FROM price_publications p"],
                              capture_output=True, text=True, check=True, timeout=60).stdout
        return {line.split()[0]: (int(line.split()[1]), int(line.split()[2]))
                for line in rows.splitlines()}


if __name__ == "__main__":
    unittest.main()
