"""reindex: the real binary on real SQLite files. Refusals (65), the gh-ost-style scenarios
(renamed, reordered, added and retyped columns, compound and text keys, key gaps, an empty
source, a unique index the data violates, an FTS5 destination behind a view), verify's exit 1,
rollback, cleanup, abort, status and the lock timeout (75)."""

import json
import os
import sqlite3
import subprocess
import sys
import time
import unittest

from sluice_cli import ToolTestCase


class ReindexCase(ToolTestCase):
    tool = "reindex"

    def setUp(self):
        super().setUp()
        self.db = self.path("app.db")

    def sql(self, script, *params):
        """Runs SQL as the application would (its own connection) and returns the rows."""
        connection = sqlite3.connect(self.db, isolation_level=None)
        try:
            if params:
                return connection.execute(script, params).fetchall()
            rows = []
            for statement in filter(str.strip, script.split(";\n")):
                rows = connection.execute(statement).fetchall()
            return rows
        finally:
            connection.close()

    def make_users(self, rows=50, wal=True):
        self.sql(("PRAGMA journal_mode=WAL;\n" if wal else "") +
                 "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT)")
        connection = sqlite3.connect(self.db)
        connection.executemany("INSERT INTO users VALUES (?, ?, ?)",
                               [(i, f"User{i}@Example.com", f"name {i}") for i in range(1, rows + 1)])
        connection.commit()
        connection.close()

    def reindex(self, *args):
        return self.run_tool(*args[:1], "--db", self.db, *args[1:])

    def ddl(self, text):
        return self.write("v2.sql", text)

    def status(self, job="users"):
        result = self.reindex("status", "--job", job)
        self.assertStatus(result, 0)
        return json.loads(result.out)


class CommandLine(ReindexCase):
    def test_help_and_bad_flag(self):
        self.assertStatus(self.run_tool("--help"), 0)
        self.assertIn("backfill", self.run_tool("--help").out)
        self.assertError(self.run_tool("start", "--no-such-flag"), 2)

    def test_missing_database_is_66(self):
        result = self.run_tool("status", "--db", self.path("nope.db"))
        self.assertError(result, 66, "nope.db")
        self.assertFalse(os.path.exists(self.path("nope.db")))

    def test_start_needs_a_ddl_or_like(self):
        self.make_users()
        self.assertError(self.reindex("start", "--table", "users"), 2, "--dest-ddl")

    def test_job_names_are_checked(self):
        self.make_users()
        self.assertError(self.reindex("status", "--job", "bad name"), 2, "--job")


