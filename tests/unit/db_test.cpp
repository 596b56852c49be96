#include "sluice/db.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sluice/error.hpp"
#include "test_support.hpp"

namespace sluice::db {
namespace {

using sluice::testing::TempDir;

constexpr std::array<std::string_view, 2> sqlite_demo_steps{
    "CREATE TABLE demo_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT",
    "ALTER TABLE demo_items ADD COLUMN note TEXT"};

TEST(PostgresqlDdl, TranslatesTableOptionsAndTypesOnly) {
  EXPECT_EQ(
      postgresql_ddl("CREATE TABLE t (\n  a INTEGER NOT NULL,\n  b BLOB,\n  c TEXT\n) STRICT;\n"
                     "CREATE TABLE u (k TEXT PRIMARY KEY) STRICT, WITHOUT ROWID;\n"
                     "CREATE TABLE v (k TEXT PRIMARY KEY) WITHOUT ROWID;"),
      "CREATE TABLE t (\n  a BIGINT NOT NULL,\n  b BYTEA,\n  c TEXT\n);\n"
      "CREATE TABLE u (k TEXT PRIMARY KEY);\n"
      "CREATE TABLE v (k TEXT PRIMARY KEY);");
  // Whole words only, and never inside quotes or comments.
  EXPECT_EQ(postgresql_ddl("-- INTEGER counts\nALTER TABLE t ADD COLUMN integers INTEGER "
                           "DEFAULT 'BLOB' CHECK (\"INTEGER\" > 0);"),
            "-- INTEGER counts\nALTER TABLE t ADD COLUMN integers BIGINT "
            "DEFAULT 'BLOB' CHECK (\"INTEGER\" > 0);");
}

TEST(Database, CreatesFileWithMode0600AndWal) {
  TempDir dir;
  Database database(dir.file("s.db"), {});
  struct stat info {};
  ASSERT_EQ(::stat(dir.file("s.db").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  auto query = database.query("PRAGMA journal_mode");
  ASSERT_TRUE(query.step());
  EXPECT_EQ(query->text(0), "wal");
}

TEST(Database, WithoutCheckpointOnCloseTheWalStaysAndItsRowsAreRead) {
  TempDir dir;
  OpenOptions keep;
  keep.checkpoint_on_close = false;
  {
    Database database(dir.file("s.db"), keep);
    const std::array<std::string_view, 1> table_steps{"CREATE TABLE t (v INTEGER)"};
    migrate(database, "t", table_steps);
    database.execute("INSERT INTO t VALUES (?1)", 7);
  }
  struct stat info {};
  ASSERT_EQ(::stat(dir.file("s.db-wal").c_str(), &info), 0);
  EXPECT_GT(info.st_size, 0);
  {
    Database database(dir.file("s.db"), {});  // the default: checkpoint and delete it on close
    auto rows = database.query("SELECT v FROM t");
    ASSERT_TRUE(rows.step());
    EXPECT_EQ(rows->integer(0), 7);
  }
  EXPECT_NE(::stat(dir.file("s.db-wal").c_str(), &info), 0);
}

TEST(Database, AnEmptyPlaceholderBecomes0600AndAFileOthersMayWriteIsWarnedAbout) {
  TempDir dir;
  std::string placeholder = dir.file("touched.db");
  ::close(::open(placeholder.c_str(), O_CREAT | O_WRONLY, 0644));
  ::chmod(placeholder.c_str(), 0666);
  ::testing::internal::CaptureStderr();
  { Database database(placeholder, {}); }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  struct stat info {};
  ASSERT_EQ(::stat(placeholder.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  ::chmod(placeholder.c_str(), 0664);
  ::testing::internal::CaptureStderr();
  { Database database(placeholder, {}); }
  EXPECT_NE(::testing::internal::GetCapturedStderr().find(
                "warning: state file '" + placeholder +
                "' may be written by others (mode 0664): chmod 600 it"),
            std::string::npos);
  ::chmod(placeholder.c_str(), 0644);
  ::testing::internal::CaptureStderr();
  { Database database(placeholder, {}); }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(Database, ASymlinkToAStateFileTakesTheSameWriterLock) {
  TempDir dir;
  OpenOptions options;
  options.serialize_writers = true;
  Database real(dir.file("real.db"), options);
  ASSERT_EQ(::symlink(dir.file("real.db").c_str(), dir.file("link.db").c_str()), 0);
  Database linked(dir.file("link.db"), options);
  { WriteTransaction transaction(linked); }
  struct stat info {};
  EXPECT_EQ(::stat(dir.file("real.db.lock").c_str(), &info), 0);
  EXPECT_NE(::lstat(dir.file("link.db.lock").c_str(), &info), 0);
}

TEST(Database, AppliesSynchronousAndForeignKeys) {
  TempDir dir;
  Database database(dir.file("s.db"), {.synchronous = Synchronous::full});
  {
    auto query = database.query("PRAGMA synchronous");
    ASSERT_TRUE(query.step());
    EXPECT_EQ(query->integer(0), 2);  // FULL
  }
  auto query = database.query("PRAGMA foreign_keys");
  ASSERT_TRUE(query.step());
  EXPECT_EQ(query->integer(0), 1);
}

TEST(Database, MustExistMissingFileIs66) {
  TempDir dir;
  EXPECT_EQ(testing::exit_status_of(
                [&] { Database database(dir.file("none.db"), {.must_exist = true}); }),
            exit_code::no_input);
}

TEST(Database, UncreatableFileIs73) {
  EXPECT_EQ(testing::exit_status_of([] { Database database("/nonexistent-dir/x/s.db", {}); }),
            exit_code::cannot_create);
}

TEST(Database, BindsTextBlobNullAndEmptyStrings) {
  TempDir dir;
  Database database(dir.file("s.db"), {});
  database.execute_script("CREATE TABLE t (a TEXT, b BLOB, c INTEGER)");
  auto& insert = database.statement("INSERT INTO t VALUES (?1, ?2, ?3)");
  {
    Query use(insert);
    insert.bind(1, std::string_view());
    insert.bind_blob(2, std::string_view("\0\1", 2));
    insert.bind(3, std::nullopt);
    while (use.step()) {
    }
  }
  auto query = database.query("SELECT a IS NULL, a, length(b), typeof(b), c IS NULL FROM t");
  ASSERT_TRUE(query.step());
  EXPECT_EQ(query->integer(0), 0);  // an empty string is '' and not NULL
  EXPECT_EQ(query->integer(2), 2);
  EXPECT_EQ(query->text(3), "blob");
  EXPECT_EQ(query->integer(4), 1);
}

TEST(WriteTransaction, RollsBackUnlessCommitted) {
  TempDir dir;
  Database database(dir.file("s.db"), {.serialize_writers = true});
  database.execute_script("CREATE TABLE t (v INTEGER)");
  {
    WriteTransaction transaction(database);
    database.execute("INSERT INTO t VALUES (1)");
  }
  {
    WriteTransaction transaction(database);
    database.execute("INSERT INTO t VALUES (2)");
    transaction.commit();
  }
  auto query = database.query("SELECT group_concat(v) FROM t");
  ASSERT_TRUE(query.step());
  EXPECT_EQ(query->text(0), "2");
}

TEST(WriteTransaction, BusyWriterIs75AfterTheTimeout) {
  TempDir dir;
  OpenOptions options{.busy_timeout = std::chrono::milliseconds(100), .serialize_writers = true};
  Database first(dir.file("s.db"), options);
  Database second(dir.file("s.db"), options);
  WriteTransaction holding(first);
  EXPECT_EQ(testing::exit_status_of([&] { WriteTransaction waiting(second); }),
            exit_code::temporary);
}

TEST(WriteTransaction, BusyWithoutFlockIsAlso75) {
  TempDir dir;
  OpenOptions options{.busy_timeout = std::chrono::milliseconds(100)};
  Database first(dir.file("s.db"), options);
  Database second(dir.file("s.db"), options);
  WriteTransaction holding(first);
  EXPECT_EQ(testing::exit_status_of([&] { WriteTransaction waiting(second); }),
            exit_code::temporary);
}

TEST(Migrate, AppliesStepsOnceAndRecordsTheVersion) {
  TempDir dir;
  Database database(dir.file("s.db"), {});
  migrate(database, "demo", sqlite_demo_steps);
  migrate(database, "demo", sqlite_demo_steps);  // idempotent
  EXPECT_EQ(schema_version(database, "demo"), 2);
  database.execute("INSERT INTO demo_items (name, note) VALUES ('a', 'b')");
}

TEST(Migrate, UpgradesAnOlderFile) {
  TempDir dir;
  {
    Database database(dir.file("s.db"), {});
    migrate(database, "demo", std::span(sqlite_demo_steps).first(1));
    EXPECT_EQ(schema_version(database, "demo"), 1);
  }
  Database database(dir.file("s.db"), {});
  migrate(database, "demo", sqlite_demo_steps);
  EXPECT_EQ(schema_version(database, "demo"), 2);
}

TEST(Migrate, RefusesAFileFromANewerVersion) {
  TempDir dir;
  {
    Database database(dir.file("s.db"), {});
    migrate(database, "demo", sqlite_demo_steps);
  }
  Database database(dir.file("s.db"), {});
  EXPECT_EQ(testing::exit_status_of(
                [&] { migrate(database, "demo", std::span(sqlite_demo_steps).first(1)); }),
            exit_code::data);
}

TEST(Database, RefusesAForeignSqliteFileUnlessAllowed) {
  TempDir dir;
  {
    Database database(dir.file("app.db"), {.foreign_file = true});
    database.execute_script("CREATE TABLE customers (id INTEGER PRIMARY KEY)");
  }
  EXPECT_EQ(testing::exit_status_of([&] { Database database(dir.file("app.db"), {}); }),
            exit_code::data);
  Database allowed(dir.file("app.db"), {.foreign_file = true});
  auto query = allowed.query("SELECT count(*) FROM customers");
  EXPECT_TRUE(query.step());
}

TEST(Database, RefusesAFileThatIsNotSqlite) {
  TempDir dir;
  {
    FILE* file = std::fopen(dir.file("text.db").c_str(), "w");
    std::fputs("this is not a database, just some text that is long enough to have a header", file);
    std::fclose(file);
  }
  EXPECT_EQ(testing::exit_status_of([&] {
              Database database(dir.file("text.db"), {});
              migrate(database, "demo", sqlite_demo_steps);
            }),
            exit_code::data);
}

TEST(Database, ForeignFileKeepsItsJournalModeAndHeader) {
  TempDir dir;
  Database database(dir.file("app.db"), {.foreign_file = true});
  database.execute_script("CREATE TABLE customers (id INTEGER PRIMARY KEY)");
  constexpr std::array<std::string_view, 1> schema{"CREATE TABLE _tool_jobs (id INTEGER) STRICT"};
  migrate(database, "tool", schema, "_tool_meta");
  EXPECT_EQ(schema_version(database, "tool", "_tool_meta"), 1);
  EXPECT_EQ(schema_version(database, "tool"), 0);  // nothing written to sluice_meta
  auto mode = database.query("PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode->text(0), "delete");
  auto application = database.query("PRAGMA application_id");
  ASSERT_TRUE(application.step());
  EXPECT_EQ(application->integer(0), 0);
}

TEST(Database, AHostileSchemaCannotBeWrittenOrRunFunctionsWithSideEffects) {
  TempDir dir;
  Database database(dir.file("app.db"), {.foreign_file = true});
  auto trusted = database.query("PRAGMA trusted_schema");
  ASSERT_TRUE(trusted.step());
  EXPECT_EQ(trusted->integer(0), 0);
  // Defensive mode: writable_schema is ignored, so the schema table stays read-only.
  database.execute_script("CREATE TABLE t (x)");
  EXPECT_THROW(
      database.execute_script("PRAGMA writable_schema=ON; UPDATE sqlite_master SET sql = sql"),
      Error);
  // sluice_checksum is innocuous, so a view may use it even with trusted_schema off.
  database.add_checksum_function();
  database.execute_script("CREATE VIEW v AS SELECT sluice_checksum(x) AS c FROM t");
  auto view = database.query("SELECT c FROM v");
  EXPECT_TRUE(view.step());
}

TEST(Database, AViolatedConstraintIsAConstraintViolation) {
  TempDir dir;
  Database database(dir.file("u.db"), {});
  database.execute_script("CREATE TABLE t (x INTEGER UNIQUE); INSERT INTO t VALUES (1)");
  try {
    database.execute("INSERT INTO t VALUES (1)");
    FAIL() << "no exception";
  } catch (const ConstraintViolation& violation) {
    EXPECT_EQ(violation.code(), exit_code::data);
    EXPECT_STREQ(violation.what(), "UNIQUE constraint failed: t.x");
  }
}

TEST(Database, AStatementIsOneStatement) {
  TempDir dir;
  Database database(dir.file("u.db"), {});
  database.execute_script("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)");
  try {
    database.execute("INSERT INTO t VALUES (2); DELETE FROM t");
    FAIL() << "no exception";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), exit_code::data);
    EXPECT_STREQ(error.what(),
                 "'INSERT INTO t VALUES (2); DELETE FROM t' is more than one SQL statement");
  }
  EXPECT_EQ(database.execute("INSERT INTO t VALUES (3); -- a note\n  "), 1);
  EXPECT_EQ(database.execute("INSERT INTO t VALUES (4);;"), 1);
  auto count = database.query("SELECT count(*), sum(x) FROM t");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count->integer(0), 3);
  EXPECT_EQ(count->integer(1), 8);
}

TEST(Database, ACreatingScriptSqliteCannotRunIsBadInputShownOnOneLine) {
  TempDir dir;
  Database database(dir.file("app.db"), {.foreign_file = true});
  try {
    database.execute_creating_script("CREATE TABLE t (\n  id INTEGER PRIMARY KEY,\n  x TEXT\n");
    ADD_FAILURE() << "no exception";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), exit_code::data);
    EXPECT_EQ(std::string(error.what()),
              "incomplete input (in: CREATE TABLE t ( id INTEGER PRIMARY KEY, x TEXT)");
  }
}

TEST(Database, MessagesCallAForeignFileADatabaseAndOurOwnAStateFile) {
  TempDir dir;
  auto message = [&](const OpenOptions& options) {
    try {
      Database database(dir.file("missing.db"), options);
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), exit_code::no_input);
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message({.must_exist = true, .foreign_file = true}),
            fmt::format("database '{}' does not exist", dir.file("missing.db")));
  EXPECT_EQ(message({.must_exist = true}),
            fmt::format("state file '{}' does not exist", dir.file("missing.db")));
}

TEST(Database, ACreatingScriptMayCreateTablesAndIndexesOnly) {
  TempDir dir;
  Database database(dir.file("u.db"), {});
  database.execute_script("CREATE TABLE kept (x INTEGER); INSERT INTO kept VALUES (1)");
  database.execute_creating_script(
      "CREATE TABLE made (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT);"
      "CREATE INDEX made_body ON made (body);"
      "CREATE VIRTUAL TABLE search USING fts5(body, tokenize = 'porter');"
      "CREATE TABLE copied AS SELECT x FROM kept");
  EXPECT_EQ(database.execute("INSERT INTO search (body) VALUES ('runners')"), 1);
  const std::pair<std::string_view, std::string_view> refused[] = {
      {"DELETE FROM kept", "a write to table 'kept'"},
      {"CREATE TABLE t (x); INSERT INTO kept VALUES (2)", "a write to table 'kept'"},
      {"PRAGMA writable_schema = 1", "PRAGMA writable_schema"},
      {"ATTACH 'other.db' AS other", "a statement other than CREATE TABLE or CREATE INDEX"},
      {"CREATE TRIGGER t AFTER INSERT ON kept BEGIN SELECT 1; END",
       "a statement other than CREATE TABLE or CREATE INDEX"},
      {"CREATE VIEW v AS SELECT 1", "a statement other than CREATE TABLE or CREATE INDEX"},
      {"DROP TABLE kept", "a statement other than CREATE TABLE or CREATE INDEX"}};
  for (const auto& [script, message] : refused) {
    try {
      database.execute_creating_script(script);
      ADD_FAILURE() << script << ": no exception";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), exit_code::data) << script;
      EXPECT_NE(std::string_view(error.what()).find(message), std::string_view::npos)
          << script << ": " << error.what();
    }
  }
  auto kept = database.query("SELECT count(*) FROM kept");
  ASSERT_TRUE(kept.step());
  EXPECT_EQ(kept->integer(0), 1);
}

