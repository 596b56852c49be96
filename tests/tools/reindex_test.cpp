// In-process tests of reindex's core property: while backfill copies in batches, another
// connection writes to the source (inserts, updates, key changes, deletes, INSERT OR REPLACE,
// upserts, multi-row statements) and batches crash before their commit and are resumed; after
// verify and switch the table under the alias holds exactly the projection of what a model of
// the writes says, and after more writes (kept in step by the reverse projection) and a
// rollback the old table does too.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "reindex_commands.hpp"
#include "reindex_job.hpp"
#include "reindex_schema.hpp"
#include "sluice/db.hpp"
#include "sluice/error.hpp"
#include "test_support.hpp"

namespace sluice::reindex {
namespace {

using sluice::testing::TempDir;
using Key = std::vector<db::Value>;

struct Row {
  std::string k;
  std::int64_t val = 0;
  friend bool operator==(const Row&, const Row&) = default;
};
using Model = std::map<Key, Row>;

// One source table shape: its DDL, the new table's, the projections and how keys look.
struct Shape {
  std::string name;
  std::string source_ddl;
  std::string dest_ddl;
  std::vector<std::string> key;
  std::string select;
  std::string reverse_select;
  Key (*random_key)(std::mt19937_64&);
};

Key integer_key(std::mt19937_64& random) {
  // Negative keys and a huge gap, so batches straddle them.
  std::int64_t id = static_cast<std::int64_t>(random() % 300) - 50;
  if (random() % 10 == 0) id += 1'000'000'000'000;
  return {id};
}

Key text_key(std::mt19937_64& random) {
  return {fmt::format("c{}", random() % 200)};
}

Key compound_key(std::mt19937_64& random) {
  return {static_cast<std::int64_t>(random() % 12),
          std::string(1, static_cast<char>('a' + random() % 8))};
}

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all{
      {"integer key, reordered and computed columns",
       "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, val INTEGER)",
       "CREATE TABLE {name} (id INTEGER PRIMARY KEY, val INTEGER, k TEXT NOT NULL, "
       "k_norm TEXT NOT NULL); CREATE INDEX t_k_norm ON {name} (k_norm)",
       {"id"},
       "id, val, k, lower(k) AS k_norm",
       "id, k, val",
       integer_key},
      {"text key, WITHOUT ROWID",
       "CREATE TABLE t (code TEXT PRIMARY KEY, k TEXT NOT NULL, val INTEGER) WITHOUT ROWID",
       "CREATE TABLE {name} (code TEXT PRIMARY KEY, k TEXT NOT NULL, val INTEGER, k_norm TEXT) "
       "WITHOUT ROWID",
       {"code"},
       "code, k, val, lower(k) AS k_norm",
       "code, k, val",
       text_key},
      {"compound key",
       "CREATE TABLE t (a INTEGER NOT NULL, b TEXT NOT NULL, k TEXT NOT NULL, val INTEGER, "
       "PRIMARY KEY (a, b))",
       "CREATE TABLE {name} (a INTEGER NOT NULL, b TEXT NOT NULL, k TEXT NOT NULL, val INTEGER, "
       "k_norm TEXT, PRIMARY KEY (a, b))",
       {"a", "b"},
       "a, b, k, val, lower(k) AS k_norm",
       "a, b, k, val",
       compound_key},
  };
  return all;
}

struct SimulatedCrash {};

std::string ascii_lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The application: writes through its own connection and mirrors each write in the model.
class Writer {
 public:
  Writer(const std::string& path, const Shape& shape, std::uint64_t seed)
      : database_(path, {.synchronous = db::Synchronous::normal, .foreign_file = true}),
        shape_(shape),
        random_(seed) {}

  void write_randomly(Model& model, const std::string& table, bool with_k_norm) {
    table_ = db::quote_identifier(table);
    with_k_norm_ = with_k_norm;
    int count = static_cast<int>(random_() % 6);
    for (int index = 0; index < count; ++index) one_write(model);
  }

  db::Database& database() { return database_; }

 private:
  Row random_row() {
    std::string k;
    for (int index = 0; index < 3; ++index) {
      k += static_cast<char>((random_() % 2 ? 'A' : 'a') + random_() % 4);
    }
    return {k, static_cast<std::int64_t>(random_() % 100)};
  }

  std::string key_columns() const {
    std::string list;
    for (const auto& name : shape_.key) list += (list.empty() ? "" : ", ") + name;
    return list;
  }

  std::string key_match(int first) const {
    std::string match;
    for (std::size_t index = 0; index < shape_.key.size(); ++index) {
      match += fmt::format("{}{} = ?{}", index == 0 ? "" : " AND ", shape_.key[index],
                           first + static_cast<int>(index));
    }
    return match;
  }

