"""ttl: the real binary on the user's own table, in an SQLite file and (OnPostgres) in a
schema of the test server. Every expired row goes and no live row is touched (against a
Python oracle of the cutoff), --dry-run counts, --where narrows and is checked, --max-time
stops with 75 and a rerun finishes, and bad input (a duration, a table, a column, a filter)
is refused with its status and the table left as it was."""

import calendar
import datetime
import json
import random
import sqlite3
import subprocess
import unittest

from sluice_cli import ToolTestCase, is_server_url, on_both_backends, sqlite_only

NOW = "2026-03-01T12:00:00Z"
EPOCH = calendar.timegm((2026, 3, 1, 12, 0, 0))


def run_sql(location, script):
    """Runs `script` (statements separated by ';') on the application's database."""
    if is_server_url(location):
        result = subprocess.run(["psql", location, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", script],
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise AssertionError(result.stderr)
        return
    connection = sqlite3.connect(location, isolation_level=None)
    try:
        connection.executescript(script)
    finally:
        connection.close()


def make_events(location, rows, seed, older_than_seconds=86400, text=True):
    """An events table of `rows` rows whose created_at lies around the cutoff, as epoch
    seconds, epoch milliseconds, NULL and (SQLite, `text`) RFC 3339 text with offsets. Returns
    the ids that must survive a sweep at NOW with that --older-than."""
    server = is_server_url(location)
    cutoff = EPOCH - older_than_seconds
    rng = random.Random(seed)
    values, live = [], []
    for key in range(1, rows + 1):
        instant = cutoff + rng.choice([-2, -1, 0, 1, rng.randint(-10**6, 10**6)])
        kind = rng.choice(["seconds", "millis", "null"] + (["text"] if text and not server else []))
        if kind == "seconds":
            value, alive = str(instant), instant >= cutoff
        elif kind == "millis":
            millis = instant * 1000 + rng.choice([-1, 0, 1])
            value, alive = str(millis), millis >= cutoff * 1000
        elif kind == "null":
            value, alive = "NULL", True
        else:
            offset = rng.choice([0, 120, -330])
            zone = datetime.timezone(datetime.timedelta(minutes=offset))
            moment = datetime.datetime.fromtimestamp(instant, zone)
            value, alive = f"'{moment.isoformat().replace('+00:00', 'Z')}'", instant >= cutoff
        values.append(f"({key}, {value}, '{'a' if key % 3 == 0 else 'b'}')")
        if alive:
            live.append(key)
    column = "BIGINT" if server else ""
    run_sql(location, f"CREATE TABLE events (id BIGINT PRIMARY KEY, created_at {column}, "
                      f"tenant TEXT); INSERT INTO events VALUES {', '.join(values)}")
    return live


@on_both_backends
class TtlSweep(ToolTestCase):
    tool = "ttl"

    def setUp(self):
        super().setUp()
        self.db = self.state("app.db")
        if not is_server_url(self.db):
            run_sql(self.db, "PRAGMA journal_mode=WAL")

    def ids(self, table="events"):
        return [int(row[0]) for row in self.state_rows(self.db, f"SELECT id FROM {table} ORDER BY id")]

    def sweep(self, *args, table="events", column="created_at"):
        return self.run_tool("sweep", "--db", self.db, "--table", table, "--column", column,
                             "--now", NOW, "--pause", "0", *args)

    def test_help_and_bad_flag(self):
        self.assertStatus(self.run_tool("--help"), 0)
        help_text = self.run_tool("sweep", "--help")
        self.assertStatus(help_text, 0)
        for option in ("--older-than", "--where", "--batch", "--pause", "--max-time",
                       "--dry-run", "--progress", "--now"):
            self.assertIn(option, help_text.out)
        self.assertError(self.run_tool("sweep", "--bogus"), 2)
        self.assertError(self.run_tool("sweep", "--db", self.db, "--table", "events"), 2)

    def test_every_expired_row_goes_and_no_live_row(self):
        live = make_events(self.db, 400, seed=1)
        result = self.sweep("--older-than", "1d", "--batch", "37")
        self.assertStatus(result, 0)
        record = json.loads(result.out)
        self.assertEqual(record, {"table": "events", "column": "created_at",
                                  "cutoff": "2026-02-28T12:00:00Z", "deleted": 400 - len(live),
                                  "batches": -(-(400 - len(live)) // 37), "complete": True})
        self.assertEqual(self.ids(), live)
        again = self.sweep("--older-than", "1d")
        self.assertEqual(json.loads(again.out)["deleted"], 0)

    def test_dry_run_counts_and_changes_nothing(self):
        live = make_events(self.db, 200, seed=2)
        before = self.state_dump(self.db, ["events"])
        result = self.sweep("--older-than", "1d", "--dry-run")
        self.assertStatus(result, 0)
        self.assertEqual(json.loads(result.out)["expired"], 200 - len(live))
        self.assertEqual(self.state_dump(self.db, ["events"]), before)

    def test_where_narrows_the_sweep(self):
        live = make_events(self.db, 200, seed=3)
        self.assertStatus(self.sweep("--older-than", "1d", "--where", "tenant = 'a'"), 0)
        expected = [key for key in range(1, 201) if key in live or key % 3 != 0]
        self.assertEqual(self.ids(), expected)

    def test_max_time_stops_with_75_and_a_rerun_finishes(self):
        live = make_events(self.db, 120, seed=4)
        first = self.sweep("--older-than", "1d", "--batch", "5", "--max-time", "1us")
        self.assertStatus(first, 75)
        self.assertIn("--max-time", first.err)
        self.assertEqual(json.loads(first.out)["complete"], False)
        self.assertGreater(len(self.ids()), len(live))
        self.assertStatus(self.sweep("--older-than", "1d"), 0)
        self.assertEqual(self.ids(), live)

    def test_bad_input_changes_nothing(self):
        make_events(self.db, 50, seed=5)
        run_sql(self.db, "CREATE TABLE other (id BIGINT PRIMARY KEY, x BIGINT)")
        before = self.state_dump(self.db, ["events", "other"])
        cases = [
            (("--older-than", "soon"), 2, "--older-than"),
            (("--older-than", "5"), 2, "--older-than"),
            (("--older-than", "1d", "--batch", "0"), 2, "--batch"),
            (("--older-than", "1d", "--where", "1=1; DROP TABLE events"), 2, "';'"),
            (("--older-than", "1d", "--where", "tenant = 'a' -- x"), 2, "comment"),
            (("--older-than", "1d", "--where", "tenant = 'a') OR (1 = 1"), 2, "parenthesis"),
            (("--older-than", "1d", "--where", "id IN (SELECT id FROM other)"), 2, "subquery"),
            (("--older-than", "1d", "--where", "nosuch = 1"), 65, "not a boolean expression"),
            (("--older-than", "1d", "--column=nosuch"), 65, "no column 'nosuch'"),
            (("--older-than", "1d", "--table=missing"), 65, "no table 'missing'"),
        ]
        for args, status, fragment in cases:
            with self.subTest(args=args):
                if args[-1].startswith("--"):
                    option, value = args[-1].split("=")
                    result = self.sweep(*args[:-1], **{option[2:]: value})
                else:
                    result = self.sweep(*args)
                self.assertError(result, status, fragment)
                # One diagnostic (a usage error adds the note pointing at --help).
                self.assertLessEqual(len(result.err.splitlines()), 2, result)
                self.assertEqual(result.out, "")
        self.assertEqual(self.state_dump(self.db, ["events", "other"]), before)

    def test_a_filter_that_is_not_boolean_or_reads_another_table_is_refused(self):
        make_events(self.db, 20, seed=6)
        run_sql(self.db, "CREATE TABLE other (id BIGINT PRIMARY KEY, x BIGINT)")
        where = "other.x = 1" if self.backend == "sqlite" else "id + 1"
        self.assertError(self.sweep("--older-than", "1d", "--where", where), 65)
        self.assertEqual(len(self.ids()), 20)

    @sqlite_only
    def test_a_missing_database_is_66(self):
        result = self.run_tool("sweep", "--db", self.path("none.db"), "--table", "events",
                               "--column", "created_at", "--older-than", "1d")
        self.assertError(result, 66)

    @sqlite_only
    def test_a_table_without_a_walkable_key_is_refused(self):
        run_sql(self.db, "CREATE TABLE pairs (a, b, created_at, PRIMARY KEY (a, b)) WITHOUT ROWID")
        result = self.run_tool("sweep", "--db", self.db, "--table", "pairs", "--column",
                               "created_at", "--older-than", "1d")
        self.assertError(result, 65, "rowid")

    def test_postgresql_timestamps(self):
        if self.backend == "sqlite":
            self.skipTest("PostgreSQL column types")
        run_sql(self.db, "CREATE TABLE events (id BIGINT PRIMARY KEY, created_at TIMESTAMPTZ); "
                         "INSERT INTO events SELECT n, timestamptz '2026-02-28T12:00:00Z' "
                         "+ (n - 50) * interval '1 second' FROM generate_series(1, 100) n")
        result = self.sweep("--older-than", "1d", "--batch", "7")
        self.assertStatus(result, 0)
        self.assertEqual(json.loads(result.out)["deleted"], 49)
        self.assertEqual(self.ids(), list(range(50, 101)))


@on_both_backends
class TtlPartitions(ToolTestCase):
    """partitions and drop: rows inserted through the table's name land in their period's
    partition, drop removes exactly the partitions whose period ended before the cutoff, and
    what stays is readable through the same name."""
    tool = "ttl"

    def setUp(self):
        super().setUp()
        self.db = self.state("app.db")
        self.server = is_server_url(self.db)
        if self.server:
            run_sql(self.db, "CREATE TABLE events (id BIGINT, created_at TIMESTAMPTZ, body TEXT) "
                             "PARTITION BY RANGE (created_at)")
        else:
            run_sql(self.db, "CREATE TABLE events (id INTEGER PRIMARY KEY, created_at, body TEXT)")

    def ttl(self, *args, now=NOW):
        result = self.run_tool(args[0], "--db", self.db, "--table", "events", "--now", now,
                               *args[1:])
        self.assertStatus(result, 0)
        return [json.loads(line)["partition"] for line in result.out.splitlines()]

    def insert(self, key, moment):
        value = f"'{moment}'"
        run_sql(self.db, f"INSERT INTO events (id, created_at, body) VALUES ({key}, {value}, 'x')")

    def test_daily_partitions_are_created_ahead_and_dropped_behind(self):
        made = self.ttl("partitions", "--column", "created_at", "--by", "day", "--ahead", "2")
        self.assertEqual(made, ["events_2026_03_01", "events_2026_03_02", "events_2026_03_03"])
        self.assertEqual(self.ttl("partitions", "--column", "created_at", "--by", "day",
                                  "--ahead", "2"), [])
        for key, moment in enumerate(["2026-03-01T00:00:00Z", "2026-03-01T23:59:59Z",
                                      "2026-03-02T00:00:00Z", "2026-03-03T10:00:00Z",
                                      "2026-03-09T10:00:00Z"], start=1):
            self.insert(key, moment)
        count = "SELECT count(*) FROM {}"
        self.assertEqual(self.state_rows(self.db, count.format("events_2026_03_01")), [("2",)])
        self.assertEqual(self.state_rows(self.db, count.format("events_default")), [("1",)])
        # On the 3rd at noon, --older-than 12h: the 1st and 2nd have ended before the cutoff.
        later = "2026-03-03T12:00:00Z"
        self.assertEqual(self.ttl("drop", "--older-than", "12h", "--dry-run", now=later),
                         ["events_2026_03_01", "events_2026_03_02"])
        self.assertEqual(self.ttl("drop", "--older-than", "12h", now=later),
                         ["events_2026_03_01", "events_2026_03_02"])
        rows = self.state_rows(self.db, "SELECT id FROM events ORDER BY id")
        self.assertEqual([int(row[0]) for row in rows], [4, 5])
        self.assertEqual(self.ttl("drop", "--older-than", "12h", now=later), [])
        self.insert(6, "2026-03-03T11:00:00Z")
        self.assertEqual(self.state_rows(self.db, count.format("events_2026_03_03")), [("2",)])

    def test_bad_input_changes_nothing(self):
        before = self.state_rows(self.db, "SELECT count(*) FROM events")
        common = ["--db", self.db, "--now", NOW]
        self.assertError(self.run_tool("partitions", *common, "--table", "events", "--column",
                                       "created_at", "--by", "week"), 2, "--by")
        self.assertError(self.run_tool("partitions", *common, "--table", "events", "--column",
                                       "created_at", "--ahead", "-1"), 2, "--ahead")
        self.assertError(self.run_tool("partitions", *common, "--table", "nope", "--column",
                                       "created_at"), 65, "no table 'nope'")
        self.assertError(self.run_tool("partitions", *common, "--table", "events", "--column",
                                       "nope"), 65, "nope")
        self.assertError(self.run_tool("drop", *common, "--table", "events", "--older-than",
                                       "often"), 2, "--older-than")
        if not self.server:
            # A plain table was never partitioned: drop has nothing it may drop.
            self.assertError(self.run_tool("drop", *common, "--table", "events", "--older-than",
                                           "1d"), 65, "not partitioned")
        self.assertEqual(self.state_rows(self.db, "SELECT count(*) FROM events"), before)
        tables = ("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'events%' "
                  "AND schemaname = current_schema()" if self.server else
                  "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'events%'")
        self.assertEqual(self.state_rows(self.db, tables), [("1",)])


if __name__ == "__main__":
    unittest.main()