class Refusals(ReindexCase):
    """Each refusal is 65 with the reason, and leaves the file as it was."""

    def assertRefused(self, result, *fragments):
        self.assertError(result, 65, *fragments)
        names = {row[0] for row in self.sql("SELECT name FROM sqlite_schema")}
        self.assertFalse(any(name.endswith("__v2") for name in names), names)
        self.assertFalse(any(name.startswith("_reindex_users") for name in names), names)

    def test_missing_table(self):
        self.make_users()
        self.assertRefused(self.reindex("start", "--table", "nope", "--like"), "no table 'nope'")

    def test_implicit_rowid_table(self):
        self.sql("CREATE TABLE logs (line TEXT)")
        self.assertRefused(self.reindex("start", "--table", "logs", "--like"), "no declared key",
                           "VACUUM")

    def test_key_that_may_be_null(self):
        self.sql("CREATE TABLE tags (name TEXT PRIMARY KEY, n INTEGER)")
        self.assertRefused(self.reindex("start", "--table", "tags", "--like"), "may hold NULL")

    def test_key_that_is_not_unique(self):
        self.make_users()
        self.assertRefused(self.reindex("start", "--table", "users", "--like", "--key", "email"),
                           "not the primary key or a unique index")

    def test_referenced_by_a_foreign_key_unless_allowed(self):
        self.make_users()
        self.sql("CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id))")
        self.assertRefused(self.reindex("start", "--table", "users", "--like"), "orders", "--allow-fk")
        self.assertStatus(self.reindex("start", "--table", "users", "--like", "--allow-fk"), 0)

    def test_source_with_its_own_triggers(self):
        self.make_users()
        self.sql("CREATE TABLE audit (x)")
        self.sql("CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN INSERT INTO audit VALUES (1); END")
        self.assertRefused(self.reindex("start", "--table", "users", "--like"), "users_audit")

    def test_projection_reading_another_table(self):
        self.make_users()
        self.sql("CREATE TABLE other (x)")
        self.assertRefused(self.reindex("start", "--table", "users", "--like", "--select",
                                        "id, email, (SELECT max(x) FROM other) AS name"),
                           "reads table 'other'")

    def test_projection_with_a_subquery_on_itself(self):
        self.make_users()
        self.assertRefused(self.reindex("start", "--table", "users", "--like", "--select",
                                        "id, email, (SELECT count(*) FROM users) AS name"),
                           "subquery")

    def test_non_deterministic_projection(self):
        self.make_users()
        self.assertRefused(self.reindex("start", "--table", "users", "--like", "--select",
                                        "id, email, random() AS name"), "random()")
        self.assertRefused(self.reindex("start", "--table", "users", "--like", "--select",
                                        "id, email, datetime('now') AS name"), "'now'")

    def test_projection_with_a_comment_or_a_statement_end(self):
        # The comment would cut the copy and verify statements short: both would see no rows.
        self.make_users()
        for select in ("id, email, name FROM users WHERE 0 --", "id, email, name /* x */",
                       "id, email, name; DELETE FROM users"):
            self.assertRefused(self.reindex("start", "--table", "users", "--like", "--select",
                                            select), "a comment or a ';'")
        self.assertStatus(self.reindex("start", "--table", "users", "--like", "--select",
                                       "id, email, 'a -- b; /* c */' AS name"), 0)

    def test_projection_that_drops_or_computes_the_key(self):
        self.make_users()
        self.assertRefused(self.reindex("start", "--table", "users", "--like", "--select",
                                        "id + 0 AS id, email, name"), "key column 'id'")

    def test_destination_without_a_unique_key(self):
        self.make_users()
        self.ddl("CREATE TABLE {name} (id INTEGER, email TEXT, name TEXT)")
        self.assertRefused(self.reindex("start", "--table", "users", "--dest-ddl", self.path("v2.sql")),
                           "no unique key")

    def test_destination_missing_a_projected_column(self):
        self.make_users()
        self.ddl("CREATE TABLE {name} (id INTEGER PRIMARY KEY, email TEXT)")
        self.assertRefused(self.reindex("start", "--table", "users", "--dest-ddl", self.path("v2.sql")),
                           "column 'name'")

    def test_broken_ddl(self):
        self.make_users()
        self.ddl("CREATE TABLE {name} (id INTEGER PRIMARY KEY, email TEXT, name TEXT")
        self.assertRefused(self.reindex("start", "--table", "users", "--dest-ddl", self.path("v2.sql")),
                           "DDL failed")

    def test_a_mistake_in_the_ddl_is_bad_input_named_with_its_file_on_one_line(self):
        self.make_users()
        for ddl, shown in [
                ("CREATE TABLE {name} (\n  id INTEGER PRIMARY KEY,\n  email TEXT,\n  name TEXT\n",
                 'incomplete input (in: CREATE TABLE "users__v2" ( id INTEGER PRIMARY KEY, '
                 'email TEXT, name TEXT)'),
                ("CREATE TABLE {name} (\n  id INTEGER PRIMARY KEY,\n  email TEXT COLLATE nope,\n"
                 "  name TEXT\n)\n", "no such collation sequence: nope (in: CREATE TABLE "
                 '"users__v2" ( id INTEGER PRIMARY KEY, email TEXT COLLATE nope, name TEXT ))'),
                ('CREATE VIRTUAL TABLE {name} USING fts5(id, email, name, tokenize="nope")',
                 "no such tokenizer: nope")]:
            self.ddl(ddl)
            result = self.reindex("start", "--table", "users", "--dest-ddl", self.path("v2.sql"))
            self.assertRefused(result, "v2.sql: the new table's DDL failed: " + shown)
            self.assertEqual(len(result.err.splitlines()), 1, result)
            for wording in ("bug", "state file", "\\u000a"):
                self.assertNotIn(wording, result.err)

    def test_a_projection_is_quoted_on_one_line(self):
        self.make_users()
        result = self.reindex("start", "--table", "users", "--like", "--select",
                              "id,\n  email,\n  nosuch AS name")
        self.assertRefused(result, "the projection 'id, email, nosuch AS name' over 'users' "
                                   "does not work: no such column: nosuch")
        self.assertNotIn("\\u000a", result.err)

    def test_the_application_database_is_called_a_database(self):
        missing = self.run_tool("status", "--db", self.path("nope.db"))
        self.assertError(missing, 66, f"database '{self.path('nope.db')}' does not exist")
        self.write("not.db", "this is not an SQLite database, just text long enough for a header")
        result = self.run_tool("status", "--db", self.path("not.db"))
        self.assertError(result, 65, f"database '{self.path('not.db')}'")
        for outcome in (missing, result):
            self.assertNotIn("state file", outcome.err)

    def test_a_second_job_on_the_same_table(self):
        self.make_users()
        self.assertStatus(self.reindex("start", "--table", "users", "--like"), 0)
        result = self.reindex("start", "--table", "users", "--like", "--job", "again")
        self.assertError(result, 65, "already has a reindex job running")


