#include "audit_store.hpp"

#include <algorithm>
#include <array>
#include <iterator>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::audit {
namespace {

constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE audit_entries (
  seq INTEGER PRIMARY KEY CHECK (seq >= 1),
  ts INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  payload TEXT NOT NULL,
  hash TEXT NOT NULL,
  leaf TEXT NOT NULL
) STRICT;
CREATE INDEX audit_entries_by_actor ON audit_entries (actor, seq);
CREATE INDEX audit_entries_by_action ON audit_entries (action, seq);
CREATE INDEX audit_entries_by_ts ON audit_entries (ts, seq);
CREATE TABLE audit_nodes (
  node_level INTEGER NOT NULL CHECK (node_level >= 1),
  node_index INTEGER NOT NULL CHECK (node_index >= 0),
  hash TEXT NOT NULL,
  PRIMARY KEY (node_level, node_index)
) STRICT, WITHOUT ROWID;
CREATE TABLE audit_cursors (
  name TEXT PRIMARY KEY,
  after_seq INTEGER NOT NULL CHECK (after_seq >= 0),
  updated_at INTEGER NOT NULL,
  pending_after INTEGER,
  pending_file TEXT,
  pending_from INTEGER,
  pending_to INTEGER
) STRICT;
)sql";

// v2: archived entries (audit archive) keep their ts, chain hash and leaf here, and each
// segment file its range and digest, so that heads, proofs and verify still cover them.
constexpr std::string_view schema_v2 = R"sql(
CREATE TABLE audit_archived (
  seq INTEGER PRIMARY KEY CHECK (seq >= 1),
  ts INTEGER NOT NULL,
  hash TEXT NOT NULL,
  leaf TEXT NOT NULL
) STRICT;
CREATE TABLE audit_segments (
  first_seq INTEGER PRIMARY KEY,
  last_seq INTEGER NOT NULL,
  file TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  archived_at INTEGER NOT NULL
) STRICT;
)sql";

constexpr std::array<std::string_view, 2> migrations{schema_v1, schema_v2};
constexpr db::Schema schema{migrations};

constexpr std::array<std::string_view, 7> entry_columns{"seq",     "ts",   "actor", "action",
                                                        "payload", "hash", "leaf"};
constexpr std::array<std::string_view, 3> node_columns{"node_level", "node_index", "hash"};

// Rows per query of a read: each page is its own short statement, so a long read or a
// follower never holds a transaction open (which would stop SQLite's WAL checkpoints).
constexpr std::int64_t page_rows = 1000;

// The log's appends are audit's money: a committed entry must survive a power cut.
db::OpenOptions open_options(db::OpenOptions options) {
  options.synchronous = db::Synchronous::full;
  options.serialize_writers = true;
  options.cache_kib = 16 * 1024;
  return options;
}

Entry read_entry(db::Statement& row) {
  Entry entry;
  entry.seq = row.integer(0);
  entry.ts = instant_from_micros(row.integer(1));
  entry.actor = row.text(2);
  entry.action = row.text(3);
  entry.payload = row.text(4);
  entry.hash = row.text(5);
  entry.leaf = row.text(6);
  return entry;
}

// The SELECT of one page of a read, with only the conditions the filter sets (so that the
// index on actor, action or ts is the one used), and the values to bind in order.
struct PageQuery {
  std::string sql;
  std::vector<db::Value> values;
};

PageQuery page_query(const ReadFilter& filter, std::int64_t after, std::int64_t rows) {
  PageQuery page;
  page.sql = "SELECT seq, ts, actor, action, payload, hash, leaf FROM audit_entries WHERE seq > ?";
  page.values.emplace_back(after);
  if (filter.actor) {
    page.sql += " AND actor = ?";
    page.values.emplace_back(*filter.actor);
  }
  if (filter.action) {
    page.sql += " AND action = ?";
    page.values.emplace_back(*filter.action);
  }
  if (filter.since) {
    page.sql += " AND ts >= ?";
    page.values.emplace_back(micros(*filter.since));
  }
  if (filter.until) {
    page.sql += " AND ts < ?";
    page.values.emplace_back(micros(*filter.until));
  }
  page.sql += " ORDER BY seq LIMIT ?";
  page.values.emplace_back(rows);
  return page;
}