  // INSERT [verb] (key..., k, val[, k_norm]) VALUES (...) [suffix]
  void insert(const std::string& verb, const Key& key, const Row& row, const std::string& suffix) {
    std::string columns = key_columns() + ", k, val" + (with_k_norm_ ? ", k_norm" : "");
    std::string values;
    int count = static_cast<int>(key.size()) + 2;
    for (int index = 1; index <= count; ++index)
      values += fmt::format("{}?{}", index == 1 ? "" : ", ", index);
    if (with_k_norm_) values += ", lower(?" + std::to_string(count - 1) + ")";
    auto& statement = database_.statement(
        fmt::format("{} INTO {} ({}) VALUES ({}) {}", verb, table_, columns, values, suffix));
    db::Query query(statement);
    int position = 0;
    for (const auto& part : key) statement.bind(++position, part);
    statement.bind(++position, row.k);
    statement.bind(++position, row.val);
    while (query.step()) {
    }
  }

  void run(const std::string& sql, const std::vector<db::Value>& values) {
    auto& statement = database_.statement(sql);
    db::Query query(statement);
    for (std::size_t index = 0; index < values.size(); ++index) {
      statement.bind(static_cast<int>(index + 1), values[index]);
    }
    while (query.step()) {
    }
  }

  Key existing_key(const Model& model) {
    auto position = model.begin();
    std::advance(position, static_cast<long>(random_() % model.size()));
    return position->first;
  }

  void one_write(Model& model) {
    Key key = shape_.random_key(random_);
    Row row = random_row();
    std::string set_norm = with_k_norm_ ? ", k_norm = lower(?1)" : "";
    switch (random_() % 8) {
      case 0:  // insert a new key
        if (model.contains(key)) return;
        insert("INSERT", key, row, "");
        model[key] = row;
        return;
      case 1:  // INSERT OR REPLACE, new or existing key
        insert("INSERT OR REPLACE", key, row, "");
        model[key] = row;
        return;
      case 2: {  // upsert
        insert("INSERT", key, row,
               fmt::format("ON CONFLICT DO UPDATE SET val = val + excluded.val{}",
                           with_k_norm_ ? ", k_norm = lower(k)" : ""));
        if (model.contains(key)) {
          model[key].val += row.val;
        } else {
          model[key] = row;
        }
        return;
      }
      case 3: {  // update the values of an existing row
        if (model.empty()) return;
        Key target = existing_key(model);
        std::vector<db::Value> values{row.k, row.val};
        values.insert(values.end(), target.begin(), target.end());
        run(fmt::format("UPDATE {} SET k = ?1, val = ?2{} WHERE {}", table_, set_norm,
                        key_match(3)),
            values);
        model[target] = row;
        return;
      }
      case 4: {  // change a row's key
        if (model.empty() || model.contains(key)) return;
        Key target = existing_key(model);
        std::string assignments;
        for (std::size_t index = 0; index < shape_.key.size(); ++index) {
          assignments +=
              fmt::format("{}{} = ?{}", index == 0 ? "" : ", ", shape_.key[index], index + 1);
        }
        std::vector<db::Value> values = key;
        values.insert(values.end(), target.begin(), target.end());
        run(fmt::format("UPDATE {} SET {} WHERE {}", table_, assignments,
                        key_match(static_cast<int>(key.size()) + 1)),
            values);
        model[key] = model[target];
        model.erase(target);
        return;
      }
      case 5: {  // delete one row
        if (model.empty()) return;
        Key target = existing_key(model);
        run(fmt::format("DELETE FROM {} WHERE {}", table_, key_match(1)), target);
        model.erase(target);
        return;
      }
      case 6: {  // a multi-row update
        std::int64_t modulus = 2 + static_cast<std::int64_t>(random_() % 5);
        run(fmt::format("UPDATE {} SET val = val + 1 WHERE val % ?1 = 0", table_), {modulus});
        for (auto& [_, existing] : model) {
          if (existing.val % modulus == 0) existing.val += 1;
        }
        return;
      }
      default: {  // a multi-row delete
        std::int64_t above = 90 + static_cast<std::int64_t>(random_() % 10);
        run(fmt::format("DELETE FROM {} WHERE val > ?1", table_), {above});
        std::erase_if(model, [&](const auto& entry) { return entry.second.val > above; });
        return;
      }
    }
  }

