"""Fault injection: every state-changing command, with its Nth write, fsync or read on the
state files failing (EIO or ENOSPC), for N = 1, 2, 3, ... until the command makes fewer calls
than N and completes.

After each injected fault the tool must have exited 74 (I/O error) with a one-line message,
or 0 when SQLite itself tolerates that failure (it ignores a failed fsync of a directory), and
the state must pass PRAGMA integrity_check and hold exactly the state before the command or
the state a fault-free run leaves, never a mix. reindex's backfill commits in batches, so
there the promise is a resumable checkpoint: `reindex run` afterwards must reach exactly the
fault-free final state.

The faults come from tests/fault/fault_inject.cpp, an LD_PRELOAD shim built into
SLUICE_BUILD/lib. The figures (faults injected per tool) are printed and kept in
RELIABILITY.md.
"""

import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

from sluice_cli import BIN, DEPTH, tool_path

BUILD = os.environ.get("SLUICE_BUILD")
NOW = "2026-03-02T10:00:00Z"
# (kinds of calls, errno): writes and syncs with EIO, writes with ENOSPC, reads with EIO.
FAULTS = [("write", "EIO"), ("sync", "EIO"), ("write", "ENOSPC"), ("read", "EIO")]
LIMIT = 400  # calls per command and kind; every command here makes far fewer


def shim_path():
    return os.path.join(BUILD, "lib", "sluice_fault_inject.so")


def sanitizer_preload():
    """A binary that loads ASan's runtime as a shared library (GCC's way) needs it first in
    LD_PRELOAD; clang links the runtime into the binary, which then needs nothing."""
    libraries = subprocess.run(["ldd", tool_path("idemkey")], capture_output=True, text=True,
                               check=True).stdout
    for line in libraries.splitlines():
        name, _, rest = line.strip().partition(" => ")
        if name.startswith("libasan.so"):
            return [rest.split(" (")[0]]
    return []


def lines(*records):
    return "".join(record + "\n" for record in records)


def points(first, last):
    return lines(*(f'{{"ts":{1767225600 + 60 * i},"series":"s{i % 3}","value":{100 + (i * 37) % 11}}}'
                   for i in range(first, last)))


def events(first, last):
    return lines(*(f'{{"user":"u{i % (last // 2)}","ts":"2026-01-{1 + i % 25:02}T10:00:00Z"}}'
                   for i in range(first, last)))


RATES = "Date, USD, JPY, GBP, \n2026-03-02, 1.0812, 162.31, 0.8551, \n"
RATES_LATER = "Date, USD, JPY, GBP, \n2026-03-03, 1.0799, 161.95, 0.8533, \n"
LOAN = ["--principal", "100000.00", "--rate", "10%", "--months", "12", "--currency", "INR",
        "--disbursed", "2026-01-15"]



def create_items_table(directory):
    """reindex's case: an application's table of 300 rows in state/app.db (WAL)."""
    connection = sqlite3.connect(os.path.join(directory, "state", "app.db"))
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price TEXT)")
    connection.executemany("INSERT INTO items VALUES (?, ?, ?)",
                           [(i, f"item {i}", str(i * 7 % 100)) for i in range(1, 301)])
    connection.commit()
    connection.close()


def resumes_to_the_end(test, directory, before, state, after, status):
    """reindex's third states, after a failed run: a checkpoint of the batched backfill.
    `reindex run` (no faults) must take it to exactly the state a fault-free run reaches."""
    if status == 0:
        return False
    result = test.run_command(directory, REINDEX_RUN)
    return result.returncode == 0 and test.state_of(directory, set()) == after


def claimed_only(test, directory, before, state, after, status):
    """idemkey run's other states. After exit 74: the claim of k2 committed, its result not
    (the command ran, then saving even its exit status failed), the state a SIGKILL while the
    command runs leaves. After exit 0: k2 completed with its exit status but without its
    output (saving the output failed, the status alone was then saved)."""
    table = ("idemkey.db", "idemkey_keys")
    added = [row for row in state[table] if row not in before[table]]
    others = {name: rows for name, rows in state.items() if name != table}
    if not (others == {name: rows for name, rows in before.items() if name != table}
            and len(state[table]) == len(before[table]) + 1 and len(added) == 1
            and added[0][2] == "k2" and added[0][6] == 1):
        return False
    row = added[0]
    if status == 0:
        return (row[4], row[12], row[13] or b"", row[14] or b"", row[15]) == ("completed", 0, b"", b"", 0)
    return row[4] == "in_progress"


