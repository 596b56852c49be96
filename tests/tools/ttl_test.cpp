#include <cstdlib>
#include <map>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sluice/error.hpp"
#include "test_support.hpp"
#include "ttl_partitions.hpp"
#include "ttl_sweep.hpp"
#include "ttl_table.hpp"

namespace sluice::ttl {
namespace {

using namespace std::chrono_literals;
using db::Backend;

const Instant now = parse_instant("2026-03-01T12:00:00Z");
const std::int64_t epoch = 1772366400;      // `now` in epoch seconds (Python: calendar.timegm)
const std::int64_t cutoff = epoch - 86400;  // --older-than 1d

std::unique_ptr<db::Database> open_application(const std::string& location) {
  db::OpenOptions options;
  options.foreign_file = true;
  options.synchronous = db::Synchronous::normal;
  return std::make_unique<db::Database>(location, options);
}

std::vector<std::int64_t> ids(db::Database& database, const std::string& table = "events") {
  std::vector<std::int64_t> found;
  auto query = database.query("SELECT id FROM " + table + " ORDER BY id");
  while (query.step()) found.push_back(query->integer(0));
  return found;
}

SweepOptions options_for(std::string column = "created_at") {
  SweepOptions options;
  options.table = "events";
  options.column = std::move(column);
  options.older_than = 24h;
  options.pause = 0us;
  options.progress = ProgressMode::never;
  return options;
}

TEST(Cutoff, IsTakenDownToAWholeSecond) {
  EXPECT_EQ(cutoff_instant(parse_instant("2026-03-01T12:00:00.750Z"), 1h),
            parse_instant("2026-03-01T11:00:00Z"));
  EXPECT_EQ(cutoff_instant(now, 24h), parse_instant("2026-02-28T12:00:00Z"));
}

TEST(WhereText, RefusesWhatCouldBeMoreThanOneExpression) {
  for (const char* where :
       {"", "  ", "a = 1; DELETE FROM t", "a = 1 -- x", "a = 1 /* x */", "a = 1) OR (1 = 1",
        "a = 'x", "(a = 1", "a IN (SELECT b FROM other)", "a = ?", "a = $1", "a = E'\\''",
        "a[1] = 2", "`a` = 1", "a = 'it''s'; b"}) {
    EXPECT_EQ(testing::exit_status_of([&] { check_where_text(where); }), exit_code::usage) << where;
  }
  for (const char* where :
       {"tenant = 'a'", "note = 'select (no' OR id > 3", "(tenant = 'a') AND (id % 2 = 0)",
        "\"select\" = 1", "selected = 1", "tenant IN ('a', 'b')", "note = 'it''s'"}) {
    EXPECT_EQ(testing::exit_status_of([&] { check_where_text(where); }), 0) << where;
  }
}

class TtlSweep : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    location_ = std::make_unique<testing::StateLocation>(GetParam());
    if (!location_->available()) GTEST_SKIP() << "SLUICE_TEST_PG_URL is not set";
    database_ = open_application(location_->location());
  }
  bool sqlite() const { return GetParam() == Backend::sqlite; }
  db::Database& database() { return *database_; }