TEST(Database, QuotesIdentifiersWithEmbeddedQuotes) {
  EXPECT_EQ(quote_identifier("plain"), "\"plain\"");
  EXPECT_EQ(quote_identifier("a\"b"), "\"a\"\"b\"");
  TempDir dir;
  Database database(dir.file("q.db"), {});
  database.execute_script("CREATE TABLE " + quote_identifier("we\"ird table") + " (x)");
  auto query = database.query("SELECT count(*) FROM " + quote_identifier("we\"ird table"));
  EXPECT_TRUE(query.step());
}

TEST(Statement, ValuesRoundTripInEveryStorageClass) {
  TempDir dir;
  Database database(dir.file("v.db"), {});
  database.execute_script("CREATE TABLE t (position INTEGER PRIMARY KEY, value ANY) STRICT");
  std::vector<Value> values{std::monostate{}, std::int64_t{-7}, 2.5, std::string("text"),
                            Blob{std::string("\0\1", 2)}};
  for (std::size_t index = 0; index < values.size(); ++index) {
    database.execute("INSERT INTO t VALUES (?1, ?2)", static_cast<std::int64_t>(index),
                     values[index]);
  }
  auto query = database.query("SELECT value, typeof(value) FROM t ORDER BY position");
  std::vector<std::string> types;
  for (std::size_t index = 0; index < values.size(); ++index) {
    ASSERT_TRUE(query.step());
    EXPECT_EQ(query->value(0), values[index]) << index;
    types.push_back(query->text(1));
  }
  EXPECT_EQ(types, (std::vector<std::string>{"null", "integer", "real", "text", "blob"}));
}

