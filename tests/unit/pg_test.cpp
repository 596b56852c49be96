// db::Database on its PostgreSQL backend, and the pg module, against the throw-away server
// scripts/test starts (SLUICE_TEST_PG_URL). Each test works in a schema of its own.
#include "sluice/pg.hpp"

#include <array>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sluice/db.hpp"
#include "sluice/error.hpp"
#include "test_support.hpp"

namespace sluice::db {
namespace {

using sluice::testing::exit_status_of;
using sluice::testing::fresh_pg_schema;

constexpr std::array<std::string_view, 2> pg_demo_steps{
    "CREATE TABLE demo_items (id BIGINT PRIMARY KEY, name TEXT NOT NULL, data BYTEA, x DOUBLE "
    "PRECISION)",
    "ALTER TABLE demo_items ADD COLUMN note TEXT"};

// The URL of a fresh schema, or skips the test when no server was started.
#define SLUICE_PG_URL(url)                                                                  \
  std::optional<std::string> url##_found = fresh_pg_schema();                               \
  if (!url##_found) GTEST_SKIP() << "SLUICE_TEST_PG_URL is not set (scripts/test sets it)"; \
  const std::string url = *url##_found

TEST(PgUrl, IsUrlTellsServersFromFiles) {
  EXPECT_TRUE(pg::is_url("postgresql:///db?host=/tmp"));
  EXPECT_TRUE(pg::is_url("postgres://u@h/db"));
  EXPECT_FALSE(pg::is_url("state.db"));
  EXPECT_FALSE(pg::is_url("./postgresql://x"));
}

TEST(PgUrl, MessagesNeverShowAPassword) {
  EXPECT_EQ(pg::url_for_messages("postgresql://alice:s3cret@db.example/app"),
            "postgresql://alice:***@db.example/app");
  EXPECT_EQ(pg::url_for_messages("postgresql://alice@db/app?x=a:b@c"),
            "postgresql://alice@db/app?x=a:b@c");
  EXPECT_EQ(pg::url_for_messages("postgresql:///app?host=/tmp"), "postgresql:///app?host=/tmp");
}

TEST(PgUrl, APasswordOnTheCommandLineIsRefused) {
  EXPECT_EQ(exit_status_of([] { pg::check_no_password("postgresql://a:b@h/d", "--db"); }),
            exit_code::usage);
  EXPECT_EQ(exit_status_of([] { pg::check_no_password("postgresql://h/d?password=x", "--db"); }),
            exit_code::usage);
  EXPECT_EQ(
      exit_status_of([] { pg::check_no_password("postgresql://a@h/d?sslmode=require", "--db"); }),
      0);
}

TEST(PgDatabase, AnUnreachableServerIs69) {
  OpenOptions options;
  options.busy_timeout = std::chrono::seconds(2);
  EXPECT_EQ(exit_status_of([&] {
              Database database("postgresql:///postgres?host=/nonexistent-sluice-dir", options);
            }),
            exit_code::unavailable);
}

TEST(PgDatabase, MigratesOnceAndRecordsTheVersion) {
  SLUICE_PG_URL(url);
  Database database(url, {});
  EXPECT_EQ(database.backend(), Backend::postgresql);
  migrate(database, "demo", pg_demo_steps);
  migrate(database, "demo", pg_demo_steps);  // already current: nothing to do
  EXPECT_EQ(schema_version(database, "demo"), 2);
  EXPECT_EQ(database.execute("INSERT INTO demo_items (id, name, note) VALUES (?1, ?2, ?3)", 1,
                             "one", std::nullopt),
            1);
  std::array<std::string_view, 1> older{pg_demo_steps[0]};
  EXPECT_EQ(exit_status_of([&] { migrate(database, "demo", older); }), exit_code::data);
}

TEST(PgDatabase, ValuesRoundTripExactly) {
  SLUICE_PG_URL(url);
  Database database(url, {});
  migrate(database, "demo", pg_demo_steps);
  std::string every_byte;
  for (int byte = 0; byte < 256; ++byte) every_byte += static_cast<char>(byte);
  auto& insert =
      database.statement("INSERT INTO demo_items (id, name, data, x) VALUES (?, ?, ?, ?)");
  insert.bind(1, std::int64_t{9007199254740993});  // 2^53 + 1: not a double
  insert.bind(2, "it's \"quoted\" ? and $1");
  insert.bind_blob(3, every_byte);
  insert.bind_double(4, 0.1);
  {
    Query run(insert);
    EXPECT_FALSE(run.step());
  }
  database.execute("INSERT INTO demo_items (id, name, data) VALUES (?1, ?2, ?3)", 2, "", Blob{});
  auto query =
      database.query("SELECT id, name, data, x, note, '?' FROM demo_items ORDER BY id DESC");
  ASSERT_TRUE(query.step());
  EXPECT_EQ(query->integer(0), 9007199254740993);
  EXPECT_EQ(query->text(1), "it's \"quoted\" ? and $1");
  EXPECT_EQ(query->blob(2), every_byte);
  EXPECT_EQ(query->value(3), Value(0.1));
  EXPECT_TRUE(query->is_null(4));
  EXPECT_EQ(query->value(4), Value(std::monostate{}));
  EXPECT_EQ(query->text(5), "?");  // a ? inside quotes is not a placeholder
  EXPECT_EQ(query->value(0), Value(std::int64_t{9007199254740993}));
  ASSERT_TRUE(query.step());
  EXPECT_EQ(query->text(1), "");
  EXPECT_FALSE(query->is_null(2));  // an empty blob is not NULL
  EXPECT_EQ(query->value(2), Value(Blob{}));
  EXPECT_FALSE(query.step());
}

TEST(PgDatabase, ChangesCountsTheRowsOfTheLastStatement) {
  SLUICE_PG_URL(url);
  Database database(url, {});
  migrate(database, "demo", pg_demo_steps);
  for (int id = 1; id <= 3; ++id) database.execute("INSERT INTO demo_items VALUES (?1, 'a')", id);
  EXPECT_EQ(database.execute("UPDATE demo_items SET name = 'b' WHERE id >= ?1", 2), 2);
  EXPECT_EQ(database.changes(), 2);
  EXPECT_EQ(database.execute("DELETE FROM demo_items WHERE id = 7"), 0);
}

TEST(PgDatabase, AViolatedConstraintIsAConstraintViolation) {
  SLUICE_PG_URL(url);
  Database database(url, {});
  migrate(database, "demo", pg_demo_steps);
  database.execute("INSERT INTO demo_items VALUES (1, 'a')");
  EXPECT_THROW(database.execute("INSERT INTO demo_items VALUES (1, 'b')"), ConstraintViolation);
  EXPECT_EQ(exit_status_of([&] { database.execute("INSERT INTO demo_items VALUES (2, NULL)"); }),
            exit_code::data);
}

TEST(PgDatabase, ARolledBackTransactionLeavesNothing) {
  SLUICE_PG_URL(url);
  Database database(url, {});
  migrate(database, "demo", pg_demo_steps);
  {
    WriteTransaction transaction(database);
    database.execute("INSERT INTO demo_items VALUES (1, 'gone')");
  }
  {
    WriteTransaction transaction(database);
    database.execute("INSERT INTO demo_items VALUES (2, 'kept')");
    transaction.commit();
  }
  Database other(url, {});
  auto query = other.query("SELECT string_agg(name, ',') FROM demo_items");
  ASSERT_TRUE(query.step());
  EXPECT_EQ(query->text(0), "kept");
}

TEST(PgDatabase, ALockHeldPastTheBusyTimeoutIs75InOrOutOfATransaction) {
  SLUICE_PG_URL(url);
  Database holder(url, {});
  migrate(holder, "demo", pg_demo_steps);
  holder.execute("INSERT INTO demo_items VALUES (1, 'a')");
  WriteTransaction held(holder);
  holder.execute("UPDATE demo_items SET name = 'held' WHERE id = 1");
  OpenOptions impatient;
  impatient.busy_timeout = std::chrono::milliseconds(200);
  Database waiter(url, impatient);
  auto update = [&] { waiter.execute("UPDATE demo_items SET name = 'b' WHERE id = 1"); };
  // Outside a transaction too: the statement runs in one of its own, with the lock timeout.
  EXPECT_EQ(exit_status_of(update), exit_code::temporary);
  // The one-line message SQLite's busy file gives, without the statement.
  EXPECT_EQ(sluice::testing::error_message_of(update),
            fmt::format("state '{}' is busy (waited 200ms for a lock); try again later", url));
  WriteTransaction waiting(waiter);
  EXPECT_EQ(exit_status_of(update), exit_code::temporary);
}

TEST(PgDatabase, WritersTakingTurnsQueueWhileReadersGoOn) {
  SLUICE_PG_URL(url);
  Database first(url, {});
  migrate(first, "demo", pg_demo_steps);
  first.execute("INSERT INTO demo_items VALUES (1, 'a')");
  WriteTransaction turn(first);
  take_turns_writing(first, "demo_items");
  OpenOptions impatient;
  impatient.busy_timeout = std::chrono::milliseconds(100);
  Database second(url, impatient);
  EXPECT_EQ(exit_status_of([&] {
              WriteTransaction waiting(second);
              take_turns_writing(second, "demo_items");
            }),
            exit_code::temporary);
  auto read = second.query("SELECT name FROM demo_items");
  ASSERT_TRUE(read.step());
  EXPECT_EQ(read->text(0), "a");
}

TEST(PgDatabase, AnArrayParameterCarriesEveryByteOfEachValue) {
  SLUICE_PG_URL(url);
  Database database(url, {});
  const std::vector<std::string> values{"plain", "with \"quotes\"", "back\\slash", "", "{,}",
                                        "NULL",  "caf\xc3\xa9"};
  auto query = database.query(
      "SELECT value FROM unnest(?::text[]) WITH ORDINALITY AS given(value, "
      "position) ORDER BY position",
      postgresql_array(values));
  std::vector<std::string> back;
  while (query.step()) back.push_back(query->text(0));
  EXPECT_EQ(back, values);
}

TEST(PgDatabase, MustExistRefusesASchemaWithoutSluiceState) {
  SLUICE_PG_URL(url);
  OpenOptions options;
  options.must_exist = true;
  EXPECT_EQ(exit_status_of([&] { Database database(url, options); }), exit_code::no_input);
  {
    Database creating(url, {});
    migrate(creating, "demo", pg_demo_steps);
  }
  EXPECT_EQ(exit_status_of([&] { Database database(url, options); }), 0);
}

TEST(PgDatabase, SqliteOnlyOperationsRefuseAServer) {
  SLUICE_PG_URL(url);
  Database database(url, {});
  EXPECT_EQ(exit_status_of([&] { static_cast<void>(database.side_file(".lock")); }),
            exit_code::internal);
}

// BulkInsert on each backend: COPY on PostgreSQL, an INSERT per row on SQLite.
class BulkInsertTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!state_.available()) GTEST_SKIP() << "SLUICE_TEST_PG_URL is not set (scripts/test sets it)";
    database_.emplace(state_.location(), OpenOptions{});
    migrate(*database_, "demo", pg_demo_steps);
  }
  Database& database() { return *database_; }
  sluice::testing::StateLocation state_{GetParam()};
  std::optional<Database> database_;
};

