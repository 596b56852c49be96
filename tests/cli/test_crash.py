"""Crash suite for the stateful tools (idemkey and reindex have theirs in
test_idemkey_concurrency.py and test_reindex_crash.py).

For each tool's heavy state-changing command (emi-schedule record, price publish and accept,
cohort ingest, zscore --db), a loop of rounds(15, 300) rounds runs the command on data that takes
a few hundred milliseconds and SIGKILLs it at a random instant (random.Random(SEED); the seed is
in every failure message, and SLUICE_CRASH_SEED replays one), from before its first write to
after its end. After every kill the file must pass `PRAGMA integrity_check` and hold one of the
states the tool's contract allows (a committed prefix, the state before the run, or the state
after it, never a mix), checked against an independent computation. At the end the command is
run again to completion and the tool's invariant is checked exactly:
  emi-schedule: every payment result applied exactly once, balances as an independent model
    computes them;
  price: a quote accepted at most once, and never changed after; published markets whole or
    absent, equal to a Fraction oracle;
  cohort ingest: the store equals a clean ingest of the same files, and its report a naive
    oracle's;
  zscore: the output of the runs that committed equals the output of one run over all the
    input, and the saved state equals that of one run.
emi-schedule and price run again with their state on the test PostgreSQL server
(EmiRecordCrashOnPostgres, PriceCrashOnPostgres): the process is killed, the server rolls its
open transaction back, and the same states must be found."""

import copy
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import unittest
from datetime import date
from fractions import Fraction

import test_price
from cohort_oracle import matrix as cohort_matrix
from sluice_cli import ToolTestCase, on_both_backends, rounds, scaled, tool_path
from test_concurrency import (COHORT_BUCKETING, COHORT_ORACLE, COHORT_REPORT, ECB_RATES,
                              PRICE_DAY, SCENARIOS, EmiModel, assert_same, emi_results,
                              interleave, jsonl, price_minor)
from test_zscore_state import hourly, lines as zscore_lines

SEED = int(os.environ.get("SLUICE_CRASH_SEED", "20261130"))
ROUNDS = rounds(15, 300)
# With the state on a server, a killed client's transaction is rolled back by the server: the
# file-level hazards the SQLite rounds hunt for do not exist there, so fewer rounds.
SERVER_ROUNDS = rounds(6, 100)
# The kill instant is uniform over [0, KILL_SPAN x the command's estimated duration], so that
# about a fifth of the kills come after the command has committed (or ended).
KILL_SPAN = 1.25


def integrity(db):
    with sqlite3.connect(db) as connection:
        return connection.execute("PRAGMA integrity_check").fetchall()


def query(db, sql, *params):
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def copy_database(source, target):
    """A consistent copy of a state file, whatever its WAL holds (SQLite's backup API)."""
    for suffix in ("", "-wal", "-shm", ".lock"):
        if os.path.exists(target + suffix):
            os.remove(target + suffix)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    os.chmod(target, 0o600)


