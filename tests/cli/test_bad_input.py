"""The bad-input corpus (issue 9): every command that reads JSON Lines is fed broken framing,
broken records and broken option values, and must answer with the documented exit status, one
diagnostic line `TOOL: error: SOURCE:LINE: message` naming the line (and the field), and, for
a command that keeps state, a state file exactly as before the run.

The corpus is three tables, easy to extend:
  COMMANDS  each JSON Lines reader: its argv, two valid records, its state file, whether it
            takes --skip-invalid;
  FRAMING   line-level damage applied to every command (libcore's reader rules, sluice(7));
  RECORDS   field-level damage per command; OPTIONS: bad option values per tool.
A line over the 64 MiB limit is tried once per command (the file is written in chunks and
never held in memory here), and skipped under --skip-invalid by each reader path."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also run from the top
from sluice_cli import DEPTH, ToolTestCase, tool_path  # noqa: E402

DAY = "2026-03-03"
NOW = "2026-03-03T12:00:00Z"
MAX_LINE_BYTES = 64 << 20  # LineReader::default_max_line_bytes
BOM = b"\xef\xbb\xbf"
RATES_CSV = "Date, USD, GBP, INR, BRL\n2026-03-03, 1.0823, 0.8551, 90.1234, 5.3\n"


def line(record):
    """A record as one compact JSON line (bytes, no newline); a str is taken as raw JSON."""
    if isinstance(record, (bytes, str)):
        return record.encode() if isinstance(record, str) else record
    return json.dumps(record, separators=(",", ":")).encode()


def with_member(record_line, member):
    """record_line with raw JSON text `member` ("key":value) added as its first member."""
    return b"{" + member + b"," + record_line[1:]


class Command:
    """One JSON Lines reader. `args` holds FILE where the input path goes."""

    def __init__(self, name, tool, args, valid, state=None, setup=(), skip=False,
                 prefix_kept=False):
        self.name = name
        self.tool = tool
        self.args = args
        self.valid = [line(record) for record in valid]
        self.state = state  # the state file this command may change, or None
        self.setup = setup  # argv lists run before, each must exit 0
        self.skip = skip  # takes --skip-invalid
        # idemkey filter commits the keys of the records it passed before a bad line (its
        # output and its state agree, idemkey(1) "Filtering streams"); every other command
        # leaves its state as it was.
        self.prefix_kept = prefix_kept

    def argv(self, path, *extra):
        return [path if word == "FILE" else word for word in self.args] + list(extra)


def setup_rates(db):
    return [("price", "rates", "load", "rates.csv", "--db", db)]


COMMANDS = [
    Command("idemkey_filter", "idemkey",
            ["--db", "keys.db", "--now", NOW, "filter", "--key-field", "id", "FILE"],
            [{"id": "k1", "v": 1}, {"id": 2, "v": "two"}], state="keys.db", skip=True,
            setup=[("idemkey", "--db", "keys.db", "filter", "--key-field", "id", "seed.jsonl")],
            prefix_kept=True),
    Command("emi_record", "emi-schedule",
            ["record", "--db", "loans.db", "--today", "2026-02-20", "FILE"],
            [{"loan": "L1", "n": 1, "attempt": 1, "result": "failed", "code": "R01"},
             {"loan": "L1", "n": 1, "attempt": 2, "result": "paid", "amount": "171.56"}],
            state="loans.db", skip=True,
            setup=[("emi-schedule", "create", "--loan", "L1", "--principal", "1000.00", "--rate",
                    "10%", "--months", "6", "--currency", "INR", "--disbursed", "2026-01-15",
                    "--db", "loans.db")]),
    Command("emi_create_from", "emi-schedule",
            ["create", "--from", "FILE", "--currency", "INR", "--disbursed", "2026-01-15",
             "--db", "loans.db"],
            [{"loan": "A", "principal": "1000.00", "rate": "12%", "months": 6},
             {"loan": "B", "principal": 5000, "rate": "850bp", "months": 12, "currency": "USD"}],
            state="loans.db",
            setup=[("emi-schedule", "create", "--loan", "L1", "--principal", "1000.00", "--rate",
                    "10%", "--months", "6", "--currency", "INR", "--disbursed", "2026-01-15",
                    "--db", "loans.db")]),
    Command("price_calc", "price",
            ["calc", "--country", "DE", "--date", DAY, "--db", "price.db", "FILE"],
            [{"sku": "A", "price": "10.00"}, {"sku": 7, "price": 2.5}], state="price.db",
            skip=True, setup=setup_rates("price.db")),
    Command("price_publish", "price",
            ["publish", "--country", "DE", "--date", DAY, "--now", NOW, "--db", "price.db",
             "FILE"],
            [{"sku": "A", "price": "10.00"}, {"sku": 7, "price": 2.5}], state="price.db",
            skip=True, setup=setup_rates("price.db")),
    Command("price_markets", "price",
            ["calc", "--markets", "FILE", "--base", "10.00", "--date", DAY, "--db", "price.db"],
            [{"country": "DE"}, {"country": "GB", "currency": "GBP"}], state="price.db",
            setup=setup_rates("price.db")),
    Command("price_rates_load", "price",
            ["rates", "load", "--format", "jsonl", "--quiet", "--db", "price.db", "FILE"],
            [{"date": "2026-03-04", "base": "EUR", "currency": "USD", "rate": "1.0901"},
             {"date": "2026-03-04", "base": "EUR", "currency": "GBP", "rate": 0.86}],
            state="price.db", setup=setup_rates("price.db")),
    Command("price_ppp_load", "price",
            ["ppp", "load", "--format", "jsonl", "--db", "price.db", "FILE"],
            [{"country": "IN", "plr": "0.24"}, {"country": "BR", "plr": 0.45, "min": "0.3"}],
            state="price.db", setup=setup_rates("price.db")),
    Command("cohort_matrix", "cohort", ["matrix", "FILE"],
            [{"user": "u1", "ts": "2026-03-01T10:00:00Z"},
             {"user": 42, "ts": 1772445600, "event": "buy"}], skip=True),
    Command("cohort_ingest", "cohort", ["ingest", "--db", "cohort.db", "FILE"],
            [{"user": "u1", "ts": "2026-03-01T10:00:00Z"},
             {"user": 42, "ts": 1772445600, "event": "buy"}], state="cohort.db", skip=True,
            setup=[("cohort", "ingest", "--db", "cohort.db", "seed.jsonl")]),
    Command("zscore", "zscore", ["FILE"],
            [{"ts": "2026-03-01T10:00:00Z", "value": 1},
             {"ts": "2026-03-01T11:00:00Z", "value": 2.5, "host": "a"}], skip=True),
    Command("zscore_db", "zscore", ["--db", "series.db", "--key", "host", "FILE"],
            [{"ts": "2026-03-01T10:00:00Z", "value": 1, "host": "a"},
             {"ts": "2026-03-01T11:00:00Z", "value": 2.5, "host": "a"}], state="series.db",
            skip=True, setup=[("zscore", "--db", "series.db", "--key", "host", "seed.jsonl")]),
]
COMMAND = {command.name: command for command in COMMANDS}

# Seed inputs for the setup commands that read one.
SEEDS = {
    "idemkey": '{"id":"seed","v":0}\n',
    "cohort": '{"user":"s","ts":"2026-02-27T10:00:00Z"}\n',
    "zscore": '{"ts":"2026-03-01T09:00:00Z","value":7,"host":"a"}\n',
}


# ------------------------------------------------------------------ framing (every command)

def deep(levels):
    return b"[" * levels + b"]" * levels


class Framing:
    """Damage to the line structure. `build(v1, v2)` gives the input; a rejected input names
    `line` with `message`; an accepted one must give the output of the plain LF input."""

    def __init__(self, name, build, line=None, message=None):
        self.name = name
        self.build = build
        self.line = line
        self.message = message


def first_key(record_line):
    return record_line[1:record_line.index(b'"', 2) + 1]


FRAMING = [
    Framing("invalid_utf8", lambda a, b: a + b"\n" + with_member(b, b'"note":"caf\xe9"') + b"\n",
            2, "invalid UTF-8"),
    Framing("invalid_utf8_overlong_form", lambda a, b: a + b"\n" + with_member(
        b, b'"note":"\xc0\xaf"') + b"\n", 2, "invalid UTF-8"),
    Framing("bom", lambda a, b: BOM + a + b"\n" + b + b"\n", 1,
            "byte order mark (UTF-8 BOM) at the start of the line"),
    Framing("blank_line", lambda a, b: a + b"\n\n" + b + b"\n", 2,
            "empty line (expected a JSON object)"),
    Framing("blank_crlf_line", lambda a, b: a + b"\r\n\r\n" + b + b"\r\n", 2,
            "empty line (expected a JSON object)"),
    Framing("whitespace_line", lambda a, b: a + b"\n \t\n" + b + b"\n", 2,
            "invalid JSON (Empty: no JSON found)"),
    Framing("cut_mid_object", lambda a, b: a + b"\n" + b[:b.index(b",")], 2,
            "truncated JSON (unclosed object or array)"),
    Framing("cut_mid_string", lambda a, b: a + b"\n" + b[:b.index(b'"', 2)], 2,
            "invalid or unterminated string"),
    Framing("two_objects", lambda a, b: a + b + b"\n", 1,
            "unexpected content after the JSON object"),
    Framing("not_an_object", lambda a, b: a + b"\n[" + b + b"]\n", 2, "expected a JSON object"),
    Framing("deep_nesting", lambda a, b: a + b"\n" + with_member(b, b'"x":' + deep(100000)) + b"\n",
            2, "nesting is deeper than 512 levels"),
    Framing("deep_nesting_unclosed", lambda a, b: a + b"\n" + with_member(
        b, b'"x":' + b"[" * 100000) + b"\n", 2, "nesting is deeper than 512 levels"),
    Framing("duplicate_key", lambda a, b: a + b"\n" + with_member(b, first_key(b) + b":null") + b"\n",
            2, None),  # message: duplicate key 'KEY'
    # Accepted: CRLF line ends (sluice(7)) and a last line without its newline.
    Framing("crlf", lambda a, b: a + b"\r\n" + b + b"\r\n"),
    Framing("no_final_newline", lambda a, b: a + b"\n" + b),
]


def snapshot(path):
    """The state file's bytes (hash) and its logical content; nothing when it is absent."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    dump = subprocess.run(["sqlite3", "-readonly", path, ".dump"], capture_output=True,
                          check=True).stdout
    return digest, dump