// The nodes a batch appended last, two per level: the left sibling a new leaf or node needs is
// always the newest node of its level (or, for a leaf, the one before), so the batch needs no
// map of every node it made (which for a million entries held two million hashes).
class RecentNodes {
 public:
  void put(int level, std::uint64_t index, const Hash& hash) {
    auto& slots = levels_.at(static_cast<std::size_t>(level));
    slots[1] = slots[0];
    slots[0] = Slot{index, hash, true};
  }
  [[nodiscard]] const Hash* find(int level, std::uint64_t index) const {
    for (const Slot& slot : levels_.at(static_cast<std::size_t>(level))) {
      if (slot.set && slot.index == index) return &slot.hash;
    }
    return nullptr;
  }

 private:
  struct Slot {
    std::uint64_t index = 0;
    Hash hash{};
    bool set = false;
  };
  std::array<std::array<Slot, 2>, 65> levels_{};
};

}  // namespace

std::string canonical_entry(const Entry& entry) {
  return canonical_entry(entry, format_instant(entry.ts));
}

std::string canonical_entry(const Entry& entry, std::string_view ts) {
  std::string text = "{\"action\":";
  text.reserve(entry.payload.size() + entry.actor.size() + entry.action.size() + 96);
  append_json_string(text, entry.action);
  text += ",\"actor\":";
  append_json_string(text, entry.actor);
  text += ",\"payload\":";
  text += entry.payload;
  text += ",\"seq\":";
  fmt::format_to(std::back_inserter(text), "{}", entry.seq);
  text += ",\"ts\":";
  append_json_string(text, ts);
  text += '}';
  return text;
}

Hash chain_hash(const Hash& previous, std::string_view canonical) {
  Sha256 hasher;
  hasher.update(hash_bytes(previous));
  hasher.update(canonical);
  return hasher.finish();
}

std::string entry_line(const Entry& entry) {
  std::string text = fmt::format("{{\"seq\":{},\"ts\":", entry.seq);
  append_json_string(text, format_instant(entry.ts));
  text += ",\"actor\":";
  append_json_string(text, entry.actor);
  text += ",\"action\":";
  append_json_string(text, entry.action);
  text += ",\"payload\":";
  text += entry.payload;
  text += ",\"hash\":\"";
  text += entry.hash;
  text += "\"}";
  return text;
}

Store::Store(const std::string& location, db::OpenOptions options)
    : database_(location, open_options(options)) {
  db::migrate(database_, "audit", schema);
}

AppendResult Store::append(const std::vector<NewEntry>& entries, const Clock& clock) {
  if (entries.empty()) return {};
  db::WriteTransaction transaction(database_);
  db::take_turns_writing(database_, "audit_entries");
  std::int64_t last = 0;
  Hash previous{};
  Instant last_ts{};
  // The last entry is live, or archived when everything was archived.
  for (std::string_view table : {"audit_entries", "audit_archived"}) {
    auto tail = database_.query(
        fmt::format("SELECT seq, hash, ts FROM {} ORDER BY seq DESC LIMIT 1", table));
    if (tail.step()) {
      last = tail->integer(0);
      previous = hash_from_hex(tail->text(1), fmt::format("the stored hash of entry {}", last));
      last_ts = instant_from_micros(tail->integer(2));
      break;
    }
  }
  const Instant now = std::max(clock.now(), last_ts);
  // One time for the whole batch: formatted once, not once per entry.
  const std::string now_text = format_instant(now);
  // Every hash is computed before the first row is written: on a server the rows go in one
  // COPY, during which the connection runs no other query.
  RecentNodes fresh;
  NodeSource nodes = [&](int level, std::uint64_t index) {
    const Hash* found = fresh.find(level, index);
    return found != nullptr ? *found : node(level, index);
  };
  std::vector<Entry> rows;
  std::vector<CompletedNode> completed;
  rows.reserve(entries.size());
  AppendResult result{last + 1, last + static_cast<std::int64_t>(entries.size())};
  for (const NewEntry& given : entries) {
    Entry entry{++last, now, given.actor, given.action, given.payload, {}, {}};
    std::string canonical = canonical_entry(entry, now_text);
    previous = chain_hash(previous, canonical);
    Hash leaf = leaf_hash(canonical);
    entry.hash = hash_hex(previous);
    entry.leaf = hash_hex(leaf);
    auto index = static_cast<std::uint64_t>(entry.seq - 1);
    fresh.put(0, index, leaf);
    for (const CompletedNode& done : nodes_completed_by(nodes, index)) {
      fresh.put(done.level, done.index, done.hash);
      completed.push_back(done);
    }
    rows.push_back(std::move(entry));
  }
  db::BulkInsert entry_rows(database_, "audit_entries", entry_columns);
  for (const Entry& entry : rows) {
    entry_rows.add(entry.seq).add(micros(entry.ts)).add(entry.actor).add(entry.action);
    entry_rows.add(entry.payload).add(entry.hash).add(entry.leaf);
    entry_rows.end_row();
  }
  entry_rows.finish();
  db::BulkInsert node_rows(database_, "audit_nodes", node_columns);
  for (const CompletedNode& done : completed) {
    node_rows.add(done.level).add(static_cast<std::int64_t>(done.index)).add(hash_hex(done.hash));
    node_rows.end_row();
  }
  node_rows.finish();
  transaction.commit();
  return result;
}