class CrashCase(ToolTestCase):
    def setUp(self):
        super().setUp()
        self.rng = random.Random(SEED)
        self.kills = 0
        self.estimates = {}  # kind of command -> its estimated duration in seconds
        self.rounds = ROUNDS if self.backend == "sqlite" else SERVER_ROUNDS

    def where(self, round_number, *more):
        return " ".join([f"seed {SEED} (SLUICE_CRASH_SEED), round {round_number}", *map(str, more)])

    def timed(self, *args, stdout_name=None):
        """Runs a command to completion; returns its duration (the kill instants scale with
        it, so that a slower build, under ASan, is killed at the same points of its work)."""
        began = time.monotonic()
        out = open(self.path(stdout_name), "wb") if stdout_name else subprocess.DEVNULL
        try:
            completed = subprocess.run([tool_path(self.tool), *args], stdout=out,
                                       stderr=subprocess.PIPE,
                                       cwd=self.dir, env=self.env, timeout=300)
        finally:
            if stdout_name:
                out.close()
        self.assertEqual(completed.returncode, 0, completed.stderr)
        return time.monotonic() - began

    def kill_at_random(self, args, kind, stdout_name=None):
        """Starts the command and SIGKILLs it at a random instant of [0, KILL_SPAN x the
        estimated duration of a command of this `kind`], unless it has ended by then. The
        estimate starts as a measured run's duration (self.estimates[kind]) and follows the
        runs: a run that ends sets it, one still running at the kill raises it to the kill's
        instant (so that load or a slower build does not make every kill land late or early).
        Returns (killed, status, stderr)."""
        out = open(self.path(stdout_name), "wb") if stdout_name else subprocess.DEVNULL
        err_path = self.path("stderr.txt")
        with open(err_path, "wb") as err:
            child = self.start_tool(*args, stdout=out, stderr=err)
        began = time.monotonic()
        if stdout_name:
            out.close()
        delay = self.rng.uniform(0, KILL_SPAN * self.estimates[kind])
        try:
            # A random instant of the run (the wait returns early if the command ends first).
            status = child.wait(timeout=delay)
            killed = False
            self.estimates[kind] = time.monotonic() - began
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            status = child.wait(timeout=60)
            killed = status == -signal.SIGKILL
            self.kills += killed
            self.estimates[kind] = max(self.estimates[kind], delay)
        with open(err_path, "rb") as err:
            return killed, status, err.read().decode(errors="replace")

    def report_kills(self, label, rounds_run):
        print(f"\n  {label}: {rounds_run} rounds, {self.kills} SIGKILLs landed mid-run, "
              f"seed {SEED}", file=sys.stderr)


# ------------------------------------------------------------------------------ emi-schedule

EMI_TODAY = "2026-06-01"
EMI_LATER = "2027-06-01"
EMI_LOANS = 60
EMI_BATCH = 8