  // Rows 1-8 hold epoch numbers (or NULL); on SQLite, 9-14 RFC 3339 text in the same column.
  // Expired: 1, 3, 4, 6, 9, 10, 14.
  void create_events() {
    database().execute_script(
        sqlite() ? "CREATE TABLE events (id INTEGER PRIMARY KEY, created_at, tenant TEXT)"
                 : "CREATE TABLE events (id BIGINT PRIMARY KEY, created_at BIGINT, tenant TEXT)");
    const std::vector<std::pair<int, std::string>> rows{
        {1, std::to_string(cutoff - 3600)},
        {2, std::to_string(cutoff)},
        {3, std::to_string(cutoff - 1)},
        {4, std::to_string((cutoff - 3600) * 1000)},
        {5, std::to_string(cutoff * 1000)},
        {6, std::to_string(cutoff * 1000 - 1)},
        {7, "NULL"},
        {8, std::to_string(epoch)},
    };
    std::string inserts;
    for (const auto& [id, value] : rows) {
      inserts += fmt::format("INSERT INTO events VALUES ({}, {}, '{}');", id, value,
                             id % 2 == 0 ? "a" : "b");
    }
    const std::vector<std::pair<int, std::string>> texts{
        {9, "2026-02-28T11:59:59Z"},       {10, "2026-02-28T13:59:59+02:00"},
        {11, "2026-02-28T14:00:00+02:00"}, {12, "garbage"},
        {13, "2026-02-28T12:00:00.5Z"},    {14, "2026-02-28T11:59:59.9Z"},
    };
    for (const auto& [id, value] : texts) {
      if (!sqlite()) break;
      inserts += fmt::format("INSERT INTO events VALUES ({}, '{}', '{}');", id, value,
                             id % 2 == 0 ? "a" : "b");
    }
    db::WriteTransaction transaction(database());
    database().execute_script(inserts);
    transaction.commit();
  }
  std::vector<std::int64_t> survivors() const {
    return sqlite() ? std::vector<std::int64_t>{2, 5, 7, 8, 11, 12, 13}
                    : std::vector<std::int64_t>{2, 5, 7, 8};
  }

  std::unique_ptr<testing::StateLocation> location_;
  std::unique_ptr<db::Database> database_;
};

TEST_P(TtlSweep, DeletesExactlyTheExpiredRows) {
  create_events();
  SweepOptions options = options_for();
  options.batch = 2;
  SweepResult result = sweep(database(), options, now);
  EXPECT_EQ(ids(database()), survivors());
  EXPECT_EQ(result.rows, sqlite() ? 7 : 4);
  EXPECT_EQ(result.batches, sqlite() ? 4 : 2);
  EXPECT_TRUE(result.complete);
  EXPECT_EQ(format_instant(result.cutoff), "2026-02-28T12:00:00Z");
  EXPECT_EQ(sweep(database(), options, now).rows, 0);
}

// --chunk-time resizes the batches (sluice/batch_size.hpp, tested in tests/unit): the first
// keeps --batch below the sizer's minimum of 10, later ones grow, and the result is the same.
TEST_P(TtlSweep, ChunkTimeResizesBatchesWithTheSameResult) {
  create_events();
  SweepOptions options = options_for();
  options.batch = 1;
  options.chunk_time = std::chrono::seconds(1);
  SweepResult result = sweep(database(), options, now);
  EXPECT_EQ(ids(database()), survivors());
  EXPECT_EQ(result.batches, 1);  // 10 rows at least in the first batch: every expired one
}

TEST_P(TtlSweep, DryRunCountsAndDeletesNothing) {
  create_events();
  SweepOptions options = options_for();
  options.dry_run = true;
  options.batch = 3;
  SweepResult result = sweep(database(), options, now);
  EXPECT_EQ(result.rows, sqlite() ? 7 : 4);
  EXPECT_EQ(result.batches, sqlite() ? 3 : 2);
  EXPECT_EQ(ids(database()).size(), sqlite() ? 14U : 8U);
}

TEST_P(TtlSweep, WhereNarrowsTheSweep) {
  create_events();
  SweepOptions options = options_for();
  options.where = "tenant = 'a'";  // even ids: 4, 6, 10, 14 of the expired
  sweep(database(), options, now);
  std::vector<std::int64_t> expected =
      sqlite() ? std::vector<std::int64_t>{1, 2, 3, 5, 7, 8, 9, 11, 12, 13}
               : std::vector<std::int64_t>{1, 2, 3, 5, 7, 8};
  EXPECT_EQ(ids(database()), expected);
}