  db::Database database_;
  const Shape& shape_;
  std::mt19937_64 random_;
  std::string table_;
  bool with_k_norm_ = false;
};

// The table's rows as the model sees them: key -> (k, val), checking k_norm where present.
Model read_table(db::Database& database, const Shape& shape, const std::string& table,
                 bool with_k_norm) {
  std::string columns;
  for (const auto& name : shape.key) columns += name + ", ";
  columns += "k, val";
  if (with_k_norm) columns += ", k_norm";
  Model rows;
  auto query =
      database.query(fmt::format("SELECT {} FROM {}", columns, db::quote_identifier(table)));
  const int width = static_cast<int>(shape.key.size());
  while (query.step()) {
    Key key;
    for (int index = 0; index < width; ++index) key.push_back(query->value(index));
    Row row{query->text(width), query->integer(width + 1)};
    if (with_k_norm) {
      EXPECT_EQ(query->text(width + 2), ascii_lower(row.k));
    }
    rows[key] = row;
  }
  return rows;
}

class Tool {
 public:
  explicit Tool(const std::string& path)
      : database_(path, {.synchronous = db::Synchronous::normal, .foreign_file = true}),
        store_(database_),
        null_fd_(::open("/dev/null", O_WRONLY | O_CLOEXEC)),
        out_(null_fd_),
        context_{database_, store_, Clock(Instant{}), out_, "t"} {}
  ~Tool() { ::close(null_fd_); }
  Context& context() { return context_; }

 private:
  db::Database database_;
  JobStore store_;
  int null_fd_;
  OutputStream out_;
  Context context_;
};

void run_seed(std::uint64_t seed) {
  std::mt19937_64 random(seed);
  const Shape& shape = shapes()[seed % shapes().size()];
  SCOPED_TRACE(fmt::format("seed {} ({})", seed, shape.name));
  TempDir dir;
  const std::string path = dir.file("app.db");
  Writer writer(path, shape, seed * 7919 + 1);
  writer.database().execute_script("PRAGMA journal_mode=WAL; " + shape.source_ddl);
  Model model;
  for (int round = 0; round < 10; ++round) writer.write_randomly(model, "t", false);

  Tool tool(path);
  StartOptions start_options{.table = "t",
                             .dest_ddl = shape.dest_ddl,
                             .select = shape.select,
                             .reverse_select = shape.reverse_select};
  start(tool.context(), start_options);
  BackfillOptions options;
  options.batch = 1 + static_cast<std::int64_t>(random() % 7);
  options.progress = ProgressMode::never;
  options.before_commit = [&] {
    if (random() % 5 == 0) throw SimulatedCrash{};
  };
  options.after_commit = [&] { writer.write_randomly(model, "t", false); };
  for (int attempt = 0;; ++attempt) {
    ASSERT_LT(attempt, 10000) << "backfill never finished";
    try {
      ASSERT_EQ(backfill(tool.context(), options), 0);
      break;
    } catch (const SimulatedCrash&) {
      writer.write_randomly(model, "t", false);
    }
  }
  ASSERT_EQ(verify(tool.context()), 0);
  // The application (Writer) fills k_norm after the switch: a NOT NULL column new to the table.
  switch_alias(tool.context(), Inserts::may_break);
  ASSERT_EQ(read_table(writer.database(), shape, "t", true), model);

  // The new table takes writes; the reverse projection keeps the old one in step.
  for (int round = 0; round < 3; ++round) writer.write_randomly(model, "t", true);
  ASSERT_EQ(read_table(writer.database(), shape, "t__v1", false), model);
  rollback(tool.context(), false);
  ASSERT_EQ(read_table(writer.database(), shape, "t", false), model);
  ASSERT_EQ(verify(tool.context()), 0);  // the forward triggers are back
}

int seed_count() {
  const char* configured = std::getenv("SLUICE_REINDEX_SEEDS");
  return configured != nullptr ? std::atoi(configured) : 2000;
}

TEST(ReindexProperty, AliasHoldsTheProjectionOfEveryWriteAcrossCrashedBatches) {
  for (int seed = 0; seed < seed_count(); ++seed) {
    try {
      run_seed(static_cast<std::uint64_t>(seed));
    } catch (const Error& error) {
      FAIL() << "seed " << seed << ": " << error.what();
    }
    if (::testing::Test::HasFatalFailure() || ::testing::Test::HasNonfatalFailure()) return;
  }
}

}  // namespace
}  // namespace sluice::reindex

namespace sluice::reindex {
namespace {

// Stored REAL values are printed as the shortest text that reads back as the same double.
TEST(ReindexValueJson, RealsAreShortestRoundTripNumbers) {
  EXPECT_EQ(to_json(value_json(db::Value(2.5))), "2.5");
  EXPECT_EQ(to_json(value_json(db::Value(0.1 + 0.2))), "0.30000000000000004");
  EXPECT_EQ(to_json(value_json(db::Value(1e20))), "1e+20");
  EXPECT_EQ(to_json(value_json(db::Value(-7.0))), "-7");
  EXPECT_EQ(to_json(value_json(db::Value(std::int64_t{7}))), "7");
}

}  // namespace
}  // namespace sluice::reindex