class Scenarios(ReindexCase):
    def run_job(self, *start_args, job="users"):
        result = self.reindex("run", "--job", job, *start_args)
        self.assertStatus(result, 0)
        return [json.loads(line) for line in result.out.splitlines()]

    def test_like_rebuilds_table_and_indexes_and_views_follow_the_alias(self):
        self.make_users(rows=120)
        self.sql("CREATE UNIQUE INDEX users_email ON users (email);\n"
                 "CREATE VIEW named AS SELECT id, name FROM users")
        lines = self.run_job("--table", "users", "--like", "--batch", "7")
        self.assertEqual(lines[0]["ok"], True)
        self.assertEqual(lines[-1]["phase"], "switched")
        self.assertEqual(self.sql("SELECT count(*) FROM users")[0][0], 120)
        indexes = {row[0] for row in self.sql("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'users'")}
        self.assertEqual(indexes, {"users_email__v2"})
        self.assertEqual(self.sql("SELECT count(*) FROM named")[0][0], 120)
        # The view reads the new table: a row written now shows through it.
        self.sql("INSERT INTO users VALUES (500, 'x@y', 'new')")
        self.assertEqual(self.sql("SELECT name FROM named WHERE id = 500"), [("new",)])
        self.assertEqual(self.sql("SELECT count(*) FROM users__v1")[0][0], 120)

    def test_renamed_reordered_added_and_retyped_columns(self):
        self.sql("CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT, price TEXT NOT NULL)")
        self.sql("INSERT INTO items VALUES (1, 'a', '10'), (2, 'b', '20.5'), (3, 'c', '7')")
        self.ddl("CREATE TABLE {name} (price REAL NOT NULL, title TEXT, item_id INTEGER PRIMARY KEY, "
                 "currency TEXT NOT NULL DEFAULT 'EUR')")
        self.run_job("--table", "items", "--dest-ddl", self.path("v2.sql"), "--select",
                     "price, label AS title, id AS item_id", job="items")
        rows = self.sql("SELECT item_id, title, price, typeof(price), currency FROM items ORDER BY item_id")
        self.assertEqual(rows, [(1, "a", 10.0, "real", "EUR"), (2, "b", 20.5, "real", "EUR"),
                                (3, "c", 7.0, "real", "EUR")])

    def test_compound_text_keys_and_huge_gaps(self):
        self.sql("CREATE TABLE prices (sku TEXT NOT NULL, country TEXT NOT NULL, amount INTEGER, "
                 "PRIMARY KEY (sku, country)) WITHOUT ROWID")
        rows = [(f"sku-{i:03}", c, i * 10) for i in range(40) for c in ("DE", "FR", "IN")]
        connection = sqlite3.connect(self.db)
        connection.executemany("INSERT INTO prices VALUES (?, ?, ?)", rows)
        connection.commit()
        connection.close()
        self.run_job("--table", "prices", "--like", "--batch", "11", job="prices")
        self.assertEqual(self.sql("SELECT sku, country, amount FROM prices ORDER BY sku, country"),
                         sorted(rows))
        self.sql("CREATE TABLE sparse (id INTEGER PRIMARY KEY, v TEXT)")
        ids = [-(2**62), -5, 0, 1, 2**40, 2**62]
        self.sql("INSERT INTO sparse VALUES " + ", ".join(f"({i}, 'v{i}')" for i in ids))
        self.run_job("--table", "sparse", "--like", "--batch", "2", job="sparse")
        self.assertEqual([row[0] for row in self.sql("SELECT id FROM sparse ORDER BY id")], ids)

    def test_empty_source(self):
        self.sql("CREATE TABLE empty (id INTEGER PRIMARY KEY, v TEXT)")
        lines = self.run_job("--table", "empty", "--like", job="empty")
        self.assertEqual(lines[0]["rows"], 0)
        self.assertEqual(self.sql("SELECT count(*) FROM empty")[0][0], 0)

    def test_unique_index_the_data_violates_stops_backfill_until_fixed(self):
        self.make_users(rows=30)
        self.sql("UPDATE users SET email = 'dup@example.com' WHERE id IN (7, 19)")
        self.ddl("CREATE TABLE {name} (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT);\n"
                 "CREATE UNIQUE INDEX users_email_v2 ON {name} (email)")
        self.assertStatus(self.reindex("start", "--table", "users", "--dest-ddl", self.path("v2.sql")), 0)
        result = self.reindex("backfill", "--job", "users", "--batch", "5")
        self.assertError(result, 65, '{"id":19}', "UNIQUE constraint failed")
        self.assertEqual(self.status()["checkpoint"], {"id": 15})  # batches before it are kept
        self.sql("UPDATE users SET email = 'other@example.com' WHERE id = 19")
        self.assertStatus(self.reindex("backfill", "--job", "users", "--batch", "5"), 0)
        self.assertStatus(self.reindex("verify", "--job", "users"), 0)
        self.assertStatus(self.reindex("switch", "--job", "users"), 0)
        self.assertEqual(self.sql("SELECT email FROM users WHERE id = 19"), [("other@example.com",)])

    def test_fts5_destination_with_a_new_tokenizer_behind_a_view(self):
        self.sql("CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL)")
        self.sql("INSERT INTO docs VALUES (1, 'Running shoes', 'runners run daily'), "
                 "(2, 'Cooking', 'recipes for pasta'), (3, 'Marathon', 'a long run')")
        self.ddl("CREATE VIRTUAL TABLE {name} USING fts5(title, body, tokenize = 'porter')")
        lines = self.run_job("--table", "docs", "--dest-ddl", self.path("v2.sql"), "--select",
                             "id AS rowid, title, body", "--alias-mode", "view", "--alias",
                             "search", job="docs")
        self.assertEqual(lines[-1]["phase"], "switched")
        # porter stems "running" and "runners" to "run": the new tokenizer is in use.
        rows = self.sql("SELECT rowid, title FROM search WHERE search MATCH 'running' ORDER BY rowid")
        self.assertEqual(rows, [(1, "Running shoes"), (3, "Marathon")])
        self.sql("INSERT INTO docs VALUES (4, 'Trail', 'ran far')")  # old table: no longer synced
        self.sql("INSERT INTO docs__v2 (rowid, title, body) VALUES (5, 'Sprint', 'runs fast')")
        self.assertEqual(self.sql("SELECT rowid FROM search WHERE search MATCH 'run' ORDER BY rowid"),
                         [(1,), (3,), (5,)])
        # No trigger can watch a virtual table: rollback cannot know about row 5 and asks.
        self.assertError(self.reindex("rollback", "--job", "docs"), 65, "virtual", "--force")
        self.assertStatus(self.reindex("rollback", "--job", "docs", "--force"), 0)
        self.assertEqual(self.sql("SELECT count(*) FROM search")[0][0], 4)
        self.assertEqual(self.status("docs")["phase"], "backfilling")

    def test_view_mode_keeps_an_existing_view_and_rollback_restores_it(self):
        self.make_users(rows=10)
        self.sql("CREATE VIEW people AS SELECT id, name FROM users WHERE id > 2")
        self.ddl("CREATE TABLE {name} (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT)")
        self.run_job("--table", "users", "--dest-ddl", self.path("v2.sql"), "--alias-mode", "view",
                     "--alias", "people")
        self.assertEqual(self.sql("SELECT count(*) FROM people")[0][0], 10)
        self.assertStatus(self.reindex("rollback", "--job", "users"), 0)
        self.assertEqual(self.sql("SELECT sql FROM sqlite_schema WHERE name = 'people'"),
                         [("CREATE VIEW people AS SELECT id, name FROM users WHERE id > 2",)])
        self.assertEqual(self.sql("SELECT count(*) FROM people")[0][0], 8)

    def test_stored_sql_from_a_tampered_state_is_refused_not_run(self):
        # A state file from elsewhere must not get verify or rollback to run more than a
        # projection and a view definition (SECURITY.md finding 3).
        self.make_users(rows=10)
        self.sql("CREATE VIEW people AS SELECT id, name FROM users")
        self.ddl("CREATE TABLE {name} (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT)")
        self.run_job("--table", "users", "--dest-ddl", self.path("v2.sql"), "--alias-mode", "view",
                     "--alias", "people")
        for column, text, message in [
                ("select_sql", "id, email, name FROM users; DELETE FROM users --",
                 "a comment or a ';'"),
                ("reverse_select", "id, email, name /* x */", "a comment or a ';'"),
                ("alias_sql", "DELETE FROM users", "not a CREATE VIEW statement"),
                ("alias_sql", "CREATE VIEW people AS SELECT 1; DELETE FROM users",
                 "more than one SQL statement")]:
            original = self.sql(f"SELECT {column} FROM _reindex_jobs")[0][0]
            self.sql(f"UPDATE _reindex_jobs SET {column} = ?", text)
            command = ["rollback", "--force"] if column == "alias_sql" else ["verify"]
            self.assertError(self.reindex(*command, "--job", "users"), 65, message)
            self.assertEqual(self.sql("SELECT count(*) FROM users")[0][0], 10, column)
            self.assertEqual(self.sql("SELECT count(*) FROM people")[0][0], 10, column)
            self.sql(f"UPDATE _reindex_jobs SET {column} = ?", original)
        self.assertStatus(self.reindex("rollback", "--job", "users", "--force"), 0)
        self.assertEqual(self.sql("SELECT sql FROM sqlite_schema WHERE name = 'people'"),
                         [("CREATE VIEW people AS SELECT id, name FROM users",)])

    def test_verify_reports_missing_extra_and_different_rows(self):
        self.make_users(rows=20)
        self.assertStatus(self.reindex("start", "--table", "users", "--like"), 0)
        self.assertStatus(self.reindex("backfill", "--job", "users"), 0)
        # Tamper with the copy behind reindex's back (drop its triggers first).
        self.sql("DROP TRIGGER _reindex_users_insert;\nDROP TRIGGER _reindex_users_update;\n"
                 "DROP TRIGGER _reindex_users_delete;\n"
                 "DELETE FROM users__v2 WHERE id = 3;\n"
                 "UPDATE users__v2 SET name = 'tampered' WHERE id = 5;\n"
                 "INSERT INTO users__v2 VALUES (99, 'ghost@x', 'ghost')")
        result = self.reindex("verify", "--job", "users")
        self.assertError(result, 1, "differs")
        report = json.loads(result.out)
        self.assertEqual(report["ok"], False)
        self.assertEqual((report["expected_rows"], report["rows"]), (20, 20))
        problems = {json.dumps(d["key"]): d["problem"] for d in report["differences"]}
        self.assertEqual(problems, {'{"id": 3}': "missing", '{"id": 5}': "different",
                                    '{"id": 99}': "extra"})
        self.assertError(self.reindex("switch", "--job", "users", "--lock-timeout", "1s")
                         if False else self.reindex("run", "--job", "users"), 1, "differs")
        self.assertEqual(self.status()["phase"], "backfilled")

    def test_verify_counts_a_value_that_differs_only_in_type(self):
        self.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
        self.sql("INSERT INTO t VALUES (1, 5), (2, 'x')")
        self.assertStatus(self.reindex("start", "--table", "t", "--like"), 0)
        self.assertStatus(self.reindex("backfill", "--job", "t"), 0)
        self.sql("DROP TRIGGER _reindex_t_update;\nUPDATE t__v2 SET v = 5.0 WHERE id = 1")
        result = self.reindex("verify", "--job", "t")
        self.assertStatus(result, 1)

    def test_rollback_without_reverse_refuses_to_lose_writes_unless_forced(self):
        self.make_users(rows=10)
        self.run_job("--table", "users", "--like")
        self.assertStatus(self.reindex("rollback", "--job", "users"), 0)  # no writes yet
        self.assertEqual(self.status()["phase"], "backfilled")
        self.assertStatus(self.reindex("switch", "--job", "users"), 0)
        self.sql("UPDATE users SET name = 'after switch' WHERE id = 1")
        self.assertTrue(self.status()["writes_after_switch"])
        self.assertError(self.reindex("rollback", "--job", "users"), 65, "--force")
        self.assertStatus(self.reindex("rollback", "--job", "users", "--force"), 0)
        state = self.status()
        self.assertEqual((state["phase"], state["rows_copied"]), ("backfilling", 0))
        self.assertEqual(self.sql("SELECT name FROM users WHERE id = 1"), [("name 1",)])
        self.assertEqual(self.sql("SELECT count(*) FROM users__v2")[0][0], 0)
        self.run_job()
        self.assertEqual(self.sql("SELECT count(*) FROM users")[0][0], 10)

    def test_reverse_select_keeps_the_old_table_in_step(self):
        self.make_users(rows=10)
        self.ddl("CREATE TABLE {name} (id INTEGER PRIMARY KEY, email TEXT NOT NULL, "
                 "email_norm TEXT NOT NULL, name TEXT)")
        self.run_job("--table", "users", "--dest-ddl", self.path("v2.sql"), "--select",
                     "id, email, lower(email) AS email_norm, name", "--reverse-select",
                     "id, email, name", "--allow-breaking-inserts")  # the app fills email_norm
        self.sql("INSERT INTO users VALUES (11, 'New@X', 'new@x', 'eleven');\n"
                 "DELETE FROM users WHERE id = 2;\nUPDATE users SET id = 20 WHERE id = 3")
        self.assertEqual(self.sql("SELECT id, email FROM users__v1 WHERE id IN (2, 3, 11, 20) ORDER BY id"),
                         [(11, "New@X"), (20, "User3@Example.com")])
        self.assertStatus(self.reindex("verify", "--job", "users"), 0)
        self.assertStatus(self.reindex("rollback", "--job", "users"), 0)
        self.assertEqual(self.sql("SELECT count(*) FROM users")[0][0], 10)
        self.assertEqual(self.sql("PRAGMA table_info(users)")[2][1], "name")

    def test_cleanup_abort_and_status(self):
        self.make_users(rows=5)
        self.assertStatus(self.reindex("start", "--table", "users", "--like"), 0)
        self.assertError(self.reindex("cleanup", "--job", "users"), 65, "backfilling")
        self.assertStatus(self.reindex("abort", "--job", "users"), 0)
        self.assertStatus(self.reindex("abort", "--job", "users"), 0)  # idempotent
        self.assertEqual(self.status()["phase"], "aborted")
        names = {row[0] for row in self.sql("SELECT name FROM sqlite_schema")}
        self.assertNotIn("users__v2", names)
        self.assertFalse(any(name.startswith("_reindex_users") for name in names))
        self.run_job("--table", "users", "--like")
        self.assertError(self.reindex("abort", "--job", "users"), 65, "roll it back first")
        self.assertStatus(self.reindex("cleanup", "--job", "users", "--drop-old"), 0)
        names = {row[0] for row in self.sql("SELECT name FROM sqlite_schema")}
        self.assertNotIn("users__v1", names)
        self.assertFalse(any(name.startswith("_reindex_users") for name in names))
        self.assertEqual(self.status()["phase"], "done")
        listed = self.reindex("status")
        self.assertEqual([json.loads(line)["job"] for line in listed.out.splitlines()], ["users"])

    def test_run_resumes_a_started_job_without_its_ddl(self):
        self.make_users(rows=5)
        self.assertStatus(self.reindex("start", "--table", "users", "--like"), 0)
        self.assertStatus(self.reindex("run", "--table", "users"), 0)
        self.assertEqual(self.status()["phase"], "switched")
        self.assertStatus(self.reindex("run", "--table", "users"), 0)  # nothing left to do
        self.assertEqual(self.status()["phase"], "switched")
        self.assertError(self.reindex("run", "--job", "other", "--table", "users"), 2,
                         "--dest-ddl")

    def test_job_is_found_when_only_one_is_in_progress(self):
        self.make_users(rows=5)
        self.assertStatus(self.reindex("start", "--table", "users", "--like"), 0)
        self.assertStatus(self.reindex("backfill"), 0)
        self.assertEqual(self.status()["phase"], "backfilled")

    def test_rollback_journal_file_is_left_in_its_mode(self):
        self.make_users(rows=5, wal=False)
        self.run_job("--table", "users", "--like")
        self.assertEqual(self.sql("PRAGMA journal_mode"), [("delete",)])