TEST_P(TtlSweep, RefusesBadTablesColumnsAndFiltersBeforeDeleting) {
  create_events();
  database().execute_script("CREATE TABLE other (id INTEGER PRIMARY KEY, x INTEGER)");
  database().execute_script("CREATE VIEW recent AS SELECT * FROM events");
  auto refused = [&](SweepOptions options) {
    return testing::exit_status_of([&] { sweep(database(), options, now); });
  };
  SweepOptions options = options_for("nope");
  EXPECT_EQ(refused(options), exit_code::data);
  options = options_for();
  options.table = "missing";
  EXPECT_EQ(refused(options), exit_code::data);
  options.table = "recent";
  EXPECT_EQ(refused(options), exit_code::data);
  options = options_for();
  for (const char* where : {"nosuch = 1", "tenant ="}) {
    options.where = where;
    EXPECT_EQ(refused(options), exit_code::data) << where;
  }
  if (!sqlite()) {
    options.where = "id + 1";  // not boolean
    EXPECT_EQ(refused(options), exit_code::data);
    database().execute_script("CREATE SEQUENCE counter");
    // Subqueries spelled without SELECT, and volatile functions (by name or by operator):
    // a filter runs on rows it keeps, so it may neither read elsewhere nor change anything.
    for (const char* where : {"id IN (TABLE other)", "EXISTS (VALUES (1)) AND id IN (table other)",
                              "pg_sleep(0) IS NULL", "set_config('sluice.ttl', 'x', false) = 'x'",
                              "lo_unlink(id::oid) = 1", "id = nextval('counter')", "random() < 2",
                              "tenant IN ('a') AND id < 3 + nextval('counter')"}) {
      options.where = where;
      EXPECT_EQ(refused(options), exit_code::data) << where;
    }
    auto setting = database().query("SELECT coalesce(current_setting('sluice.ttl', true), '')");
    ASSERT_TRUE(setting.step());
    EXPECT_EQ(setting->text(0), "") << "set_config ran";
    auto counter = database().query("SELECT CASE WHEN is_called THEN 1 ELSE 0 END FROM counter");
    ASSERT_TRUE(counter.step());
    EXPECT_EQ(counter->integer(0), 0) << "nextval ran";
    // Immutable and stable functions and operators are taken.
    options.where = "lower(tenant) = 'a' AND now() > '2000-01-01' AND length(tenant) + 1 = 2";
    options.dry_run = true;
    EXPECT_EQ(refused(options), 0);
    options.dry_run = false;
  } else {
    options.where = "other.x = 1";  // another table
    EXPECT_EQ(refused(options), exit_code::data);
  }
  EXPECT_EQ(ids(database()).size(), sqlite() ? 14U : 8U);
}

// Keys that are not integers: text (walked in the key's own order, gaps and all) and, in an
// SQLite rowid table, a declared key holding NULLs (which a walk by that key never reached),
// and a column named "rowid" (NULL here) that hides the rowid's first name.
TEST_P(TtlSweep, WalksTextKeysAndKeysHoldingNulls) {
  auto remaining = [&](const std::string& table) {
    std::vector<std::string> names;
    auto query = database().query("SELECT coalesce(name, '-') FROM " + table + " ORDER BY 1");
    while (query.step()) names.push_back(query->text(0));
    return names;
  };
  std::vector<std::string> tables = {"named"};
  if (sqlite()) {
    database().execute_script(
        "CREATE TABLE named (name TEXT PRIMARY KEY, created_at INTEGER) WITHOUT ROWID;"
        "CREATE TABLE nullable (name TEXT PRIMARY KEY, created_at INTEGER, rowid INTEGER)");
    tables.push_back("nullable");
  } else {
    database().execute_script("CREATE TABLE named (name TEXT PRIMARY KEY, created_at BIGINT)");
  }
  for (const std::string& table : tables) {
    for (const char* name : {"b", "d", "f", "h", "k", "z"}) {
      database().execute(fmt::format("INSERT INTO {} (name, created_at) VALUES (?1, ?2)", table),
                         name, std::string_view(name) == "f" ? epoch : cutoff - 10);
    }
    if (table == "nullable") {
      for (int n = 0; n < 3; ++n) {
        database().execute("INSERT INTO nullable VALUES (NULL, ?1, NULL)", cutoff - 10);
      }
    }
    SweepOptions options = options_for();
    options.table = table;
    options.batch = 2;
    EXPECT_EQ(sweep(database(), options, now).rows, table == "nullable" ? 8 : 5) << table;
    EXPECT_EQ(remaining(table), std::vector<std::string>{"f"}) << table;
  }
}