@on_both_backends
class EmiRecordCrash(CrashCase):
    tool = "emi-schedule"

    def setUp(self):
        super().setUp()
        loans = [{"loan": f"L{i:03}", "principal": f"{60000 + 500 * i}.00", "rate": "10%",
                  "months": 12, "currency": "INR", "disbursed": "2026-01-01"}
                 for i in range(EMI_LOANS)]
        self.write("loans.jsonl", jsonl(loans))
        if self.backend == "sqlite":
            created = self.run_tool("create", "--from", "loans.jsonl", "--db", "template.db")
            self.assertStatus(created, 0)
        names = list(SCENARIOS)
        sequences = [emi_results(loan["loan"], n, self.rng.choice(names)) for loan in loans
                     for n in range(1, 13)]
        self.results = interleave(sequences, self.rng)
        self.write("results.jsonl", jsonl(self.results))
        self.principal = {loan["loan"]: int(loan["principal"].replace(".", "")) for loan in loans}

    def models(self, count):
        """The independent model after the first `count` results of the file."""
        if not hasattr(self, "fresh"):
            self.fresh = {loan: EmiModel(minor, date(2026, 2, 1))
                          for loan, minor in self.principal.items()}
        models = copy.deepcopy(self.fresh)
        for result in self.results[:count]:
            models[result["loan"]].apply(result)
        return models

    def fresh_loans(self, name):
        """A state holding the loans and no result yet."""
        if self.backend == "sqlite":
            copy_database(self.path("template.db"), self.path(name))
            return self.path(name)
        location = self.state(name)
        self.assertStatus(self.run_tool("create", "--from", "loans.jsonl", "--db", location), 0)
        return location

    def stored(self, db):
        keys = [(loan, int(n), int(attempt)) for loan, n, attempt in
                self.state_rows(db, "SELECT loan, n, attempt FROM emi_results")]
        items = self.state_rows(db, "SELECT loan, n, state, attempts, penalty, "
                                    "paid_penalty + paid_interest + paid_principal "
                                    "FROM emi_installments")
        return keys, {(loan, int(n)): [state, int(attempts), int(penalty), int(paid)]
                      for loan, n, state, attempts, penalty, paid in items}

    def expected_items(self, models):
        return {(loan, n): [i["state"], i["attempts"], i["penalty"], i["paid"]]
                for loan, model in models.items() for n, i in model.items.items()}

    def check_prefix(self, db, where):
        """The results stored are the file's first k (whole batches), and every installment is
        exactly what applying them gives. Returns k."""
        self.assertStateIntact(db)
        keys, items = self.stored(db)
        count = len(keys)
        self.assertTrue(count % EMI_BATCH == 0 or count == len(self.results), f"{where}: {count}")
        prefix = {(r["loan"], r["n"], r["attempt"]) for r in self.results[:count]}
        assert_same(self, set(keys), prefix, f"{where}: the stored results are not a prefix")
        assert_same(self, items, self.expected_items(self.models(count)),
                    f"{where}: installments")
        return count

    def check_complete_run(self, out, before, where):
        """A run that ended: each result applied iff it was not stored before it."""
        outcomes = [(r["loan"], r["n"], r["attempt"], r["applied"], r.get("reason"))
                    for r in map(json.loads, out.splitlines())]
        expected = [(r["loan"], r["n"], r["attempt"], index >= before,
                     None if index >= before else "duplicate")
                    for index, r in enumerate(self.results)]
        assert_same(self, outcomes, expected, f"{where}: outcomes of a complete run")

    def test_sigkill_during_record_at_random_instants(self):
        def record(db):
            return ("record", "--today", EMI_TODAY, "--batch", str(EMI_BATCH), "--db", db,
                    "results.jsonl")
        self.estimates["record"] = self.timed(*record(self.fresh_loans("timing.db")))
        epochs, stored = 0, None
        for round_number in range(self.rounds):
            if stored is None:  # a new epoch: the loans, no result yet
                epochs += 1
                db = self.fresh_loans(f"loans{epochs}.db")
                args = record(db)
                stored = 0
            where = self.where(round_number, f"epoch {epochs}")
            killed, status, err = self.kill_at_random(args, "record", stdout_name="out.jsonl")
            if not killed:
                self.assertEqual(status, 0, f"{where}: {err}")
                self.check_complete_run(self.read("out.jsonl").decode(), stored, where)
            count = self.check_prefix(db, where)
            self.assertGreaterEqual(count, stored, f"{where}: a committed result was lost")
            stored = None if count == len(self.results) else count
        # Run again to completion: every result applied exactly once, balances as modelled.
        before = self.check_prefix(db, self.where(self.rounds, "before the final run"))
        final = self.run_tool(*args)
        self.assertStatus(final, 0)
        self.check_complete_run(final.out, before, self.where(self.rounds, "final run"))
        self.assertEqual(self.check_prefix(db, self.where(self.rounds, "final")), len(self.results))
        models = self.models(len(self.results))
        for loan, model in sorted(models.items()):
            shown = self.run_tool("show", "--loan", loan, "--db", db)
            self.assertEqual([json.loads(line) for line in shown.out.splitlines()],
                             model.show(loan), self.where(self.rounds, loan))
        status = self.run_tool("status", "--today", EMI_LATER, "--db", db)
        assert_same(self, {r["loan"]: r for r in map(json.loads, status.out.splitlines())},
                    {loan: model.status(loan) for loan, model in models.items()},
                    self.where(self.rounds, "status"))
        self.assertGreater(self.kills, 0, self.where(self.rounds))
        self.report_kills(f"emi-schedule record ({len(self.results)} results, {epochs} epochs)",
                          self.rounds)


# ------------------------------------------------------------------------------------- price

PRICE_MARKETS = ("DE", "JP", "US", "IN")
# The two tax settings the rounds alternate between, so that every publish has work to do.
TAXES = [{"DE": "19%", "JP": "10%"}, {"DE": "7%", "JP": "8%"}]
CATALOG = scaled(30000)


def market(country, setting):
    chosen = dict(test_price.Price.MARKETS[country])
    if country in TAXES[setting]:
        chosen["tax"] = Fraction(TAXES[setting][country][:-1]) / 100
    return chosen