class DryRun(ReindexCase):
    """--dry-run prints the plan of a new job and leaves the file exactly as it was."""

    def files(self):
        directory, contents = os.path.dirname(self.db), {}
        for name in sorted(os.listdir(directory)):
            if name.startswith("app"):
                with open(os.path.join(directory, name), "rb") as handle:
                    contents[name] = handle.read()
        return contents

    def dump(self):
        return (self.sql("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name"),
                self.sql("SELECT * FROM _reindex_jobs ORDER BY job"),
                self.sql("SELECT * FROM users ORDER BY id"))

    # The whole plan, text for text: the new table, the sync triggers (the rows a write touches
    # deleted from the new table, then copied again), 50 rows in batches of 7, the switch.
    USERS_PLAN = {
        "job": "users", "dry_run": True, "table": "users", "mode": "rename", "alias": "users",
        "new_table": "users__v2", "old_table": "users__v1", "key": ["id"],
        "select": '"id", "email", "name"', "reverse_select": None,
        "create": [
            'CREATE TABLE "users__v2" (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT)',
            'CREATE TRIGGER "_reindex_users_insert" AFTER insert ON "users" BEGIN\n'
            'DELETE FROM "users__v2" WHERE "users__v2"."id" = NEW."id";\n'
            'INSERT OR IGNORE INTO "users__v2" ("id", "email", "name") SELECT "id", "email", '
            '"name" FROM "users" WHERE "users"."id" = NEW."id";\n'
            'END',
            'CREATE TRIGGER "_reindex_users_update" AFTER update ON "users" BEGIN\n'
            'DELETE FROM "users__v2" WHERE "users__v2"."id" = OLD."id" AND (NOT (OLD."id" IS '
            'NEW."id"));\n'
            'INSERT OR IGNORE INTO "users__v2" ("id", "email", "name") SELECT "id", "email", '
            '"name" FROM "users" WHERE "users"."id" = OLD."id" AND (NOT (OLD."id" IS NEW."id"));\n'
            'DELETE FROM "users__v2" WHERE "users__v2"."id" = NEW."id";\n'
            'INSERT OR IGNORE INTO "users__v2" ("id", "email", "name") SELECT "id", "email", '
            '"name" FROM "users" WHERE "users"."id" = NEW."id";\n'
            'END',
            'CREATE TRIGGER "_reindex_users_delete" AFTER delete ON "users" BEGIN\n'
            'DELETE FROM "users__v2" WHERE "users__v2"."id" = OLD."id";\n'
            'INSERT OR IGNORE INTO "users__v2" ("id", "email", "name") SELECT "id", "email", '
            '"name" FROM "users" WHERE "users"."id" = OLD."id";\n'
            'END'],
        "rows": 50, "batch": 7, "batches": 8,
        "switch": [
            'DROP TRIGGER "_reindex_users_insert"', 'DROP TRIGGER "_reindex_users_update"',
            'DROP TRIGGER "_reindex_users_delete"', 'ALTER TABLE "users" RENAME TO "users__v1"',
            'ALTER TABLE "users__v2" RENAME TO "users"'] + [
            f'CREATE TRIGGER "_reindex_users_marks_{event}" AFTER {event} ON "users" BEGIN UPDATE '
            "_reindex_jobs SET writes_after_switch = 1 WHERE job = 'users' AND writes_after_switch "
            "= 0; END" for event in ("insert", "update", "delete")],
        "breaking_inserts": []}

    def test_plan_and_the_file_left_byte_for_byte(self):
        for wal in (True, False):
            with self.subTest(wal=wal):
                self.db = self.path(f"app-{'wal' if wal else 'delete'}.db")
                self.make_users(rows=50, wal=wal)
                before = self.files()
                result = self.reindex("run", "--dry-run", "--table", "users", "--like", "--batch", "7")
                self.assertStatus(result, 0)
                self.assertEqual(self.files(), before)  # no -wal, -shm or -journal left either
                plan = json.loads(result.out)
                self.assertEqual(result.out, json.dumps(self.USERS_PLAN, separators=(",", ":")) + "\n")
        # The plan is what start then creates.
        self.assertStatus(self.reindex("start", "--table", "users", "--like"), 0)
        created = self.sql("SELECT sql FROM sqlite_schema WHERE name = 'users__v2' OR name LIKE "
                           "'\\_reindex\\_users\\_%' ESCAPE '\\' ORDER BY rowid")
        self.assertEqual([row[0] for row in created], plan["create"])

    def test_bookkeeping_of_a_newer_version_is_refused_and_left_as_it_was(self):
        self.make_users(rows=5)
        self.sql("CREATE TABLE _reindex_meta (component TEXT PRIMARY KEY, version INTEGER NOT NULL);\n"
                 "INSERT INTO _reindex_meta VALUES ('reindex', 2)")
        before = self.files()
        self.assertError(self.reindex("start", "--dry-run", "--table", "users", "--like"), 65,
                         "was written by a newer version of sluice (reindex schema version 2, "
                         "this program knows up to 1)")
        self.assertEqual(self.files(), before)

    def test_a_file_with_jobs_keeps_its_tables_and_refusals_change_nothing(self):
        self.make_users(rows=5)
        self.assertStatus(self.reindex("run", "--table", "users", "--like"), 0)
        self.assertStatus(self.reindex("cleanup", "--job", "users", "--drop-old"), 0)
        before = self.dump()
        result = self.reindex("start", "--dry-run", "--table", "users", "--like")
        self.assertStatus(result, 0)
        self.assertEqual(json.loads(result.out)["rows"], 5)
        self.assertEqual(self.dump(), before)
        self.assertError(self.reindex("start", "--dry-run", "--table", "nope", "--like"), 65,
                         "no table 'nope'")
        self.assertStatus(self.reindex("start", "--table", "users", "--like"), 0)
        before = self.dump()
        self.assertError(self.reindex("start", "--dry-run", "--table", "users", "--like"), 65,
                         "job 'users' exists and is backfilling")
        self.assertError(self.reindex("run", "--dry-run", "--table", "users", "--like", "--job",
                                      "other"), 65, "already has a reindex job running")
        self.assertEqual(self.dump(), before)