// A sweep killed between any two batches (here: an exception after the Nth commit) has
// deleted whole batches; the next run ends with the same table as one run would.
TEST_P(TtlSweep, ARunStoppedBetweenBatchesIsFinishedByTheNext) {
  create_events();
  for (int stop_after = 1; stop_after <= 3; ++stop_after) {
    SweepOptions options = options_for();
    options.batch = 1;
    int commits = 0;
    options.after_commit = [&] {
      if (++commits == stop_after) throw Error(137, "");
    };
    EXPECT_EQ(testing::exit_status_of([&] { sweep(database(), options, now); }), 137);
    EXPECT_EQ(ids(database()).size(), (sqlite() ? 14U : 8U) - stop_after);
    options.after_commit = nullptr;
    sweep(database(), options, now);
    EXPECT_EQ(ids(database()), survivors());
    database().execute_script("DROP TABLE events");
    create_events();
  }
}

TEST_P(TtlSweep, MaxTimeStopsEarlyAndReportsIncomplete) {
  create_events();
  SweepOptions options = options_for();
  options.batch = 1;
  options.max_time = 1us;
  options.after_commit = [] { std::this_thread::sleep_for(2ms); };
  SweepResult result = sweep(database(), options, now);
  EXPECT_FALSE(result.complete);
  EXPECT_EQ(result.rows, 1);
  EXPECT_EQ(to_json(sweep_record(result, false)),
            R"({"table":"events","column":"created_at","cutoff":"2026-02-28T12:00:00Z",)"
            R"("deleted":1,"batches":1,"complete":false})");
}

TEST_P(TtlSweep, ReadsPostgresqlTimestampsAndText) {
  if (sqlite()) GTEST_SKIP() << "PostgreSQL column types";
  database().execute_script(
      "CREATE TABLE events (id BIGINT PRIMARY KEY, at TIMESTAMPTZ, plain TIMESTAMP, said TEXT)");
  database().execute_script(
      "INSERT INTO events VALUES "
      "(1, '2026-02-28T11:59:59Z', '2026-02-28 11:59:59', '2026-02-28T13:59:59+02:00'), "
      "(2, '2026-02-28T12:00:00Z', '2026-02-28 12:00:00', '2026-02-28T12:00:00Z'), "
      "(3, '2026-02-28T12:00:00.5Z', '2026-02-28 12:00:00.5', 'garbage'), "
      "(4, NULL, NULL, NULL)");
  for (const char* column : {"at", "plain", "said"}) {
    SweepOptions options = options_for(column);
    options.dry_run = true;
    EXPECT_EQ(sweep(database(), options, now).rows, 1) << column;
  }
  sweep(database(), options_for("said"), now);
  EXPECT_EQ(ids(database()), (std::vector<std::int64_t>{2, 3, 4}));
}

TEST(Partition, NamesAndBoundsItsPeriod) {
  Partition month = partition_of("events", Period::month, parse_instant("2026-12-31T23:59:59Z"));
  EXPECT_EQ(month.name, "events_2026_12");
  EXPECT_EQ(month.from, parse_instant("2026-12-01T00:00:00Z"));
  EXPECT_EQ(month.until, parse_instant("2027-01-01T00:00:00Z"));
  Partition day = partition_of("events", Period::day, parse_instant("2028-02-29T10:00:00Z"));
  EXPECT_EQ(day.name, "events_2028_02_29");
  EXPECT_EQ(day.until, parse_instant("2028-03-01T00:00:00Z"));
  ASSERT_TRUE(partition_named("events", "events_2028_02_29"));
  EXPECT_EQ(partition_named("events", "events_2028_02_29")->from, day.from);
  EXPECT_EQ(partition_named("events", "events_2026_12")->until, month.until);
  for (const char* other :
       {"events_default", "events_2026_13", "events_2026_02_30", "events_2026_3", "events2026_03",
        "other_2026_03", "events_2026_03_x", "events_"}) {
    EXPECT_FALSE(partition_named("events", other)) << other;
  }
}

std::vector<std::string> names_of(const std::vector<Partition>& partitions) {
  std::vector<std::string> names;
  for (const Partition& partition : partitions) names.push_back(partition.name);
  return names;
}