TEST(Database, DescribesWhatASelectReadsAndCalls) {
  TempDir dir;
  Database database(dir.file("d.db"), {.foreign_file = true});
  database.execute_script("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT); CREATE TABLE u (x)");
  auto shape = database.describe_select("SELECT id AS key, lower(k) AS k_norm, k FROM t");
  ASSERT_EQ(shape.columns.size(), 3U);
  EXPECT_EQ(shape.columns[0].name, "key");
  EXPECT_EQ(shape.columns[0].origin_table, "t");
  EXPECT_EQ(shape.columns[0].origin_column, "id");
  EXPECT_EQ(shape.columns[1].origin_column, "");
  EXPECT_EQ(shape.columns[2].origin_column, "k");
  EXPECT_EQ(shape.tables_read, (std::set<std::string>{"t"}));
  EXPECT_EQ(shape.functions, (std::set<std::string>{"lower"}));
  EXPECT_EQ(shape.selects, 1);
  auto nested = database.describe_select("SELECT id, (SELECT count(*) FROM u) FROM t");
  EXPECT_EQ(nested.tables_read, (std::set<std::string>{"t", "u"}));
  EXPECT_EQ(nested.selects, 2);
  EXPECT_EQ(testing::exit_status_of([&] { database.describe_select("SELECT nope FROM t"); }),
            exit_code::data);
  EXPECT_EQ(testing::exit_status_of([&] { database.describe_select("DELETE FROM t"); }),
            exit_code::data);
  EXPECT_EQ(testing::exit_status_of([&] { database.describe_select("SELECT 1; SELECT 2"); }),
            exit_code::data);
}

