"""State files that are not what a tool expects (issue 9): for every stateful tool's
state-changing command, a file that is not SQLite, an SQLite file that is not sluice state, a
state file written by a newer version, a state directory that does not exist, and (when not
run as root, which ignores file modes) a read-only state file. Each must give the documented
exit status with one clear error line, and leave the file byte for byte as it was."""

import os
import sqlite3
import stat
import unittest

from sluice_cli import ToolTestCase


class Command:
    """A stateful tool's state-changing command; DB stands for the state file's path."""

    def __init__(self, tool, component, args, files=()):
        self.tool = tool
        self.component = component  # its row in sluice_meta
        self.args = args
        self.files = dict(files)  # input files it reads, written before each run

    def argv(self, db):
        return [db if word == "DB" else word for word in self.args]


COMMANDS = [
    Command("idemkey", "idemkey", ["--db", "DB", "run", "--key", "k", "--", "true"]),
    Command("backoff", "backoff", ["run", "--db", "DB", "--budget", "b", "--", "true"]),
    Command("emi-schedule", "emi-schedule",
            ["create", "--loan", "L1", "--principal", "1000.00", "--rate", "10%", "--months", "6",
             "--currency", "INR", "--disbursed", "2026-01-15", "--db", "DB"]),
    Command("price", "price", ["rates", "load", "rates.csv", "--db", "DB"],
            {"rates.csv": "Date, USD\n2026-03-03, 1.08\n"}),
    Command("cohort", "cohort", ["ingest", "--db", "DB", "events.jsonl"],
            {"events.jsonl": '{"user":"u1","ts":"2026-03-01T10:00:00Z"}\n'}),
    Command("zscore", "zscore", ["--db", "DB", "points.jsonl"],
            {"points.jsonl": '{"ts":"2026-03-01T10:00:00Z","value":1}\n'}),
]


class StateFiles(ToolTestCase):
    def run_command(self, command, db):
        self.tool = command.tool  # the name assertError expects its message to start with
        for name, text in command.files.items():
            self.write(name, text)
        return self.run_tool(*command.argv(db), tool=command.tool)

    def assertRefusedUntouched(self, command, db, status, fragment):
        with open(db, "rb") as handle:
            before = handle.read()
        result = self.run_command(command, db)
        self.assertError(result, status, fragment)
        self.assertEqual(len(result.err.splitlines()), 1, result)
        with open(db, "rb") as handle:
            self.assertEqual(handle.read(), before)
        for companion in ("-wal", "-shm", "-journal"):
            self.assertFalse(os.path.exists(db + companion), companion)

    def test_a_file_that_is_not_sqlite_is_65(self):
        for command in COMMANDS:
            with self.subTest(tool=command.tool):
                db = self.write(f"{command.tool}-text.db", "plain text, not a database\n" * 200)
                self.assertRefusedUntouched(command, db, 65, "not a database")

    def test_an_sqlite_file_that_is_not_sluice_state_is_65(self):
        for command in COMMANDS:
            with self.subTest(tool=command.tool):
                db = self.path(f"{command.tool}-app.db")
                with sqlite3.connect(db) as connection:
                    connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
                connection.close()
                self.assertRefusedUntouched(command, db, 65, "not a sluice state file")

    def test_a_state_file_from_a_newer_version_is_refused(self):
        for command in COMMANDS:
            with self.subTest(tool=command.tool):
                db = self.path(f"{command.tool}-newer.db")
                self.assertStatus(self.run_command(command, db), 0)
                connection = sqlite3.connect(db, isolation_level=None)
                changed = connection.execute(
                    "UPDATE sluice_meta SET version = 99 WHERE component = ?",
                    (command.component,)).rowcount
                connection.close()  # the last connection: checkpoints and removes the WAL
                self.assertEqual(changed, 1)
                self.assertRefusedUntouched(command, db, 65, "newer version")

    def test_a_missing_state_directory_is_73_and_not_created(self):
        for command in COMMANDS:
            with self.subTest(tool=command.tool):
                db = self.path(f"missing-{command.tool}/state.db")
                result = self.run_command(command, db)
                self.assertError(result, 73, "cannot create state file")
                self.assertFalse(os.path.exists(os.path.dirname(db)))

    @unittest.skipIf(os.geteuid() == 0, "root writes read-only files")
    def test_a_read_only_state_file_is_refused_untouched(self):
        for command in COMMANDS:
            with self.subTest(tool=command.tool):
                db = self.path(f"{command.tool}-ro.db")
                self.assertStatus(self.run_command(command, db), 0)
                os.chmod(db, stat.S_IRUSR)
                with open(db, "rb") as handle:
                    before = handle.read()
                result = self.run_command(command, db)
                self.assertIn(result.status, (73, 74), result)
                self.assertEqual(len(result.err.splitlines()), 1, result)
                with open(db, "rb") as handle:
                    self.assertEqual(handle.read(), before)


if __name__ == "__main__":
    unittest.main()