// SQLite: the first run converts the table (rows 1-6, 9-14 of create_events are February, 8
// March, 7 and 12 hold no instant); PostgreSQL: a table PARTITION BY RANGE gets partitions.
TEST_P(TtlSweep, PartitionsRouteRowsAndDropRemovesWholePeriods) {
  using Names = std::vector<std::string>;
  const PartitionOptions options{"events", "created_at", Period::month, 1};
  if (sqlite()) {
    create_events();
    EXPECT_EQ(names_of(make_partitions(database(), options, now)),
              (Names{"events_2026_02", "events_2026_03", "events_2026_04"}));
    EXPECT_EQ(ids(database(), "events_default"), (std::vector<std::int64_t>{7, 12}));
    EXPECT_EQ(ids(database(), "events_2026_03"), (std::vector<std::int64_t>{8}));
  } else {
    database().execute_script(
        "CREATE TABLE events (id BIGINT, created_at BIGINT, tenant TEXT) "
        "PARTITION BY RANGE (created_at)");
    EXPECT_EQ(names_of(make_partitions(database(), options, now - std::chrono::days(30))),
              (Names{"events_2026_01", "events_2026_02"}));
    EXPECT_EQ(names_of(make_partitions(database(), options, now)),
              (Names{"events_2026_03", "events_2026_04"}));
    database().execute_script(
        fmt::format("INSERT INTO events VALUES (1, {}, 'a'), (7, NULL, 'b')", cutoff));
  }
  EXPECT_EQ(names_of(make_partitions(database(), options, now)), Names{});  // all there
  database().execute_script(fmt::format(
      "INSERT INTO events (id, created_at, tenant) VALUES (100, {}, 'a'), (101, {}, 'a')", epoch,
      epoch + 40 * 86400));
  EXPECT_EQ(ids(database(), "events_2026_04"), (std::vector<std::int64_t>{101}));
  // A day after the end of March, with --older-than 1d: February (and January) have expired.
  const Instant drop_cutoff = cutoff_instant(parse_instant("2026-04-01T12:00:00Z"), 24h);
  const Names expired =
      sqlite() ? Names{"events_2026_02"} : Names{"events_2026_01", "events_2026_02"};
  EXPECT_EQ(names_of(drop_partitions(database(), "events", drop_cutoff, true)), expired);
  EXPECT_EQ(names_of(drop_partitions(database(), "events", drop_cutoff, false)), expired);
  EXPECT_EQ(names_of(drop_partitions(database(), "events", drop_cutoff, false)), Names{});
  EXPECT_EQ(ids(database()), sqlite() ? (std::vector<std::int64_t>{7, 8, 12, 100, 101})
                                      : (std::vector<std::int64_t>{7, 100, 101}));
  // The view (SQLite) still routes: a row of March lands in March's table.
  database().execute_script(
      fmt::format("INSERT INTO events (id, created_at, tenant) VALUES (102, {}, 'a')", epoch));
  EXPECT_EQ(ids(database(), "events_2026_03").back(), 102);
}