@on_both_backends
class PriceCrash(CrashCase):
    tool = "price"

    def configure(self, db):
        header = "Date, " + ", ".join(ECB_RATES) + ", \n"
        self.write("rates.csv", header + f"{PRICE_DAY}, " + ", ".join(ECB_RATES.values()) + ", \n")
        for args in (("rates", "load", "rates.csv"),
                     ("tax", "set", "--country", "US", "--rate", "8.875%", "--exclusive"),
                     ("rule", "set", "--currency", "EUR", "--rule", "end-99"),
                     ("rule", "set", "--currency", "JPY", "--rule", "ceil:10"),
                     ("ppp", "set", "--country", "IN", "--plr", "0.24")):
            self.assertStatus(self.run_tool(*args, "--db", db), 0)

    def set_taxes(self, db, setting):
        for country, rate in TAXES[setting].items():
            self.assertStatus(self.run_tool("tax", "set", "--country", country, "--rate", rate,
                                            "--inclusive", "--db", db), 0)

    def expected_tables(self, catalog):
        """{setting: {country: {sku: (base, amount, net, tax)}}} in minor units, from
        test_price's Fraction oracle, computed once per distinct base price."""
        tables = {}
        for setting in range(len(TAXES)):
            tables[setting] = {}
            for country in PRICE_MARKETS:
                chosen = market(country, setting)
                exponent = test_price.EXPONENT[chosen["currency"]]
                fx = (Fraction(1) if chosen["currency"] == "USD" else
                      (Fraction(1) if chosen["currency"] == "EUR" else
                       Fraction(ECB_RATES[chosen["currency"]])) / Fraction(ECB_RATES["USD"]))
                figures = {}
                for price in {item["price"] for item in catalog}:
                    amount, net, tax = test_price.oracle(price, chosen, fx)
                    figures[price] = (price_minor(price, 2), price_minor(amount, exponent),
                                      price_minor(net, exponent), price_minor(tax, exponent))
                tables[setting][country] = {item["sku"]: figures[item["price"]]
                                            for item in catalog}
        return tables

    def published(self, db):
        """{country: {sku: (base, amount, net, tax)}} for the price date, and the SKU count each
        publication row declares."""
        rows = self.state_rows(db, "SELECT country, sku, base, amount, net, tax "
                                   f"FROM price_published WHERE price_date = '{PRICE_DAY}'")
        markets = {}
        for country, sku, *figures in rows:
            markets.setdefault(country, {})[sku] = tuple(map(int, figures))
        declared = {country: int(skus) for country, skus in self.state_rows(
            db, f"SELECT country, skus FROM price_publications WHERE price_date = '{PRICE_DAY}'")}
        return markets, declared

    def settings_now(self, db, tables, known, target, where):
        """Each market is absent (never published) or whole and equal to the oracle's prices
        under the setting it had or the one being published. Returns the settings found."""
        self.assertStateIntact(db)
        markets, declared = self.published(db)
        counts = {country: len(prices) for country, prices in markets.items()}
        matching = {setting: {country: sum(1 for sku, figures in prices.items()
                                           if tables[setting][country].get(sku) == figures)
                              for country, prices in markets.items()}
                    for setting in range(len(TAXES))}
        self.assertEqual(set(counts), set(declared), where)
        found = {}
        for country in PRICE_MARKETS:
            if country not in counts:
                self.assertIsNone(known.get(country), f"{where}: {country} vanished")
                continue
            self.assertEqual((counts[country], declared[country]), (CATALOG, CATALOG),
                             f"{where}: {country} is not whole")
            # Every row equal to the oracle's row for its SKU (SKUs are unique on both sides).
            matches = [s for s in range(len(TAXES)) if matching[s].get(country) == CATALOG]
            self.assertTrue(matches, f"{where}: {country} holds prices of no whole publication")
            if country not in TAXES[0]:  # untouched by the tax changes: both settings agree
                self.assertEqual(len(matches), len(TAXES), where)
                found[country] = target
                continue
            self.assertEqual(len(matches), 1, where)
            self.assertIn(matches[0], {known.get(country), target}, f"{where}: {country}")
            found[country] = matches[0]
        return found

    def test_sigkill_during_publish_leaves_whole_markets(self):
        db = self.state("price.db")
        self.configure(db)
        catalog = [{"sku": f"S{i:06}", "price": f"{self.rng.randrange(300) * 1.37:.2f}"}
                   for i in range(CATALOG)]
        self.write("catalog.jsonl", jsonl(catalog))
        tables = self.expected_tables(catalog)
        args = ("publish", "--countries", ",".join(PRICE_MARKETS), "--date", PRICE_DAY,
                "--db", db, "catalog.jsonl")
        # A first publish writes four markets, later ones replace two: time both, on a copy.
        scratch = self.state("scratch.db")
        self.configure(scratch)
        self.set_taxes(scratch, 1)
        self.estimates["first"] = self.timed(*args[:-3], "--db", scratch, "catalog.jsonl")
        self.set_taxes(scratch, 0)
        self.estimates["replace"] = self.timed(*args[:-3], "--db", scratch, "catalog.jsonl")
        known = {}  # country -> the setting its stored prices were computed under
        for round_number in range(self.rounds):
            target = round_number % len(TAXES)
            where = self.where(round_number, f"publishing setting {target}")
            self.set_taxes(db, target)
            killed, status, err = self.kill_at_random(args, "replace" if known else "first",
                                                      stdout_name="out.jsonl")
            found = self.settings_now(db, tables, known, target, where)
            if not killed:
                self.assertEqual(status, 0, f"{where}: {err}")
                self.assertEqual(found, {c: target for c in PRICE_MARKETS}, where)
            known = found
        # Run again to completion: every market whole and equal to the oracle, each reported
        # as what it was (published, replaced or unchanged).
        target = (self.rounds - 1) % len(TAXES)
        final = self.run_tool(*args)
        self.assertStatus(final, 0)
        expected_statuses = {c: "published" if c not in known else
                             "unchanged" if known[c] == target else "replaced"
                             for c in PRICE_MARKETS}
        self.assertEqual({r["country"]: r["status"] for r in map(json.loads,
                                                                  final.out.splitlines())},
                         expected_statuses, self.where(self.rounds, "final run"))
        markets, declared = self.published(db)
        for country in PRICE_MARKETS:
            assert_same(self, markets.get(country), tables[target][country],
                        self.where(self.rounds, "final", country))
        self.assertEqual(declared, {c: CATALOG for c in PRICE_MARKETS})
        self.assertStateIntact(db)
        item = catalog[CATALOG * 2 // 5 + 345]  # one SKU from the middle of the catalog
        found = self.run_tool("lookup", "--sku", item["sku"], "--country", "DE", "--date",
                              PRICE_DAY, "--db", db)
        record = json.loads(found.out)
        self.assertEqual((record["amount"], record["net"], record["tax"]),
                         test_price.oracle(item["price"], market("DE", target),
                                           Fraction(1) / Fraction(ECB_RATES["USD"])))
        self.assertGreater(self.kills, 0, self.where(self.rounds))
        self.report_kills(f"price publish ({CATALOG} SKUs x {len(PRICE_MARKETS)} markets)",
                          self.rounds)

    def test_sigkill_during_accept_never_accepts_twice(self):
        db = self.state("price.db")
        self.configure(db)
        start = 1772539200  # 2026-03-03T12:00:00Z

        def now(seconds):
            return f"@{start + seconds}"

        def new_quote(index):
            quote = self.run_tool("quote", "--amount", f"{10 + index}.00", "--from", "USD",
                                  "--to", "EUR", "--ttl", "24h", "--now", now(0), "--db", db)
            self.assertStatus(quote, 0)
            return json.loads(quote.out)["quote_id"]

        def accepted_at(quote):
            return self.state_rows(db, "SELECT accepted_at FROM price_quotes "
                                       f"WHERE quote_id = '{quote}'")[0][0]

        def stamp(seconds):
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + seconds))

        probe = new_quote(0)
        longest = KILL_SPAN * max(self.timed("accept", "--quote", probe, "--now", now(1),
                                             "--db", db), 0.005)
        quotes, successes = [probe], {probe: 1}
        for round_number in range(self.rounds):
            where = self.where(round_number)
            # Three new quotes and one used before, accepted at once, each killed at its own
            # random instant.
            chosen = [new_quote(len(quotes) + k) for k in range(3)]
            quotes += chosen
            chosen.append(self.rng.choice(quotes[:-3]))
            before = {quote: accepted_at(quote) for quote in chosen}
            moment = 100 + 10 * round_number
            children = []
            for index, quote in enumerate(chosen):
                out = open(self.path(f"accept{index}.json"), "wb")
                children.append(self.start_tool("accept", "--quote", quote, "--now", now(moment),
                                                "--db", db, stdout=out,
                                                stderr=subprocess.DEVNULL))
                out.close()
            deadlines = sorted((self.rng.uniform(0, longest), index)
                               for index in range(len(children)))
            began = time.monotonic()
            statuses = {}
            for delay, index in deadlines:
                child = children[index]
                try:
                    statuses[index] = child.wait(timeout=max(0, delay - (time.monotonic() - began)))
                except subprocess.TimeoutExpired:
                    child.send_signal(signal.SIGKILL)
                    statuses[index] = child.wait(timeout=60)
                    self.kills += statuses[index] == -signal.SIGKILL
            self.assertStateIntact(db)
            for index, quote in enumerate(chosen):
                after = accepted_at(quote)
                if before[quote] is not None:
                    self.assertEqual(after, before[quote], f"{where}: {quote} accepted again")
                else:
                    self.assertIn(after, (None, stamp(moment)), where)
                status = statuses[index]
                if status == -signal.SIGKILL:
                    continue
                body = json.loads(self.read(f"accept{index}.json"))
                if before[quote] is None:
                    self.assertEqual((status, body["status"], body["accepted_at"]),
                                     (0, "accepted", stamp(moment)), where)
                    successes[quote] = successes.get(quote, 0) + 1
                else:
                    self.assertEqual((status, body), (1, {"quote_id": quote, "error": "quote_used",
                                                          "accepted_at": before[quote]}), where)
            # Accept again to completion: a quote the killed run did not accept is accepted
            # now; one it did is refused as used, with the killed run's time.
            for quote in chosen:
                stored = accepted_at(quote)
                again = self.run_tool("accept", "--quote", quote, "--now", now(moment + 1),
                                      "--db", db)
                body = json.loads(again.out)
                if stored is None:
                    self.assertEqual((again.status, body["accepted_at"]),
                                     (0, stamp(moment + 1)), where)
                    successes[quote] = successes.get(quote, 0) + 1
                else:
                    self.assertEqual((again.status, body["error"], body["accepted_at"]),
                                     (1, "quote_used", stored), where)
        self.assertStateIntact(db)
        stored = dict(self.state_rows(db, "SELECT quote_id, accepted_at FROM price_quotes"))
        self.assertEqual(set(stored), set(quotes))
        self.assertTrue(all(stored.values()), self.where(self.rounds, "a quote left unaccepted"))
        self.assertEqual([q for q, count in successes.items() if count > 1], [],
                         self.where(self.rounds, "quotes accepted twice"))
        self.assertGreater(self.kills, 0, self.where(self.rounds))
        self.report_kills(f"price accept ({len(quotes)} quotes, 4 accepts a round)", self.rounds)