class BadInputTestCase(ToolTestCase):
    def fresh(self):
        """A new directory for the next subtest (the last one is removed by tearDown)."""
        self.tearDown()
        self.setUp()

    def prepare(self, command):
        self.fresh()
        if command.tool in SEEDS:
            self.write("seed.jsonl", SEEDS[command.tool])
        self.write("rates.csv", RATES_CSV)
        for argv in command.setup:
            result = self.run_tool(*argv[1:], tool=argv[0])
            self.assertStatus(result, 0)
        return snapshot(self.path(command.state)) if command.state else None

    def run_command(self, command, path, *extra):
        return self.run_tool(*command.argv(path, *extra), tool=command.tool)

    def assertDiagnostics(self, result, tool, expected_lines):
        """stderr holds exactly these `TOOL: error: ...` lines (notes aside, which only
        idemkey's summary adds), each written whole."""
        lines = result.err.split("\n")
        self.assertEqual(lines[-1], "", result)  # every line ends with '\n'
        errors = [text for text in lines[:-1] if not text.startswith(f"{tool}: note: ")]
        self.assertEqual(errors, [f"{tool}: error: {text}" for text in expected_lines], result)

    def assertUsageError(self, result, tool, message):
        """Exit 2 and one error line; CLI11's own errors add the usage hint note."""
        self.assertStatus(result, 2)
        lines = result.err.splitlines()
        self.assertEqual(lines[0], f"{tool}: error: {message}", result)
        self.assertIn(lines[1:], ([], [f"{tool}: note: run '{tool} --help' for usage"]), result)
        self.assertEqual(result.stdout, b"")

    def state_after(self, command, content):
        """The state a run of `content` gives from the prepared state, in a scratch copy."""
        scratch = self.path("scratch")
        os.makedirs(scratch)
        for name in os.listdir(self.dir):
            source = self.path(name)
            if os.path.isfile(source):
                shutil.copy2(source, os.path.join(scratch, name))
        with open(os.path.join(scratch, "expected.jsonl"), "wb") as handle:
            handle.write(content)
        argv = command.argv("expected.jsonl")
        subprocess.run([tool_path(command.tool), *argv], cwd=scratch, env=self.env,
                       capture_output=True, timeout=60)
        state = snapshot(os.path.join(scratch, command.state))
        shutil.rmtree(scratch)
        return state

    def reference(self, command, content):
        """Status and stdout of `content` run on the prepared state (in a scratch copy)."""
        scratch = self.path("ref")
        shutil.copytree(self.dir, scratch, ignore=shutil.ignore_patterns("ref", "in.jsonl"))
        with open(os.path.join(scratch, "ref.jsonl"), "wb") as handle:
            handle.write(content)
        completed = subprocess.run([tool_path(command.tool), *command.argv("ref.jsonl")],
                                   cwd=scratch, env=self.env, capture_output=True, timeout=60)
        shutil.rmtree(scratch)
        return completed.returncode, completed.stdout

    def assertRejected(self, command, before, content, line_number, message, *extra):
        path = self.write("in.jsonl", content)
        result = self.run_command(command, "in.jsonl", *extra)
        self.assertStatus(result, 65)
        self.assertDiagnostics(result, command.tool, [f"in.jsonl:{line_number}: {message}"])
        self.assertNotIn(b"\r", result.stdout)
        if command.state:
            if command.prefix_kept:
                kept = b"".join(text + b"\n" for text in content.split(b"\n")[:line_number - 1])
                expected = self.state_after(command, kept)
            else:
                expected = before
            self.assertEqual(snapshot(self.path(command.state)), expected,
                             f"{command.name}: the state file changed")
        os.remove(path)
        return result


