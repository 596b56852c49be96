// The audit state: the entries (audit_entries, one row per seq, with the chain hash and the
// RFC 9162 leaf hash), the hashes of every completed perfect subtree of the Merkle tree
// (audit_nodes), and the followers' cursors (audit_cursors).
//
// An append is one write transaction that takes turns with every other appender (SQLite's one
// writer, queued on the db module's writer lock; on a server, LOCK TABLE ... SHARE ROW
// EXCLUSIVE), reads the tail, and writes a whole batch: seq stays gap-free and the chain never
// forks, however many processes append at once.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit_merkle.hpp"
#include "sluice/clock.hpp"
#include "sluice/db.hpp"
#include "sluice/json.hpp"

namespace sluice::audit {

// One stored entry. `payload` is the payload object's canonical JSON.
struct Entry {
  std::int64_t seq = 0;
  Instant ts;
  std::string actor;
  std::string action;
  std::string payload;
  std::string hash;  // hex
  std::string leaf;  // hex
};

// An entry waiting to be appended.
struct NewEntry {
  std::string actor;
  std::string action;
  std::string payload;  // canonical JSON of an object
};

// The canonical JSON the chain and the leaf hash cover: the entry without its hash, members
// sorted ({"action","actor","payload","seq","ts"}), exactly canonical_json of that object.
std::string canonical_entry(const Entry& entry);
// The same with the entry's ts already formatted (a batch shares one).
std::string canonical_entry(const Entry& entry, std::string_view ts);
// SHA-256(previous hash || canonical entry); the first entry's previous hash is 32 zero bytes.
Hash chain_hash(const Hash& previous, std::string_view canonical);
// The entry as printed: {"seq","ts","actor","action","payload","hash"}.
std::string entry_line(const Entry& entry);

// What `audit read` selects; unset fields do not filter.
struct ReadFilter {
  std::int64_t after = 0;
  std::optional<std::int64_t> limit;
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<Instant> since;  // ts >= since
  std::optional<Instant> until;  // ts < until
};

// A page of entries a follower is writing to a regular file: the entries up to `after` go to
// the file `file` (device:inode) between offsets `from` and `to`. Recorded before the write
// and cleared after it, so that a follower killed in between can tell from the file's size
// whether the page got out, and write it exactly once.
struct PendingWrite {
  std::int64_t after = 0;
  std::string file;
  std::int64_t from = 0;
  std::int64_t to = 0;
};

struct Cursor {
  std::string name;
  std::int64_t after = 0;  // the last seq written out
  Instant updated_at;
  std::optional<PendingWrite> pending;
};

// The entries an archive moves out of the log, and the chain hash before the first of them.
struct ArchiveBatch {
  std::string previous_hash;  // hex
  std::vector<Entry> entries;
};

struct AppendResult {
  std::int64_t first = 0;  // seq of the first entry appended (0 when none)
  std::int64_t last = 0;
};

class Store {
 public:
  Store(const std::string& location, db::OpenOptions options);

  db::Database& database() { return database_; }
  Clock clock(const Clock& requested) { return database_.clock(requested); }

  // Appends `entries` in one transaction, stamped with `clock`'s time (never earlier than the
  // last entry's, so that ts grows with seq).
  AppendResult append(const std::vector<NewEntry>& entries, const Clock& clock);

  // Visits the entries `filter` selects in seq order, a page per query (no long transaction).
  // `visit` returns false to stop.
  void read(const ReadFilter& filter, const std::function<bool(const Entry&)>& visit);

  // The number of entries (the tree size), inside the caller's transaction if any.
  std::int64_t size();

  // The stored hash of a perfect subtree (level 0: an entry's leaf), inside the caller's read
  // transaction. A missing node is Error(65): the state was tampered with.
  Hash node(int level, std::uint64_t index);
  NodeSource node_source() {
    return [this](int level, std::uint64_t index) { return node(level, index); };
  }

  // Inside the caller's write transaction: the live entries whose ts is before `before`.
  ArchiveBatch entries_before(Instant before);
  // Inside the caller's write transaction: moves the batch's entries out of the log, keeping
  // their ts, chain hash and leaf in audit_archived, and records the segment file.
  void archive(const ArchiveBatch& batch, const std::string& file, const std::string& sha256,
               Instant now);
  // Visits the archived entries (seq, ts, hash and leaf only) in seq order.
  void visit_archived(const std::function<bool(const Entry&)>& visit);

  // The first segment holding entries after `after` (first seq, last seq, file), if any.
  struct Segment {
    std::int64_t first = 0;
    std::int64_t last = 0;
    std::string file;
  };
  std::optional<Segment> segment_after(std::int64_t after);

  // Visits every stored node of level >= 1.
  void visit_nodes(const std::function<void(int level, std::uint64_t index, const Hash&)>& visit);

  std::optional<Cursor> cursor(std::string_view name);
  // Places the cursor after `after`, with the page being written (or none).
  void set_cursor(std::string_view name, std::int64_t after, Instant now,
                  const std::optional<PendingWrite>& pending = std::nullopt);
  bool delete_cursor(std::string_view name);
  std::vector<Cursor> cursors();

 private:
  db::Database database_;
};

}  // namespace sluice::audit