constexpr std::array<std::string_view, 2> id_and_name{"id", "name"};

TEST_P(BulkInsertTest, EveryByteOfTextAndEveryIntegerComesBackExactly) {
  const std::vector<std::pair<std::int64_t, std::string>> rows{
      {std::numeric_limits<std::int64_t>::min(), "tab\there"},
      {-1, "line\nfeed and \r return"},
      {0, "back\\slash \\N not null"},
      {7, ""},
      {std::numeric_limits<std::int64_t>::max(), "caf\xc3\xa9 \xe2\x82\xac"}};  // in id order
  WriteTransaction transaction(database());
  BulkInsert insert(database(), "demo_items", id_and_name);
  for (const auto& [id, name] : rows) {
    insert.add(id).add(name);
    insert.end_row();
  }
  EXPECT_EQ(insert.finish(), 5);
  transaction.commit();
  auto query = database().query("SELECT id, name FROM demo_items ORDER BY id");
  for (const auto& [id, name] : rows) {
    ASSERT_TRUE(query.step());
    EXPECT_EQ(query->integer(0), id);
    EXPECT_EQ(query->text(1), name);
    EXPECT_FALSE(query->is_null(1));
  }
}

TEST_P(BulkInsertTest, ManyBatchesArriveWhole) {
  WriteTransaction transaction(database());
  BulkInsert insert(database(), "demo_items", id_and_name);
  const std::string name(100, 'x');
  for (std::int64_t id = 0; id < 30000; ++id) {  // about 3 MiB: several batches
    insert.add(id).add(name);
    insert.end_row();
  }
  EXPECT_EQ(insert.finish(), 30000);
  transaction.commit();
  auto query = database().query("SELECT count(*), sum(id), min(length(name)) FROM demo_items");
  ASSERT_TRUE(query.step());
  EXPECT_EQ(query->integer(0), 30000);
  EXPECT_EQ(query->integer(1), 30000LL * 29999 / 2);
  EXPECT_EQ(query->integer(2), 100);
}