class FramingTest(BadInputTestCase):
    def test_framing(self):
        # Every command with every framing case; in the sanitizer pass (short depth, where each
        # process is several times slower) a third of the pairs, chosen so that every command
        # still meets several cases and every case several commands.
        stride = 3 if DEPTH == "short" else 1
        for command_index, command in enumerate(COMMANDS):
            for case_index, case in enumerate(FRAMING):
                if (command_index + case_index) % stride:
                    continue
                with self.subTest(command=command.name, case=case.name):
                    self.check_framing(command, case)

    def check_framing(self, command, case):
        before = self.prepare(command)
        v1, v2 = command.valid
        content = case.build(v1, v2)
        if case.line is None:
            plain = self.reference(command, v1 + b"\n" + v2 + b"\n")
            self.write("in.jsonl", content)
            result = self.run_command(command, "in.jsonl")
            self.assertEqual((result.status, result.stdout), plain, result)
            self.assertNotIn(b"\r", result.stdout)
            return
        message = case.message or f"duplicate key '{first_key(v2)[1:-1].decode()}'"
        self.assertRejected(command, before, content, case.line, message)

    def test_empty_input_is_fine(self):
        for command in COMMANDS:
            with self.subTest(command=command.name):
                self.prepare(command)
                self.write("in.jsonl", b"")
                result = self.run_command(command, "in.jsonl")
                if command.name == "price_markets":  # pricing for no market is an error
                    self.assertStatus(result, 65)
                    self.assertDiagnostics(result, "price", ["in.jsonl: no markets"])
                    continue
                self.assertStatus(result, 0)
                self.assertNotIn("error", result.err)