class ColumnOperations(ReindexCase):
    """--type, --rename, --drop, --not-null and --default make the new table from the old."""

    def make_items(self):
        self.sql("CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT NOT NULL UNIQUE, price TEXT, "
                 "qty INTEGER DEFAULT 1, note TEXT)")
        self.sql("CREATE INDEX items_price ON items (price DESC, sku)")
        self.sql("INSERT INTO items VALUES (1, 'a', '10', 2, 'x'), (2, 'b', '2.5', 1, NULL)")

    def schema(self, table):
        return [row[0] for row in self.sql(
            "SELECT sql FROM sqlite_schema WHERE tbl_name = ? AND type IN ('table', 'index') AND "
            "sql IS NOT NULL ORDER BY type DESC, name", table)]

    def test_the_new_table_is_the_old_one_changed(self):
        self.make_items()
        result = self.reindex("run", "--table", "items", "--type", "price=REAL", "--rename",
                              "note=comment", "--drop", "qty", "--not-null", "price", "--default",
                              "price=0", "--default", "note=it's")
        self.assertStatus(result, 0)
        self.assertEqual(self.schema("items"), [
            'CREATE TABLE "items" ("id" INTEGER PRIMARY KEY, "sku" TEXT NOT NULL, "price" REAL NOT '
            "NULL DEFAULT 0, \"comment\" TEXT DEFAULT 'it''s', UNIQUE (\"sku\"))",
            'CREATE INDEX "items_price__v2" ON "items" ("price" DESC, "sku")'])
        self.assertEqual(self.sql("SELECT id, sku, price, typeof(price), comment FROM items ORDER BY id"),
                         [(1, "a", 10.0, "real", "x"), (2, "b", 2.5, "real", None)])
        self.sql("INSERT INTO items (sku) VALUES ('c')")  # the defaults at work
        self.assertEqual(self.sql("SELECT price, comment FROM items WHERE sku = 'c'"), [(0.0, "it's")])

    def test_compound_key_strict_without_rowid_and_a_renamed_key_column(self):
        self.sql("CREATE TABLE prices (sku TEXT NOT NULL, country TEXT NOT NULL, amount INTEGER, "
                 "PRIMARY KEY (country, sku)) STRICT, WITHOUT ROWID")
        self.sql("INSERT INTO prices VALUES ('a', 'DE', 10), ('b', 'FR', 20)")
        result = self.reindex("start", "--dry-run", "--table", "prices", "--rename",
                              "country=region", "--rename", "amount=cents", "--type", "amount=TEXT")
        self.assertStatus(result, 0)
        plan = json.loads(result.out)
        self.assertEqual(plan["create"][0],
                         'CREATE TABLE "prices__v2" ("sku" TEXT NOT NULL, "region" TEXT NOT NULL, '
                         '"cents" TEXT, PRIMARY KEY ("region", "sku")) WITHOUT ROWID, STRICT')
        self.assertEqual(plan["select"], '"sku", "country" AS "region", "amount" AS "cents"')
        self.assertEqual(plan["breaking_inserts"], ["region"])  # NOT NULL, new, no default
        self.assertStatus(self.reindex("run", "--table", "prices", "--rename", "country=region",
                                       "--rename", "amount=cents", "--type", "amount=TEXT",
                                       "--allow-breaking-inserts"), 0)
        self.assertEqual(self.sql("SELECT region, sku, cents, typeof(cents) FROM prices ORDER BY region"),
                         [("DE", "a", "10", "text"), ("FR", "b", "20", "text")])

    def test_an_unknown_column_is_65_naming_it_and_creates_nothing(self):
        self.make_items()
        for option, value in (("--type", "nope=TEXT"), ("--rename", "nope=x"), ("--drop", "nope"),
                              ("--not-null", "nope"), ("--default", "nope=1")):
            for dry_run in ((), ("--dry-run",)):
                result = self.reindex("start", *dry_run, "--table", "items", option, value)
                self.assertError(result, 65, f"{option}: table 'items' has no column 'nope'")
        names = {row[0] for row in self.sql("SELECT name FROM sqlite_schema")}
        self.assertFalse(any(name.startswith(("items__", "_reindex_items")) for name in names), names)

    def test_what_the_operations_cannot_do(self):
        self.make_items()
        for args, status, message in [
                (("--type", "price"), 2, "--type: 'price' is not COLUMN=VALUE"),
                (("--type", "price=TEXT); DROP TABLE items"), 2, "is not a type name"),
                (("--like", "--drop", "qty"), 2, "give one of"),
                (("--select", "id, sku", "--drop", "qty"), 2, "--select cannot be combined"),
                (("--drop", "id"), 65, "column 'id' is in the primary key"),
                (("--drop", "price"), 65, "column 'price' is used by index 'items_price'"),
                (("--rename", "note=sku"), 65, "two columns named 'sku'")]:
            self.assertError(self.reindex("start", "--table", "items", *args), status, message)
        self.sql("CREATE TABLE checked (id INTEGER PRIMARY KEY, n INTEGER CHECK (n > 0))")
        self.assertError(self.reindex("start", "--table", "checked", "--drop", "n"), 65,
                         "CHECK", "--dest-ddl")