# ------------------------------------------------------------------------------------ cohort

COHORT_CHUNKS = 3
COHORT_EVENTS = scaled(100000)


def cohort_chunk(seed):
    """COHORT_EVENTS events over 200 days; most users are strings, some integers."""
    rng = random.Random(seed)
    stamps = rng.choices(range(200 * 86400), k=COHORT_EVENTS)
    users = rng.choices(range(1, 150001), k=COHORT_EVENTS)
    numeric = rng.choices((False,) * 9 + (True,), k=COHORT_EVENTS)
    names = rng.choices(("signup", "open", "buy"), k=COHORT_EVENTS)
    return [{"ts": 1767225600 + stamp, "user": user if number else f"user{user}", "event": name}
            for stamp, user, number, name in zip(stamps, users, numeric, names)]


class CohortIngestCrash(CrashCase):
    tool = "cohort"

    def users(self, db):
        """The number of users in the store and the highest id."""
        if not os.path.exists(db) or not query(
                db, "SELECT 1 FROM sqlite_schema WHERE name = 'cohort_users'"):
            return 0, None
        return query(db, "SELECT count(*), max(id) FROM cohort_users")[0]

    def test_sigkill_during_ingest_then_rerun_equals_a_clean_ingest(self):
        chunks = [cohort_chunk(SEED + index) for index in range(COHORT_CHUNKS)]
        names = []
        for index, chunk in enumerate(chunks):
            names.append(self.write(f"chunk{index}.jsonl", jsonl(chunk)))
        # Users after the first j chunks, computed independently; the report of the first j
        # chunks from the stateless path (one run over the files), computed once each.
        users_after = [set()]
        for chunk in chunks:
            users_after.append(users_after[-1] | {str(event["user"]) for event in chunk})
        reports = [""]
        for count in range(1, COHORT_CHUNKS + 1):
            result = self.run_tool(*COHORT_BUCKETING, *COHORT_REPORT, *names[:count])
            self.assertStatus(result, 0)
            reports.append(result.out)
        db = self.path("c.db")
        # How long each chunk's ingest takes, after the chunks before it, on a scratch store.
        for index, name in enumerate(names):
            self.estimates[index] = self.timed("ingest", *COHORT_BUCKETING, "--db",
                                               self.path("scratch.db"), name)
        committed, epochs = None, 0
        for round_number in range(self.rounds):
            if committed is None:  # a new epoch: an empty store
                for suffix in ("", "-wal", "-shm", ".lock"):
                    if os.path.exists(db + suffix):
                        os.remove(db + suffix)
                committed = 0
                epochs += 1
            where = self.where(round_number, f"epoch {epochs}, ingesting chunk {committed}")
            killed, status, err = self.kill_at_random(
                ("ingest", *COHORT_BUCKETING, "--db", db, names[committed]), committed)
            if os.path.exists(db):
                self.assertEqual(integrity(db), [("ok",)], where)
            # All of the ingest's users or none of them (the keys themselves are compared with a
            # clean ingest's at the end), with dense ids.
            count, top = self.users(db)
            self.assertIn(count, (len(users_after[committed]), len(users_after[committed + 1])),
                          f"{where}: users neither all there nor all absent")
            self.assertEqual(top, count - 1 if count else None, f"{where}: ids not dense")
            now = committed + (count == len(users_after[committed + 1]))
            if now:
                report = self.run_tool("report", *COHORT_REPORT, "--db", db)
                self.assertStatus(report, 0)
                self.assertEqual(report.out, reports[now], where)
            if not killed:
                self.assertEqual((status, now), (0, committed + 1), f"{where}: {err}")
            committed = None if now == COHORT_CHUNKS else now
        # Ingest the rest to completion (all the chunks again if the last epoch ended: that
        # changes nothing): the store equals a clean ingest of the same files, and its report
        # the naive oracle's.
        for index in range(committed or 0, COHORT_CHUNKS):
            self.assertStatus(self.run_tool("ingest", *COHORT_BUCKETING, "--db", db,
                                            names[index]), 0)
        clean = self.run_tool("ingest", *COHORT_BUCKETING, "--db", "clean.db", *names)
        self.assertStatus(clean, 0)
        for table in ("cohort_settings", "cohort_users", "cohort_bitmaps"):
            sql = f"SELECT * FROM {table} ORDER BY 1, 2"
            assert_same(self, query(db, sql), query(self.path("clean.db"), sql),
                        self.where(self.rounds, table))
        report = self.run_tool("report", *COHORT_REPORT, "--db", db)
        expected = cohort_matrix([event for chunk in chunks for event in chunk], **COHORT_ORACLE)
        assert_same(self, [json.loads(line) for line in report.out.splitlines()], expected,
                    self.where(self.rounds, "report"))
        self.assertEqual(integrity(db), [("ok",)])
        self.assertGreater(self.kills, 0, self.where(self.rounds))
        self.report_kills(f"cohort ingest ({COHORT_CHUNKS} chunks of {COHORT_EVENTS} events, "
                          f"{epochs} epochs)", self.rounds)