# ------------------------------------------------------------------ records (per command)

# (command, case, record on line 2, the message naming the field). Each is exit 65 with the
# state as it was (idemkey filter: with the first line's key remembered).
RECORDS = [
    ("idemkey_filter", "number_1e999", '{"id":1e999}',
     "key field 'id' must be a string or an integer, not number"),
    ("idemkey_filter", "number_fraction", '{"id":1.0000000000000000000001}',
     "key field 'id' must be a string or an integer, not number"),
    ("idemkey_filter", "wrong_type", '{"id":true}',
     "key field 'id' must be a string or an integer, not boolean"),
    ("idemkey_filter", "missing_field", '{"v":1}', "missing key field 'id'"),
    ("emi_record", "amount_1e999",
     '{"loan":"L1","n":1,"attempt":1,"result":"paid","amount":1e999}',
     'field "amount": invalid amount \'1e999\': expected digits with an optional decimal '
     'point, like 1234.50'),
    ("emi_record", "amount_minus_zero",
     '{"loan":"L1","n":1,"attempt":1,"result":"paid","amount":-0}',
     'field "amount": invalid amount \'-0\': must not be negative'),
    ("emi_record", "amount_too_precise",
     '{"loan":"L1","n":1,"attempt":1,"result":"paid","amount":1.0000000000000000000001}',
     'field "amount": invalid amount \'1.0000000000000000000001\': more than 2 decimal places '
     'for this currency'),
    ("emi_record", "huge_count", '{"loan":"L1","n":99999999999999999999999,"attempt":1,'
     '"result":"paid"}', 'field "n" must be a non-negative integer'),
    ("emi_record", "wrong_type", '{"loan":"L1","n":"1","attempt":1,"result":"paid"}',
     'field "n" must be a non-negative integer'),
    ("emi_record", "missing_field", '{"loan":"L1","n":1,"attempt":1}',
     'field "result" is missing'),
    ("emi_record", "empty_loan", '{"loan":"","n":1,"attempt":1,"result":"paid"}',
     'field "loan" must be a non-empty string'),
    ("emi_create_from", "principal_1e999", '{"loan":"C","principal":1e999,"rate":"12%",'
     '"months":6}', 'field "principal": invalid amount \'1e999\': expected digits with an '
     'optional decimal point, like 1234.50 (INR)'),
    ("emi_create_from", "principal_minus_zero", '{"loan":"C","principal":"-0","rate":"12%",'
     '"months":6}', 'field "principal": invalid amount \'-0\': must not be negative (INR)'),
    ("emi_create_from", "huge_count", '{"loan":"C","principal":"100.00","rate":"12%",'
     '"months":99999999999999999999999}', 'field "months" must be a whole number'),
    ("emi_create_from", "date_2026_02_30", '{"loan":"C","principal":"100.00","rate":"12%",'
     '"months":6,"first_due":"2026-02-30"}',
     'field "first_due": date \'2026-02-30\' does not exist'),
    ("emi_create_from", "wrong_type", '{"loan":"C","principal":"100.00","rate":"12%",'
     '"months":6,"eom":"yes"}', 'field "eom" must be true or false'),
    ("emi_create_from", "missing_field", '{"principal":"100.00","rate":"12%","months":6}',
     'field "loan" must be a non-empty string'),
    ("price_calc", "price_1e999", '{"sku":"B","price":1e999}',
     "field 'price': invalid amount '1e999': too large"),
    ("price_calc", "price_minus_zero", '{"sku":"B","price":-0}',
     "field 'price': invalid amount '-0': must not be negative"),
    ("price_calc", "price_too_precise", '{"sku":"B","price":1.0000000000000000000001}',
     "field 'price': invalid amount '1.0000000000000000000001': more than 2 decimal places for "
     "this currency"),
    ("price_calc", "price_huge", '{"sku":"B","price":"99999999999999999999999999999999999999"}',
     "field 'price': invalid amount '99999999999999999999999999999999999999': too large"),
    ("price_calc", "wrong_type", '{"sku":"B","price":true}',
     "field 'price' must be a decimal string like \"49.99\""),
    ("price_publish", "missing_field", '{"sku":"B"}',
     "field 'price' must be a decimal string like \"49.99\""),
    ("price_markets", "wrong_type", '{"country":"FR","currency":7}',
     "field 'currency' must be a string"),
    ("price_rates_load", "rate_1e999", '{"date":"2026-03-04","base":"EUR","currency":"JPY",'
     '"rate":1e999}', "rate: invalid amount '1e999': expected digits with an optional decimal "
     "point, like 1234.50"),
    ("price_rates_load", "rate_minus_zero", '{"date":"2026-03-04","base":"EUR",'
     '"currency":"JPY","rate":-0}', "rate: invalid amount '-0': must not be negative"),
    ("price_rates_load", "rate_too_precise", '{"date":"2026-03-04","base":"EUR",'
     '"currency":"JPY","rate":1.0000000000000000000001}',
     "rate: '1.0000000000000000000001' has too many digits"),
    ("price_rates_load", "date_2026_02_30", '{"date":"2026-02-30","base":"EUR",'
     '"currency":"JPY","rate":"160"}', "field 'date': date '2026-02-30' does not exist"),
    ("price_rates_load", "missing_field", '{"date":"2026-03-04","base":"EUR","currency":"JPY"}',
     "field 'rate' must be a decimal string"),
    ("price_ppp_load", "plr_1e999", '{"country":"FR","plr":1e999}',
     "plr: invalid amount '1e999': expected digits with an optional decimal point, like 1234.50"),
    ("price_ppp_load", "unknown_country", '{"country":"XX","plr":"0.3"}',
     "'XX' is not an ISO 3166-1 alpha-2 country code"),
    ("cohort_matrix", "user_1e999", '{"user":1e999,"ts":"2026-03-01T00:00:00Z"}',
     "field 'user' must be a string or an integer, not a fraction"),
    ("cohort_matrix", "ts_2026_02_30", '{"user":"u","ts":"2026-02-30T00:00:00Z"}',
     "field 'ts': date '2026-02-30' does not exist"),
    ("cohort_matrix", "ts_huge", '{"user":"u","ts":99999999999999999999999}',
     "field 'ts': epoch time 99999999999999999999999 is not a whole number of seconds or "
     "milliseconds"),
    ("cohort_matrix", "ts_fraction", '{"user":"u","ts":1.0000000000000000000001}',
     "field 'ts': epoch time 1.0000000000000000000001 is not a whole number of seconds or "
     "milliseconds"),
    ("cohort_ingest", "wrong_type", '{"user":"u","ts":"2026-03-01T00:00:00Z","event":5}',
     "field 'event' must be a string, not number"),
    ("cohort_ingest", "missing_field", '{"ts":"2026-03-01T00:00:00Z"}', "field 'user' is missing"),
    ("zscore", "value_1e999", '{"ts":"2026-03-01T12:00:00Z","value":1e999}',
     "field 'value': 1e999 is not a finite number"),
    ("zscore", "wrong_type", '{"ts":"2026-03-01T12:00:00Z","value":"1"}',
     "field 'value' must be a number, not string"),
    ("zscore", "ts_2026_02_30", '{"ts":"2026-02-30T12:00:00Z","value":1}',
     "field 'ts': date '2026-02-30' does not exist"),
    ("zscore_db", "value_1e999", '{"ts":"2026-03-01T12:00:00Z","value":-1e999,"host":"a"}',
     "field 'value': -1e999 is not a finite number"),
    ("zscore_db", "ts_huge", '{"ts":99999999999999999999999,"value":1,"host":"a"}',
     "field 'ts': epoch time 99999999999999999999999 is not a whole number of seconds or "
     "milliseconds"),
]