TEST(Database, KnowsWhichFunctionsAreDeterministicScalars) {
  TempDir dir;
  Database database(dir.file("f.db"), {});
  EXPECT_TRUE(database.is_deterministic_scalar("lower"));
  EXPECT_TRUE(database.is_deterministic_scalar("ABS"));
  EXPECT_FALSE(database.is_deterministic_scalar("random"));
  EXPECT_FALSE(database.is_deterministic_scalar("changes"));
  EXPECT_FALSE(database.is_deterministic_scalar("count"));  // aggregate
  EXPECT_FALSE(database.is_deterministic_scalar("no_such_function"));
}

TEST(Database, ChecksumIgnoresRowOrderButNotValuesOrTypes) {
  TempDir dir;
  Database database(dir.file("c.db"), {});
  database.add_checksum_function();
  database.execute_script(
      "CREATE TABLE a (x, y); CREATE TABLE b (x, y);"
      "INSERT INTO a VALUES (1, 'p'), (2, 'q'), (3, NULL);"
      "INSERT INTO b VALUES (3, NULL), (1, 'p'), (2, 'q');");
  auto checksum = [&](const std::string& sql) {
    auto query = database.query(sql);
    EXPECT_TRUE(query.step());
    return query->integer(0);
  };
  std::int64_t of_a = checksum("SELECT sluice_checksum(x, y) FROM a");
  EXPECT_NE(of_a, 0);
  EXPECT_EQ(of_a, checksum("SELECT sluice_checksum(x, y) FROM b"));
  EXPECT_EQ(checksum("SELECT sluice_checksum(x, y) FROM a WHERE 0"), 0);
  database.execute_script("UPDATE b SET x = 1.0 WHERE x = 1");  // same number, other type
  EXPECT_NE(of_a, checksum("SELECT sluice_checksum(x, y) FROM b"));
  EXPECT_NE(checksum("SELECT sluice_checksum('ab', 'c')"),
            checksum("SELECT sluice_checksum('a', 'bc')"));
}