void Store::read(const ReadFilter& filter, const std::function<bool(const Entry&)>& visit) {
  std::int64_t after = filter.after;
  std::int64_t remaining = filter.limit.value_or(INT64_MAX);
  while (remaining > 0) {
    const std::int64_t wanted = std::min(remaining, page_rows);
    PageQuery page = page_query(filter, after, wanted);
    auto& statement = database_.statement(page.sql);
    db::Query query(statement);
    for (std::size_t i = 0; i < page.values.size(); ++i) {
      statement.bind(static_cast<int>(i + 1), page.values[i]);
    }
    std::int64_t seen = 0;
    while (query.step()) {
      Entry entry = read_entry(query.row());
      after = entry.seq;
      ++seen;
      --remaining;
      if (!visit(entry)) return;
    }
    if (seen < wanted) return;
  }
}

std::int64_t Store::size() {
  std::int64_t size = 0;
  for (std::string_view sql : {"SELECT coalesce(max(seq), 0) FROM audit_entries",
                               "SELECT coalesce(max(seq), 0) FROM audit_archived"}) {
    auto query = database_.query(sql);
    query.step();
    size = std::max(size, query->integer(0));
  }
  return size;
}

ArchiveBatch Store::entries_before(Instant before) {
  ArchiveBatch batch;
  {
    auto last = database_.query("SELECT hash FROM audit_archived ORDER BY seq DESC LIMIT 1");
    if (last.step()) batch.previous_hash = last->text(0);
  }
  if (batch.previous_hash.empty()) batch.previous_hash = hash_hex(Hash{});
  // ts grows with seq: the entries before `before` are a prefix of the live log.
  auto query = database_.query(
      "SELECT seq, ts, actor, action, payload, hash, leaf FROM audit_entries WHERE ts < ?1 "
      "ORDER BY seq",
      micros(before));
  while (query.step()) batch.entries.push_back(read_entry(query.row()));
  return batch;
}

void Store::archive(const ArchiveBatch& batch, const std::string& file, const std::string& sha256,
                    Instant now) {
  if (batch.entries.empty()) return;
  std::int64_t first = batch.entries.front().seq;
  std::int64_t last = batch.entries.back().seq;
  static constexpr std::array<std::string_view, 4> columns{"seq", "ts", "hash", "leaf"};
  {
    db::BulkInsert rows(database_, "audit_archived", columns);
    for (const Entry& entry : batch.entries) {
      rows.add(entry.seq).add(micros(entry.ts)).add(entry.hash).add(entry.leaf);
      rows.end_row();
    }
    rows.finish();
  }
  database_.execute("DELETE FROM audit_entries WHERE seq >= ?1 AND seq <= ?2", first, last);
  database_.execute(
      "INSERT INTO audit_segments (first_seq, last_seq, file, sha256, archived_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5)",
      first, last, file, sha256, micros(now));
}

void Store::visit_archived(const std::function<bool(const Entry&)>& visit) {
  auto query = database_.query("SELECT seq, ts, hash, leaf FROM audit_archived ORDER BY seq");
  while (query.step()) {
    Entry entry;
    entry.seq = query->integer(0);
    entry.ts = instant_from_micros(query->integer(1));
    entry.hash = query->text(2);
    entry.leaf = query->text(3);
    if (!visit(entry)) return;
  }
}