# Values that are odd but valid, accepted as documented: -0 and a long fraction as a metric
# value (a double), a 30-digit integer as an idemkey key, a cohort user and a price sku (used as
# its text), -0 as an epoch time (1970-01-01), a price with an exponent (read exactly).
ACCEPTED = [
    ("zscore", '{"ts":"2026-03-01T12:00:00Z","value":-0}'),
    ("zscore", '{"ts":"2026-03-01T12:00:00Z","value":1.0000000000000000000001}'),
    ("idemkey_filter", '{"id":123456789012345678901234567890}'),
    ("cohort_matrix", '{"user":123456789012345678901234567890,"ts":-0}'),
    ("price_calc", '{"sku":123456789012345678901234567890,"price":"1.00"}'),
    ("price_calc", '{"sku":"B","price":0.0000000001e10}'),
]


class RecordTest(BadInputTestCase):
    def test_bad_records(self):
        for name, case, record, message in RECORDS:
            command = COMMAND[name]
            with self.subTest(command=name, case=case):
                before = self.prepare(command)
                self.assertRejected(command, before, command.valid[0] + b"\n" + line(record) +
                                    b"\n", 2, message)

    def test_odd_but_valid_values(self):
        for name, record in ACCEPTED:
            command = COMMAND[name]
            with self.subTest(command=name, record=record):
                self.prepare(command)
                self.write("in.jsonl", line(record) + b"\n")
                result = self.run_command(command, "in.jsonl")
                self.assertStatus(result, 0)
                self.assertNotIn("error", result.err)
                self.assertEqual(len(result.stdout.splitlines()), 1)