REINDEX_RUN = ["reindex", "run", "--db", "state/app.db", "--now", NOW, "--job", "items", "--batch", "25"]
# name: (files to write, setup commands, the command under faults, columns whose values differ
# between two fault-free runs and are left out of the comparison, and a test for a third state
# the command may leave besides the one before and the one after). Commands are argv lists,
# run in the test's directory with SLUICE_STATE_DIR=state, or functions of that directory.
CASES = {
    "idemkey run": (
        {}, [["idemkey", "--now", NOW, "run", "--key", "k1", "--", "echo", "one"]],
        ["idemkey", "--now", NOW, "run", "--key", "k2", "--", "echo", "two"], {"token"},
        claimed_only),
    "idemkey filter": (
        {"a.jsonl": lines(*(f'{{"id":{i}}}' for i in range(1, 4))),
         "b.jsonl": lines(*(f'{{"id":{i}}}' for i in range(2, 30)))},
        [["idemkey", "--now", NOW, "filter", "--key-field", "id", "a.jsonl"]],
        ["idemkey", "--now", NOW, "filter", "--key-field", "id", "b.jsonl"], set(), None),
    "zscore --db": (
        {"a.jsonl": points(0, 40), "b.jsonl": points(40, 90)},
        [["zscore", "--db", "state/z.db", "--key", "series", "--window", "10", "a.jsonl"]],
        ["zscore", "--db", "state/z.db", "--key", "series", "--window", "10", "b.jsonl"], set(), None),
    "cohort ingest": (
        {"a.jsonl": events(0, 60), "b.jsonl": events(60, 200)},
        [["cohort", "ingest", "--db", "state/c.db", "a.jsonl"]],
        ["cohort", "ingest", "--db", "state/c.db", "b.jsonl"], set(), None),
    "emi-schedule create": (
        {}, [["emi-schedule", "create", "--loan", "L1", *LOAN]],
        ["emi-schedule", "create", "--loan", "L2", *LOAN], set(), None),
    "emi-schedule record": (
        {"results.jsonl": lines('{"loan":"L1","n":1,"attempt":1,"result":"paid"}',
                                '{"loan":"L2","n":1,"attempt":1,"result":"failed","code":"R01"}')},
        [["emi-schedule", "create", "--loan", "L1", *LOAN],
         ["emi-schedule", "create", "--loan", "L2", *LOAN],
         ["emi-schedule", "collect", "--today", "2026-02-15"]],
        ["emi-schedule", "record", "--today", "2026-02-15", "results.jsonl"], set(), None),
    "reindex run": (
        {"v2.sql": "CREATE TABLE {name} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                   "price INTEGER);\nCREATE INDEX items_v2_name ON {name} (name);\n"},
        [create_items_table,
         ["reindex", "start", "--db", "state/app.db", "--now", NOW, "--table", "items", "--dest-ddl", "v2.sql",
          "--select", "id, name, CAST(price AS INTEGER) AS price"]],
        REINDEX_RUN, set(), resumes_to_the_end),
    "price rates load": (
        {"rates.csv": RATES, "later.csv": RATES_LATER},
        [["price", "rates", "load", "rates.csv"]],
        ["price", "rates", "load", "later.csv"], set(), None),
}