# ------------------------------------------------------------------------------------ zscore

ZSCORE_METHODS = [("--key", "metric", "--method", "robust", "--window", "50"),
                  ("--key", "metric", "--method", "holt-winters", "--season-length", "24")]
ZSCORE_PIECES = 3
ZSCORE_HOURS = scaled(12000)   # per piece, for each of 10 series


class ZscoreCrash(CrashCase):
    tool = "zscore"

    def series(self, db):
        if not os.path.exists(db) or not query(
                db, "SELECT 1 FROM sqlite_schema WHERE name = 'zscore_series'"):
            return []
        return query(db, "SELECT * FROM zscore_series ORDER BY key")

    def references(self, method, names):
        """One run over all the pieces (no state), and the state one run over the first j
        pieces saves, for each j."""
        whole = self.run_tool(*method, *names)
        self.assertStatus(whole, 0)
        states = [[]]
        for count in range(1, len(names) + 1):
            reference = self.path(f"reference{count}.db")
            self.assertStatus(self.run_tool("--db", reference, *method, *names[:count]), 0)
            states.append(self.series(reference))
            for suffix in ("", "-wal", "-shm", ".lock"):
                if os.path.exists(reference + suffix):
                    os.remove(reference + suffix)
        return whole.out, states

    def test_sigkill_then_continuing_gives_the_one_shot_output_and_state(self):
        rows = hourly(ZSCORE_HOURS * ZSCORE_PIECES, seed=SEED % 1000,
                      series=[f"s{i}" for i in range(10)])
        size = len(rows) // ZSCORE_PIECES
        names = [self.write(f"piece{index}.jsonl",
                            zscore_lines(rows[index * size:(index + 1) * size]))
                 for index in range(ZSCORE_PIECES)]
        db = self.path("z.db")
        for index, name in enumerate(names):
            self.estimates[index] = self.timed("--db", self.path("scratch.db"),
                                               *ZSCORE_METHODS[0], name)
        references = {}
        epochs, piece, incremental, method = 0, None, "", None
        for round_number in range(self.rounds):
            if piece is None:  # a new epoch: a new file, the next method
                method = ZSCORE_METHODS[epochs % len(ZSCORE_METHODS)]
                if method not in references:
                    references[method] = self.references(method, names)
                for suffix in ("", "-wal", "-shm", ".lock"):
                    if os.path.exists(db + suffix):
                        os.remove(db + suffix)
                piece, incremental = 0, ""
                epochs += 1
            whole, states = references[method]
            where = self.where(round_number, f"epoch {epochs} ({method[3]}), piece {piece}")
            killed, status, err = self.kill_at_random(("--db", db, *method, names[piece]),
                                                      piece, stdout_name="out.jsonl")
            if os.path.exists(db):
                self.assertEqual(integrity(db), [("ok",)], where)
            state = self.series(db)
            if state not in (states[piece], states[piece + 1]):
                self.fail(f"{where}: the state is neither the one before the run nor after it; "
                          f"latest times {[(key, latest) for key, latest, _ in state]}")
            if not killed:
                self.assertEqual(status, 0, f"{where}: {err}")
            if state == states[piece + 1] and state != states[piece]:
                # Committed (output is written before the commit): this run's output counts.
                incremental += self.read("out.jsonl").decode()
                piece += 1
            if piece == ZSCORE_PIECES:
                assert_same(self, incremental, whole, f"{where}: incremental output")
                piece = None
        # Go on to completion: the output of the runs that committed equals one run's, and
        # so does the state. (If the last epoch ended, the last piece again judges nothing.)
        whole, states = references[method]
        if piece is None:
            again = self.run_tool("--db", db, *method, names[-1])
            self.assertEqual((again.status, again.out), (0, ""), self.where(self.rounds, "again"))
        else:
            for index in range(piece, ZSCORE_PIECES):
                result = self.run_tool("--db", db, *method, names[index])
                self.assertStatus(result, 0)
                incremental += result.out
            assert_same(self, incremental, whole, self.where(self.rounds, "final output"))
        assert_same(self, self.series(db), states[ZSCORE_PIECES], self.where(self.rounds, "state"))
        self.assertEqual(integrity(db), [("ok",)])
        self.assertGreater(self.kills, 0, self.where(self.rounds))
        self.report_kills(f"zscore --db ({ZSCORE_PIECES} pieces of {size} points, "
                          f"{epochs} epochs)", self.rounds)


if __name__ == "__main__":
    unittest.main()