# ------------------------------------------------------------------ option values

# (tool, argv, the error line). Usage errors: exit 2, nothing on stdout, state untouched.
OPTIONS = [
    ("idemkey", ["--db", "keys.db", "filter", "--key-field", "id", "--ttl", "-1h", "in.jsonl"],
     "--ttl: invalid duration '-1h' (use a number with a unit: us, ms, s, m, h, d; e.g. 250ms, "
     "90s, 1h30m)"),
    ("idemkey", ["--db", "keys.db", "--now", "2026-02-30T00:00:00Z", "filter", "--key-field",
                 "id", "in.jsonl"], "--now: date '2026-02-30' does not exist"),
    ("idemkey", ["--db", "keys.db", "filter", "--key-field", "id", "--batch",
                 "99999999999999999999999", "in.jsonl"],
     "--batch: Value 99999999999999999999999 not in range 1 to 1000000"),
    ("emi-schedule", ["record", "--db", "loans.db", "--today", "2026-02-30", "in.jsonl"],
     "--today: date '2026-02-30' does not exist"),
    ("emi-schedule", ["record", "--db", "loans.db", "--busy-timeout", "-1s", "in.jsonl"],
     "--busy-timeout: invalid duration '-1s' (use a number with a unit: us, ms, s, m, h, d; e.g. "
     "250ms, 90s, 1h30m)"),
    ("emi-schedule", ["create", "--loan", "Z", "--principal", "1e999", "--rate", "12%",
                      "--months", "6", "--currency", "INR", "--db", "loans.db"],
     "--principal: invalid amount '1e999': expected digits with an optional decimal point, like "
     "1234.50 (INR)"),
    ("price", ["calc", "--country", "DE", "--date", "2026-02-30", "--db", "price.db",
               "in.jsonl"], "--date: date '2026-02-30' does not exist"),
    ("price", ["quote", "--amount", "10.00", "--from", "USD", "--to", "GBP", "--ttl", "-1m",
               "--db", "price.db"],
     "--ttl: invalid duration '-1m' (use a number with a unit: us, ms, s, m, h, d; e.g. 250ms, "
     "90s, 1h30m)"),
    ("cohort", ["ingest", "--db", "cohort.db", "--tz", "Mars/Olympus_Mons", "in.jsonl"],
     "--tz: 'Mars/Olympus_Mons' is not a time zone of the tz database (like Europe/Berlin, "
     "America/New_York, UTC)"),
    ("cohort", ["matrix", "--periods", "99999999999999999999999", "in.jsonl"],
     "--periods: '99999999999999999999999' is not a whole number from 0 to 2147483647"),
    ("cohort", ["matrix", "--periods", "-1", "in.jsonl"],
     "--periods: '-1' is not a whole number from 0 to 2147483647"),
    ("zscore", ["--db", "series.db", "--key", "host", "--busy-timeout", "-5s", "in.jsonl"],
     "--busy-timeout: invalid duration '-5s' (use a number with a unit: us, ms, s, m, h, d; "
     "e.g. 250ms, 90s, 1h30m)"),
    ("zscore", ["--busy-timeout", "-5s", "in.jsonl"],
     "--busy-timeout: invalid duration '-5s' (use a number with a unit: us, ms, s, m, h, d; "
     "e.g. 250ms, 90s, 1h30m)"),
    ("zscore", ["--window", "99999999999999999999999", "in.jsonl"],
     "--window: '99999999999999999999999' is not a whole number from 0 to 1000000"),
    ("zscore", ["--window", "-3", "in.jsonl"], "--window: '-3' is not a whole number from 0 to "
     "1000000"),
    ("zscore", ["--method", "holt-winters", "--season-length", "100000000000", "in.jsonl"],
     "--season-length: '100000000000' is not a whole number from 0 to 1000000"),
    ("zscore", ["--method", "holt-winters", "--interval", "1s", "--season", "3650d", "in.jsonl"],
     "--method holt-winters: a season of 315360000 points is more than 1000000"),
    ("zscore", ["--interval", "-1h", "--missing", "zero", "in.jsonl"],
     "--interval: invalid duration '-1h' (use a number with a unit: us, ms, s, m, h, d; e.g. "
     "250ms, 90s, 1h30m)"),
    ("zscore", ["--method", "seasonal", "--tz", "Mars/Olympus_Mons", "in.jsonl"],
     "--tz: 'Mars/Olympus_Mons' is not a time zone of the tz database (like Europe/Berlin, "
     "America/New_York, UTC)"),
    ("backoff", ["schedule", "--attempts", "99999999999999999999999"],
     "--attempts must be from 0 to 1000000000 (0: unlimited, with --max-time)"),
    ("backoff", ["run", "--attempts", "-2", "--", "true"],
     "--attempts must be from 0 to 1000000000 (0: unlimited, with --max-time)"),
    ("backoff", ["schedule", "--base", "-1s"],
     "--base: invalid duration '-1s' (use a number with a unit: us, ms, s, m, h, d; e.g. 250ms, "
     "90s, 1h30m)"),
    ("backoff", ["run", "--max-time", "-1s", "--", "true"],
     "--max-time: invalid duration '-1s' (use a number with a unit: us, ms, s, m, h, d; e.g. "
     "250ms, 90s, 1h30m)"),
    ("backoff", ["run", "--timeout", "-1s", "--", "true"],
     "--timeout: invalid duration '-1s' (use a number with a unit: us, ms, s, m, h, d; e.g. "
     "250ms, 90s, 1h30m)"),
    ("reindex", ["backfill", "--db", "app.db", "--max-runtime", "-1s"],
     "--max-runtime: invalid duration '-1s' (use a number with a unit: us, ms, s, m, h, d; e.g. "
     "250ms, 90s, 1h30m)"),
    ("reindex", ["switch", "--db", "app.db", "--lock-timeout", "-1s"],
     "--lock-timeout: invalid duration '-1s' (use a number with a unit: us, ms, s, m, h, d; e.g. "
     "250ms, 90s, 1h30m)"),
    ("reindex", ["backfill", "--db", "app.db", "--batch", "99999999999999999999999"],
     "--batch: Value 99999999999999999999999 not in range 1 to 10000000"),
    ("reindex", ["status", "--db", "app.db", "--now", "2026-02-30T00:00:00Z"],
     "--now: date '2026-02-30' does not exist"),
]