class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BUILD or not os.path.exists(shim_path()):
            raise unittest.SkipTest("SLUICE_BUILD/lib/sluice_fault_inject.so is not built")
        cls.preload = " ".join(sanitizer_preload() + [shim_path()])

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-faults-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_command(self, directory, argv, fault=None):
        environment = dict(os.environ, SLUICE_STATE_DIR=os.path.join(directory, "state"))
        stdin = subprocess.DEVNULL
        if fault is not None:
            kinds, error, at = fault
            environment.update(LD_PRELOAD=self.preload, SLUICE_FAULT_PATH=environment["SLUICE_STATE_DIR"],
                               SLUICE_FAULT_OPS=kinds, SLUICE_FAULT_ERRNO=error,
                               SLUICE_FAULT_AT=str(at),
                               SLUICE_FAULT_REPORT=os.path.join(directory, "fault.report"))
        return subprocess.run([tool_path(argv[0]), *argv[1:]], cwd=directory, env=environment,
                              stdin=stdin, capture_output=True, timeout=60)

    def prepare(self, name, files, setup):
        """A directory holding the input files and the state the setup commands leave."""
        directory = os.path.join(self.dir, name)
        os.makedirs(os.path.join(directory, "state"))
        for file, content in files.items():
            with open(os.path.join(directory, file), "w") as handle:
                handle.write(content)
        for step in setup:
            if callable(step):
                step(directory)
                continue
            result = self.run_command(directory, step)
            self.assertEqual(result.returncode, 0, result.stderr)
        return directory

    def state_of(self, directory, volatile):
        """Every row of every table of every state file, checked by integrity_check; taken
        from a copy, so that reading it (WAL recovery) does not change the state under test."""
        copy = os.path.join(self.dir, "copy")
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(os.path.join(directory, "state"), copy)
        state = {}
        for file in sorted(os.listdir(copy)):
            if not file.endswith(".db"):
                continue
            connection = sqlite3.connect(os.path.join(copy, file))
            self.assertEqual(connection.execute("PRAGMA integrity_check").fetchall(), [("ok",)],
                             f"{file} fails integrity_check")
            tables = [row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            for table in tables:
                cursor = connection.execute(f'SELECT * FROM "{table}"')
                columns = [column[0] for column in cursor.description]
                rows = [tuple(None if column in volatile else value
                              for column, value in zip(columns, row)) for row in cursor]
                state[(file, table)] = sorted(rows, key=repr)
            connection.close()
        return state

    def inject_until_done(self, name, case, fault_kinds, error):
        """Runs COMMAND with fault N = 1, 2, ... until it completes without one; returns the
        number of faults injected."""
        files, setup, command, volatile, third_state = case
        base = self.prepare("base", files, setup)
        before = self.state_of(base, volatile)
        clean = os.path.join(self.dir, "clean")
        shutil.copytree(base, clean)
        result = self.run_command(clean, command)
        self.assertEqual(result.returncode, 0, result.stderr)
        after = self.state_of(clean, volatile)
        shutil.rmtree(clean)
        self.assertNotEqual(before, after, f"{name}: the command changes no state")
        # Every call in the release pass; every third (1, 4, 7, ...) in the sanitizer pass
        # (SLUICE_TEST_DEPTH=short), where each run of a command costs several times more.
        step = 3 if DEPTH == "short" else 1
        injected = 0
        for at in range(1, LIMIT, step):
            trial = os.path.join(self.dir, "trial")
            shutil.rmtree(trial, ignore_errors=True)
            shutil.copytree(base, trial)
            result = self.run_command(trial, command, (fault_kinds, error, at))
            fired = os.path.exists(os.path.join(trial, "fault.report"))
            stderr = result.stderr.decode(errors="replace")
            label = f"{name}: {fault_kinds} #{at} failing with {error}: exit {result.returncode}, {stderr!r}"
            if not fired:
                self.assertEqual(result.returncode, 0, label)
                self.assertEqual(self.state_of(trial, volatile), after, label)
                return injected
            injected += 1
            self.assertIn(result.returncode, (0, 74), label)
            state = self.state_of(trial, volatile)
            if result.returncode == 0:
                if state != after:
                    self.assertTrue(third_state and third_state(self, trial, before, state, after, 0),
                                    f"{label}: exit 0 but not the state after: {state}")
            else:
                self.assertEqual(stderr.count("\n"), 1, label)
                self.assertIn(f"{command[0]}: error: ", stderr, label)
                if state not in (before, after):
                    self.assertTrue(third_state and third_state(self, trial, before, state, after,
                                                                result.returncode),
                                    f"{label}: neither the state before nor after: {state}")
        self.fail(f"{name}: still injecting faults after {LIMIT} calls")

    def survives_each_fault(self, name):
        for kinds, error in FAULTS:
            with self.subTest(fault=kinds, errno=error):
                injected = self.inject_until_done(name, CASES[name], kinds, error)
                print(f"\n  {name}: {kinds} {error}: {injected} faults injected, all survived", end="")
                self.assertGreater(injected, 0, f"{name}: no {kinds} call reached the state files")
            shutil.rmtree(self.dir)
            os.makedirs(self.dir)


def add_tests():
    """One test per command, named after it (test_idemkey_run, ...)."""
    for name in CASES:
        method = "test_" + "".join(c if c.isalnum() else "_" for c in name).strip("_").replace("__", "_")
        setattr(Faults, method, lambda self, name=name: self.survives_each_fault(name))


add_tests()


if __name__ == "__main__":
    unittest.main()