class InsertCheck(ReindexCase):
    """The switch refuses a new table the application's INSERTs (naming the old table's columns)
    would fail on: a NOT NULL column without a default that the old table lacks."""

    NEW = ("CREATE TABLE {name} (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT, "
           "source TEXT NOT NULL{default})")
    SELECT = "id, email, name, 'import' AS source"

    def test_switch_refuses_unless_allowed_and_the_insert_it_protects_would_fail(self):
        self.make_users(rows=5)
        self.ddl(self.NEW.format(name="{name}", default=""))
        start = ("--table", "users", "--dest-ddl", self.path("v2.sql"), "--select", self.SELECT)
        message = ("column 'source' is NOT NULL without a default", "--allow-breaking-inserts")
        # run refuses before it creates anything (not after a long copy).
        self.assertError(self.reindex("run", *start), 65, *message)
        self.assertEqual(self.sql("SELECT name FROM sqlite_schema WHERE name LIKE 'users%'"),
                         [("users",)])
        # start alone warns; run resuming the job refuses before copying; switch refuses.
        result = self.reindex("start", *start)
        self.assertStatus(result, 0)
        self.assertIn("note: job 'users': the application's INSERTs into 'users' will fail after "
                      "the switch unless they fill source", result.err)
        self.assertError(self.reindex("run", "--table", "users"), 65, *message)
        self.assertEqual((self.status()["phase"], self.status()["rows_copied"]), ("backfilling", 0))
        self.assertStatus(self.reindex("backfill", "--job", "users"), 0)
        self.assertError(self.reindex("switch", "--job", "users"), 65, *message)
        self.assertEqual(self.status()["phase"], "backfilled")
        self.sql("INSERT INTO users (email, name) VALUES ('app@x', 'still works')")
        # What the check prevents: once switched, the application's INSERT fails.
        self.assertStatus(self.reindex("switch", "--job", "users", "--allow-breaking-inserts"), 0)
        with self.assertRaisesRegex(sqlite3.IntegrityError, "NOT NULL constraint failed: users.source"):
            self.sql("INSERT INTO users (email, name) VALUES ('app@x', 'broken')")

    def test_a_default_makes_the_switch_safe(self):
        self.make_users(rows=5)
        self.ddl(self.NEW.format(name="{name}", default=" DEFAULT 'app'"))
        self.assertStatus(self.reindex("run", "--table", "users", "--dest-ddl", self.path("v2.sql"),
                                       "--select", self.SELECT), 0)
        self.sql("INSERT INTO users (email, name) VALUES ('app@x', 'new')")
        self.assertEqual(self.sql("SELECT source FROM users WHERE email = 'app@x'"), [("app",)])