// A process opening a new file while another has just switched it to WAL and writes to it
// got SQLITE_BUSY at once from PRAGMA journal_mode=WAL (no busy handler): seen as exit 75
// from two backoff processes sharing a new budget file.
TEST(Database, OpensANewFileWhileAnotherConnectionWritesToIt) {
  for (int round = 0; round < 20; ++round) {
    TempDir dir;
    std::string path = dir.file("shared.db");
    std::atomic<bool> go{false};
    std::atomic<int> failures{0};
    auto writer = [&](int transactions) {
      while (!go) {
      }
      try {
        Database database(path, OpenOptions{.serialize_writers = true});
        constexpr std::array<std::string_view, 1> schema{"CREATE TABLE t (x INTEGER) STRICT"};
        migrate(database, "test", schema);
        for (int i = 0; i < transactions; ++i) {
          WriteTransaction transaction(database);
          database.execute("INSERT INTO t VALUES (?1)", i);
          transaction.commit();
        }
      } catch (const Error& error) {
        ++failures;
        ADD_FAILURE() << error.what();
      }
    };
    std::thread busy(writer, 200), late(writer, 1);
    go = true;
    busy.join();
    late.join();
    ASSERT_EQ(failures, 0) << "round " << round;
  }
}

TEST(PostgresqlArray, QuotesEveryValueAndEscapesQuotesAndBackslashes) {
  const std::vector<std::string> values{"a", "b\"c", "d\\e", ""};
  EXPECT_EQ(postgresql_array(values), R"({"a","b\"c","d\\e",""})");
  EXPECT_EQ(postgresql_array({}), "{}");
}

}  // namespace
}  // namespace sluice::db