TEST_P(BulkInsertTest, ARefusedRowIs65AndTheTransactionWritesNothing) {
  database().execute("INSERT INTO demo_items (id, name) VALUES (2, 'there')");
  int status = exit_status_of([&] {
    WriteTransaction transaction(database());
    BulkInsert insert(database(), "demo_items", id_and_name);
    for (std::int64_t id : {1, 2, 3}) {  // 2 is taken
      insert.add(id).add(std::string_view("new"));
      insert.end_row();
    }
    insert.finish();
    transaction.commit();
  });
  EXPECT_EQ(status, exit_code::data);
  auto query = database().query("SELECT count(*) FROM demo_items");
  ASSERT_TRUE(query.step());
  EXPECT_EQ(query->integer(0), 1);
}

TEST_P(BulkInsertTest, AnAbandonedInsertLeavesTheConnectionUsable) {
  {
    WriteTransaction transaction(database());
    BulkInsert insert(database(), "demo_items", id_and_name);
    insert.add(std::int64_t{1}).add(std::string_view("never"));
    insert.end_row();
  }  // destroyed unfinished, then rolled back
  database().execute("INSERT INTO demo_items (id, name) VALUES (5, 'after')");
  auto query = database().query("SELECT id FROM demo_items");
  ASSERT_TRUE(query.step());
  EXPECT_EQ(query->integer(0), 5);
  EXPECT_FALSE(query.step());
}

INSTANTIATE_TEST_SUITE_P(Backends, BulkInsertTest,
                         ::testing::Values(Backend::sqlite, Backend::postgresql),
                         [](const auto& info) {
                           return sluice::testing::backend_name(info.param);
                         });

}  // namespace
}  // namespace sluice::db