STATE_OF = {"idemkey": "keys.db", "emi-schedule": "loans.db", "price": "price.db",
            "cohort": "cohort.db", "zscore": "series.db", "reindex": "app.db"}


class OptionTest(BadInputTestCase):
    def prepare_tool(self, tool):
        if tool == "reindex":
            self.fresh()
            subprocess.run(["sqlite3", self.path("app.db"),
                            "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v);"
                            "INSERT INTO t(v) VALUES (1),(2);"], check=True, capture_output=True)
            self.assertStatus(self.run_tool("start", "--db", "app.db", "--table", "t", "--like",
                                            tool="reindex"), 0)
            return snapshot(self.path("app.db"))
        command = {"idemkey": "idemkey_filter", "emi-schedule": "emi_record",
                   "price": "price_calc", "cohort": "cohort_ingest", "zscore": "zscore_db",
                   "backoff": "cohort_matrix"}[tool]
        before = self.prepare(COMMAND[command])
        self.write("in.jsonl", COMMAND[command].valid[0] + b"\n")
        return before if tool != "backoff" else None

    def test_bad_option_values(self):
        for tool, argv, message in OPTIONS:
            with self.subTest(tool=tool, argv=" ".join(argv)):
                before = self.prepare_tool(tool)
                result = self.run_tool(*argv, tool=tool)
                self.assertUsageError(result, tool, message)
                if tool in STATE_OF and tool != "zscore" or "--db" in argv:
                    self.assertEqual(snapshot(self.path(STATE_OF[tool])), before)


# ------------------------------------------------------------------ --skip-invalid

class SkipInvalidTest(BadInputTestCase):
    """Every bad line reported once with its number, the valid lines processed as if alone,
    exit 1; the state is what the valid lines alone make it."""

    def test_skip_invalid(self):
        for command in [command for command in COMMANDS if command.skip]:
            with self.subTest(command=command.name):
                self.check_skip(command)

    def check_skip(self, command):
        self.prepare(command)
        v1, v2 = command.valid
        bad = [(case.build(v1, v2).split(b"\n")[case.line - 1], case.message)
               for case in FRAMING if case.line == 2 and not case.name.startswith("cut")]
        bad += [(line(record), message) for record, message in SKIP_RECORDS[command.name]]
        lines = [v1] + [text for text, _ in bad] + [v2]
        content = b"\n".join(lines) + b"\n"
        expected_state = self.state_after(command, v1 + b"\n" + v2 + b"\n") if command.state \
            else None
        plain = self.reference(command, v1 + b"\n" + v2 + b"\n")
        self.write("in.jsonl", content)
        result = self.run_command(command, "in.jsonl", "--skip-invalid")
        self.assertStatus(result, 1)
        self.assertEqual(plain[0], 0)
        expected_stdout = plain[1]
        if command.name == "cohort_ingest":  # its summary counts the skipped lines
            expected_stdout = expected_stdout.replace(b'"skipped":0', b'"skipped":%d' % len(bad))
        self.assertEqual(result.stdout, expected_stdout)
        messages = []
        for number, (text, message) in enumerate(bad, start=2):
            if message is None:
                message = f"duplicate key '{first_key(v2)[1:-1].decode()}'"
            messages.append(f"in.jsonl:{number}: {message} (skipped)")
        self.assertDiagnostics(result, command.tool, messages)
        if command.state:  # the same rows; the pages may differ after other writes
            self.assertEqual(snapshot(self.path(command.state))[1], expected_state[1])