std::optional<Store::Segment> Store::segment_after(std::int64_t after) {
  auto query = database_.query(
      "SELECT first_seq, last_seq, file FROM audit_segments WHERE last_seq > ?1 "
      "ORDER BY first_seq LIMIT 1",
      after);
  if (!query.step()) return std::nullopt;
  return Segment{query->integer(0), query->integer(1), query->text(2)};
}

Hash Store::node(int level, std::uint64_t index) {
  if (level == 0) {
    auto seq = static_cast<std::int64_t>(index + 1);
    auto query = database_.query("SELECT leaf FROM audit_entries WHERE seq = ?1", seq);
    if (!query.step()) {
      auto archived = database_.query("SELECT leaf FROM audit_archived WHERE seq = ?1", seq);
      if (archived.step()) {
        return hash_from_hex(archived->text(0),
                             fmt::format("the stored leaf hash of entry {}", seq));
      }
      throw Error(exit_code::data,
                  fmt::format("state '{}': entry {} is missing (run 'audit verify')",
                              database_.path(), seq));
    }
    return hash_from_hex(query->text(0), fmt::format("the stored leaf hash of entry {}", seq));
  }
  auto query =
      database_.query("SELECT hash FROM audit_nodes WHERE node_level = ?1 AND node_index = ?2",
                      level, static_cast<std::int64_t>(index));
  if (!query.step()) {
    throw Error(exit_code::data,
                fmt::format("state '{}': Merkle node ({}, {}) is missing (run 'audit verify')",
                            database_.path(), level, index));
  }
  return hash_from_hex(query->text(0), "a stored Merkle node hash");
}

void Store::visit_nodes(
    const std::function<void(int level, std::uint64_t index, const Hash&)>& visit) {
  auto query = database_.query(
      "SELECT node_level, node_index, hash FROM audit_nodes "
      "ORDER BY node_level, node_index");
  while (query.step()) {
    visit(static_cast<int>(query->integer(0)), static_cast<std::uint64_t>(query->integer(1)),
          hash_from_hex(query->text(2), "a stored Merkle node hash"));
  }
}

std::optional<Cursor> Store::cursor(std::string_view name) {
  auto query = database_.query(
      "SELECT name, after_seq, updated_at, pending_after, pending_file, pending_from, pending_to "
      "FROM audit_cursors WHERE name = ?1",
      name);
  if (!query.step()) return std::nullopt;
  Cursor cursor{query->text(0), query->integer(1), instant_from_micros(query->integer(2)),
                std::nullopt};
  if (!query->is_null(3)) {
    cursor.pending =
        PendingWrite{query->integer(3), query->text(4), query->integer(5), query->integer(6)};
  }
  return cursor;
}

void Store::set_cursor(std::string_view name, std::int64_t after, Instant now,
                       const std::optional<PendingWrite>& pending) {
  db::WriteTransaction transaction(database_);
  std::optional<std::int64_t> pending_after, pending_from, pending_to;
  std::optional<std::string> pending_file;
  if (pending) {
    pending_after = pending->after;
    pending_file = pending->file;
    pending_from = pending->from;
    pending_to = pending->to;
  }
  database_.execute(
      "INSERT INTO audit_cursors (name, after_seq, updated_at, pending_after, pending_file, "
      "pending_from, pending_to) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
      "ON CONFLICT (name) DO UPDATE SET after_seq = excluded.after_seq, "
      "updated_at = excluded.updated_at, pending_after = excluded.pending_after, "
      "pending_file = excluded.pending_file, pending_from = excluded.pending_from, "
      "pending_to = excluded.pending_to",
      name, after, micros(now), pending_after, pending_file, pending_from, pending_to);
  transaction.commit();
}

bool Store::delete_cursor(std::string_view name) {
  db::WriteTransaction transaction(database_);
  int deleted = database_.execute("DELETE FROM audit_cursors WHERE name = ?1", name);
  transaction.commit();
  return deleted == 1;
}

std::vector<Cursor> Store::cursors() {
  std::vector<Cursor> found;
  auto query =
      database_.query("SELECT name, after_seq, updated_at FROM audit_cursors ORDER BY name");
  while (query.step()) {
    found.push_back(
        {query->text(0), query->integer(1), instant_from_micros(query->integer(2)), std::nullopt});
  }
  return found;
}

}  // namespace sluice::audit