class Throttling(ReindexCase):
    def test_max_runtime_ends_with_75_and_backfill_goes_on_later(self):
        self.make_users(rows=200)
        self.assertStatus(self.reindex("start", "--table", "users", "--like"), 0)
        self.write("pause", "")
        result = self.reindex("backfill", "--job", "users", "--pause-file", self.path("pause"),
                              "--max-runtime", "300ms")
        self.assertStatus(result, 75)
        self.assertIn("--max-runtime", result.err)
        self.assertEqual(self.status()["rows_copied"], 0)
        os.remove(self.path("pause"))
        result = self.reindex("backfill", "--job", "users", "--batch", "50", "--report")
        self.assertStatus(result, 0)
        last = json.loads(result.out.splitlines()[-1])
        self.assertEqual((last["phase"], last["rows_scanned"], last["rows_total"], last["rows_copied"],
                          last["batch"]), ("backfilled", 200, 200, 200, 50))

    def test_chunk_time_resizes_batches_within_bounds(self):
        # The sizes themselves are checked with given durations in tests/unit/batch_size_test.cpp (BatchSizer).
        self.make_users(rows=300)
        self.assertStatus(self.reindex("start", "--table", "users", "--like"), 0)
        result = self.reindex("backfill", "--job", "users", "--batch", "1", "--chunk-time", "1s",
                              "--report")
        self.assertStatus(result, 0)
        lines = [json.loads(line) for line in result.out.splitlines()]
        self.assertEqual((lines[-1]["rows_scanned"], lines[-1]["rows_copied"]), (300, 300))
        self.assertTrue(all(10 <= line["batch"] <= 100000 for line in lines), lines)
        self.assertError(self.reindex("backfill", "--job", "users", "--chunk-time", "5"), 2,
                         "--chunk-time")

    def test_switch_waits_for_the_lock_then_exits_75(self):
        self.make_users(rows=5)
        self.assertStatus(self.reindex("start", "--table", "users", "--like"), 0)
        self.assertStatus(self.reindex("backfill", "--job", "users"), 0)
        holder = self.start_tool(tool=None) if False else subprocess.Popen(
            [sys.executable, "-c",
             "import sqlite3, sys, time\n"
             f"c = sqlite3.connect({self.db!r}, isolation_level=None)\n"
             "c.execute('BEGIN IMMEDIATE')\n"
             "open(sys.argv[1], 'w').close()\n"
             "time.sleep(30)\n", self.path("locked")])
        self.children.append(holder)
        self.wait_for_file("locked")
        began = time.monotonic()
        result = self.reindex("switch", "--job", "users", "--lock-timeout", "300ms")
        self.assertError(result, 75, "busy")
        self.assertLess(time.monotonic() - began, 10)
        holder.kill()
        holder.wait()
        self.assertEqual(self.status()["phase"], "backfilled")
        self.assertStatus(self.reindex("switch", "--job", "users"), 0)


if __name__ == "__main__":
    unittest.main()