# One record per command that is well-formed JSON but wrong for the command (for the
# --skip-invalid run), with the message it gets.
SKIP_RECORDS = {
    "idemkey_filter": [({"v": 1}, "missing key field 'id'")],
    "emi_record": [({"loan": "L1", "n": 1}, 'field "attempt" must be a non-negative integer'),
                   ({"loan": "L1", "n": 1, "attempt": 1, "result": "failed", "code": 5},
                    'field "code" must be a string')],
    "price_calc": [({"sku": "B"}, "field 'price' must be a decimal string like \"49.99\"")],
    "price_publish": [({"sku": "B"}, "field 'price' must be a decimal string like \"49.99\"")],
    "cohort_matrix": [({"user": "v"}, "field 'ts' is missing")],
    "cohort_ingest": [({"user": "v"}, "field 'ts' is missing")],
    "zscore": [({"ts": "2026-03-01T10:30:00Z"}, "field 'value' is missing")],
    "zscore_db": [({"ts": "2026-03-01T10:30:00Z", "host": "a"}, "field 'value' is missing")],
}


# ------------------------------------------------------------------ a line over the limit

class LongLineTest(BadInputTestCase):
    """A line of 64 MiB + 1 bytes (an otherwise valid record) after a valid line: refused at
    line 2 by every command; under --skip-invalid skipped like any bad line."""

    def write_long_input(self, command, after=b""):
        v1 = command.valid[0]
        padding = b'{"pad":"'
        closing = b'",' + v1[1:]  # the rest of a valid record
        body = MAX_LINE_BYTES + 1 - len(padding) - len(closing)
        chunk = b"x" * (1 << 20)
        with open(self.path("in.jsonl"), "wb") as handle:
            handle.write(v1 + b"\n" + padding)
            for _ in range(body // len(chunk)):
                handle.write(chunk)
            handle.write(b"x" * (body % len(chunk)) + closing + b"\n" + after)
        return "in.jsonl"

    def test_line_over_the_limit(self):
        for command in COMMANDS:
            with self.subTest(command=command.name):
                before = self.prepare(command)
                self.write_long_input(command)
                result = self.run_command(command, "in.jsonl")
                self.assertStatus(result, 65)
                self.assertDiagnostics(result, command.tool, [
                    f"in.jsonl:2: line is longer than the limit of {MAX_LINE_BYTES} bytes"])
                if command.state and not command.prefix_kept:
                    self.assertEqual(snapshot(self.path(command.state)), before)

    def test_line_over_the_limit_is_skipped(self):
        # One command per reader path: JsonlReader::next (idemkey, emi-schedule, price) and
        # JsonlReader::next_fields (cohort, zscore).
        for name in ("idemkey_filter", "zscore"):
            command = COMMAND[name]
            with self.subTest(command=name):
                self.prepare(command)
                plain = self.reference(command, command.valid[0] + b"\n" +
                                       command.valid[1] + b"\n")
                self.write_long_input(command, command.valid[1] + b"\n")
                result = self.run_command(command, "in.jsonl", "--skip-invalid")
                self.assertStatus(result, 1)
                self.assertEqual(result.stdout, plain[1])
                self.assertDiagnostics(result, command.tool, [
                    f"in.jsonl:2: line is longer than the limit of {MAX_LINE_BYTES} bytes "
                    "(skipped)"])

    def test_max_line_bytes_option(self):
        # --max-line-bytes moves the limit for every command that reads records (sluice(7)).
        takes_it = [command for command in COMMANDS
                    if command.name not in ("price_markets", "price_rates_load", "price_ppp_load")]
        for command in takes_it:
            with self.subTest(command=command.name):
                before = self.prepare(command)
                second = command.valid[1]
                padded = with_member(second, b'"pad":"' + b"x" * (200 - len(second)) + b'"')
                self.write("in.jsonl", command.valid[0] + b"\n" + padded + b"\n")
                result = self.run_command(command, "in.jsonl", "--max-line-bytes", "100")
                self.assertStatus(result, 65)
                self.assertDiagnostics(result, command.tool, [
                    "in.jsonl:2: line is longer than the limit of 100 bytes"])
                if command.state and not command.prefix_kept:
                    self.assertEqual(snapshot(self.path(command.state)), before)
                exactly = str(len(padded))  # a line as long as the limit is fine
                self.assertStatus(self.run_command(command, "in.jsonl", "--max-line-bytes",
                                                   exactly), 0)
                for bad in ("0", "2GiB", "ten"):
                    refused = self.run_command(command, "in.jsonl", "--max-line-bytes", bad)
                    self.assertStatus(refused, 2)
                    self.assertIn("--max-line-bytes", refused.err.splitlines()[0])


if __name__ == "__main__":
    unittest.main()