// The writer-latency harness: an application thread inserts live rows and updates live ones
// at a steady rate while the sweep runs with its defaults. Every expired row must go, every
// live row must be as the writer left it, and (long depth: 1M expired of 2M rows, 1,000 tx/s)
// no writer transaction may wait 100 ms.
struct Depth {
  std::int64_t rows;
  int rate;
};
Depth test_depth() {
  const char* depth = std::getenv("SLUICE_TEST_DEPTH");
  std::string_view name = depth == nullptr ? "normal" : depth;
  if (name == "long") return {2'000'000, 1000};
  if (name == "short") return {6'000, 100};
  return {20'000, 200};
}

// The application's writer of AWriterWaitsAtMostABatch, at depth.rate transactions a second
// until `stop`: inserts live rows and updates live ones, recording each in `model`.
void write_steadily(const std::stop_token& stop, const Depth& depth, const std::string& location,
                    std::map<std::int64_t, std::int64_t>& model, Duration& worst,
                    std::int64_t& writes) {
  db::OpenOptions options;
  options.foreign_file = true;
  options.busy_timeout = 60s;
  // As the bench's writer and most applications in WAL mode: commits without an fsync each.
  options.synchronous = db::Synchronous::normal;
  db::Database application(location, options);
  std::mt19937_64 random(7);
  const auto interval = std::chrono::microseconds(1'000'000 / depth.rate);
  auto next = std::chrono::steady_clock::now();
  for (std::int64_t id = depth.rows + 2; !stop.stop_requested(); id += 2, ++writes) {
    const auto began = std::chrono::steady_clock::now();
    db::WriteTransaction transaction(application);
    if (writes % 2 == 0) {
      application.execute("INSERT INTO events VALUES (?1, ?2, 0)", id, epoch);
      model[id] = 0;
    } else {
      std::int64_t live = 2 * static_cast<std::int64_t>(random() % (depth.rows / 2) + 1);
      application.execute("UPDATE events SET n = n + 1 WHERE id = ?1", live);
      ++model[live];
    }
    transaction.commit();
    worst = std::max(
        worst, std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - began));
    next += interval;
    std::this_thread::sleep_until(next);
  }
}

TEST_P(TtlSweep, AWriterWaitsAtMostABatch) {
  const Depth depth = test_depth();
  if (sqlite()) database().execute_script("PRAGMA journal_mode=WAL");
  database().execute_script(
      sqlite() ? "CREATE TABLE events (id INTEGER PRIMARY KEY, created_at INTEGER, n INTEGER)"
               : "CREATE TABLE events (id BIGINT PRIMARY KEY, created_at BIGINT, n BIGINT)");
  {
    db::WriteTransaction load(database());
    std::array<std::string_view, 3> columns{"id", "created_at", "n"};
    db::BulkInsert insert(database(), "events", columns);
    // Odd ids expired, even ids live: every batch's key range holds live rows too.
    for (std::int64_t id = 1; id <= depth.rows; ++id) {
      insert.add(id).add(id % 2 == 1 ? cutoff - 1000 : epoch).add(std::int64_t{0}).end_row();
    }
    insert.finish();
    load.commit();
  }
  std::map<std::int64_t, std::int64_t> model;  // live id -> n, as the writer leaves it
  for (std::int64_t id = 2; id <= depth.rows; id += 2) model[id] = 0;
  Duration worst{};
  std::int64_t writes = 0;
  // What ended the writer early (its exception), reported after the join: an exception must
  // not leave the thread's function (std::terminate), and the writer is a std::jthread so that
  // an exception leaving this test body stops and joins it instead of destroying a joinable
  // thread (std::terminate, "without an active exception").
  std::string writer_failure;
  std::jthread writer([&](std::stop_token stop) {
    try {
      write_steadily(stop, depth, location_->location(), model, worst, writes);
    } catch (const std::exception& error) {
      writer_failure = error.what();
    }
  });
  std::this_thread::sleep_for(100ms);  // the writer runs before the sweep starts
  SweepOptions options = options_for();
  options.pause = SweepOptions{}.pause;
  SweepResult result;
  std::string failure;
  try {
    result = sweep(database(), options, now);
  } catch (const Error& error) {
    failure = fmt::format("{} {}", error.code(), error.what());
  }
  writer.request_stop();
  writer.join();
  ASSERT_EQ(failure, "");
  ASSERT_EQ(writer_failure, "");
  EXPECT_EQ(result.rows, depth.rows / 2);
  std::map<std::int64_t, std::int64_t> left;
  auto query = database().query("SELECT id, n FROM events");
  while (query.step()) left[query->integer(0)] = query->integer(1);
  EXPECT_EQ(left, model);
  EXPECT_GT(writes, 10);
  const auto worst_ms = std::chrono::duration_cast<std::chrono::milliseconds>(worst).count();
  std::printf("ttl writer-latency: %lld rows, %d tx/s, %lld writes, worst %lld ms\n",
              static_cast<long long>(depth.rows), depth.rate, static_cast<long long>(writes),
              static_cast<long long>(worst_ms));
  if (test_depth().rate == 1000) {
    EXPECT_LT(worst_ms, 100);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TtlSweep,
                         ::testing::Values(Backend::sqlite, Backend::postgresql),
                         [](const auto& info) { return testing::backend_name(info.param); });

}  // namespace
}  // namespace sluice::ttl
