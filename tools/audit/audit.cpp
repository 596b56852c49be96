#include "audit.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/keys.hpp"
#include "sluice/signals.hpp"

namespace sluice::audit {
namespace {

// The largest proof or head file check-proof reads.
constexpr std::uint64_t max_proof_bytes = 16u << 20;

// Rows a follower prints before it commits its cursor.
constexpr std::int64_t follow_page = 1000;

// An entry's actor or action read from a line: the toolkit's key rule (printable ASCII, no
// spaces, 1 to 255 bytes) keeps them indexable and safe to print.
std::string named_field(JsonlReader& reader, const Record& record, const JsonValue* field,
                        std::string_view name) {
  if (field == nullptr) reader.reject(record, fmt::format("field '{}' is missing", name));
  if (!field->is_string()) {
    reader.reject(
        record, fmt::format("field '{}' must be a string, not {}", name, kind_name(field->kind())));
  }
  if (!is_valid_key(field->text())) {
    reader.reject(record, fmt::format("field '{}': '{}' is not 1 to 255 printable ASCII characters "
                                      "without spaces",
                                      name, without_control_characters(field->text())));
  }
  return field->text();
}

NewEntry new_entry(JsonlReader& reader, const Record& record, const AppendOptions& options) {
  if (options.actor) return {*options.actor, *options.action, canonical_json(record.value)};
  for (const auto& [key, value] : record.value.members()) {
    if (key != "actor" && key != "action" && key != "payload") {
      reader.reject(record, fmt::format("unknown field '{}' (without --actor and --action a "
                                        "line is {{\"actor\",\"action\",\"payload\"}})",
                                        without_control_characters(key)));
    }
  }
  NewEntry entry;
  entry.actor = named_field(reader, record, record.value.find("actor"), "actor");
  entry.action = named_field(reader, record, record.value.find("action"), "action");
  const JsonValue* payload = record.value.find("payload");
  if (payload == nullptr) reader.reject(record, "field 'payload' is missing");
  if (!payload->is_object()) {
    reader.reject(record, fmt::format("field 'payload' must be an object, not {}",
                                      kind_name(payload->kind())));
  }
  entry.payload = canonical_json(*payload);
  return entry;
}

// The perfect subtrees of the leaves seen so far, largest first: the tree's right edge, from
// which each new leaf's completed nodes and the root of the current size follow.
class Frontier {
 public:
  // Adds leaf `index`; returns the subtrees (level >= 1) it completes.
  std::vector<CompletedNode> add(std::uint64_t index, const Hash& leaf) {
    std::vector<CompletedNode> completed;
    CompletedNode current{0, index, leaf};
    while (!levels_.empty() && levels_.back().level == current.level) {
      current.hash = node_hash(levels_.back().hash, current.hash);
      ++current.level;
      current.index >>= 1;
      levels_.pop_back();
      completed.push_back(current);
    }
    levels_.push_back(current);
    return completed;
  }
  [[nodiscard]] Hash root() const {
    if (levels_.empty()) return empty_tree_hash();
    Hash root = levels_.back().hash;
    for (auto it = levels_.rbegin() + 1; it != levels_.rend(); ++it) {
      root = node_hash(it->hash, root);
    }
    return root;
  }

 private:
  std::vector<CompletedNode> levels_;
};

int report_problem(const Problem& problem, std::int64_t size, OutputStream& out) {
  ObjectWriter record;
  record.add_bool("valid", false).add_int("seq", problem.seq).add_string("problem", problem.kind);
  record.add_int("verified", size);
  out.write_line(record.finish());
  print_diagnostic(Severity::error, {}, fmt::format("entry {}: {}", problem.seq, problem.detail));
  return mismatch_exit;
}

// Walks the stored entries in order, recomputing each one's chain hash and leaf and the tree
// nodes they complete; returns the first problem, if any.
std::optional<Problem> check_entries(Store& store, Frontier& frontier, std::int64_t& size,
                                     const VerifyOptions& options, std::optional<Hash>& root_at) {
  std::map<std::pair<int, std::uint64_t>, Hash> stored_nodes;
  store.visit_nodes([&](int level, std::uint64_t index, const Hash& hash) {
    stored_nodes[{level, index}] = hash;
  });
  std::optional<Problem> problem;
  // Adds the next leaf to the recomputed tree, comparing each node it completes with the
  // stored one.
  auto add_leaf = [&](const Hash& leaf, std::int64_t seq) {
    for (const CompletedNode& done : frontier.add(static_cast<std::uint64_t>(size), leaf)) {
      auto found = stored_nodes.find({done.level, done.index});
      if (found == stored_nodes.end() || found->second != done.hash) {
        std::int64_t first = static_cast<std::int64_t>(done.index << done.level) + 1;
        problem = Problem{first, "changed",
                          fmt::format("the Merkle node ({}, {}) over entries {} to {} does not "
                                      "match them",
                                      done.level, done.index, first, seq)};
        return false;
      }
      stored_nodes.erase(found);
    }
    ++size;
    if (options.size && size == *options.size) root_at = frontier.root();
    return true;
  };
  auto in_order = [&](std::int64_t seq) {
    if (seq == size + 1) return true;
    problem =
        Problem{size + 1, "missing", fmt::format("missing (the next stored entry is {})", seq)};
    return false;
  };
  Hash previous{};
  // Archived entries: their leaves and chain hashes as the log kept them (a segment's
  // contents are checked against them with --archive).
  store.visit_archived([&](const Entry& entry) {
    if (!in_order(entry.seq)) return false;
    previous = hash_from_hex(entry.hash, fmt::format("the stored hash of entry {}", entry.seq));
    return add_leaf(hash_from_hex(entry.leaf, "a stored leaf hash"), entry.seq);
  });
  if (problem) return problem;
  store.read({}, [&](const Entry& entry) {
    if (!in_order(entry.seq)) return false;
    std::string canonical = canonical_entry(entry);
    Hash leaf = leaf_hash(canonical);
    if (hash_hex(leaf) != entry.leaf) {
      problem = Problem{entry.seq, "changed", "changed (its contents do not match its leaf hash)"};
      return false;
    }
    previous = chain_hash(previous, canonical);
    if (hash_hex(previous) != entry.hash) {
      problem = Problem{entry.seq, "chain",
                        "its hash does not chain from the entry before it (an entry was "
                        "changed, removed or moved)"};
      return false;
    }
    return add_leaf(leaf, entry.seq);
  });
  if (!problem && !stored_nodes.empty()) {
    // Nodes over leaves past the end: entries were removed from the end of the log.
    problem = Problem{size + 1, "missing",
                      "missing: the Merkle tree covers entries past the last one stored"};
  }
  return problem;
}

std::uint64_t unsigned_field(const JsonValue& proof, std::string_view name,
                             std::string_view source) {
  const JsonValue* field = proof.find(name);
  std::uint64_t value = 0;
  bool valid = field != nullptr && field->is_number();
  if (valid) {
    const std::string& text = field->text();
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    valid = error == std::errc() && end == text.data() + text.size() &&
            value <= static_cast<std::uint64_t>(INT64_MAX);
  }
  if (!valid) {
    throw Error(exit_code::data,
                fmt::format("{}: field '{}' must be a whole number", source, name));
  }
  return value;
}

Hash hash_field(const JsonValue& proof, std::string_view name, std::string_view source) {
  const JsonValue* field = proof.find(name);
  if (field == nullptr || !field->is_string()) {
    throw Error(
        exit_code::data,
        fmt::format("{}: field '{}' must be a string of 64 hexadecimal digits", source, name));
  }
  return hash_from_hex(field->text(), fmt::format("{}: field '{}'", source, name));
}

std::vector<Hash> path_field(const JsonValue& proof, std::string_view source) {
  const JsonValue* field = proof.find("path");
  if (field == nullptr || field->kind() != JsonValue::Kind::array) {
    throw Error(exit_code::data, fmt::format("{}: field 'path' must be an array", source));
  }
  std::vector<Hash> path;
  for (const JsonValue& item : field->items()) {
    if (!item.is_string()) {
      throw Error(exit_code::data,
                  fmt::format("{}: field 'path' must hold hexadecimal strings", source));
    }
    path.push_back(hash_from_hex(item.text(), fmt::format("{}: an element of 'path'", source)));
  }
  return path;
}

std::string path_json(const std::vector<Hash>& path) {
  std::string text = "[";
  for (const Hash& hash : path) {
    if (text.size() > 1) text += ',';
    text += '"' + hash_hex(hash) + '"';
  }
  return text + "]";
}

// The leaf hash of an entry as `prove` prints it: its canonical JSON without "hash".
Hash entry_leaf(const JsonValue& entry) {
  std::vector<JsonValue::Member> members;
  for (const auto& member : entry.members()) {
    if (member.first != "hash") members.push_back(member);
  }
  return leaf_hash(canonical_json(JsonValue::object(std::move(members))));
}

std::int64_t checked_size(Store& store, std::optional<std::int64_t> requested) {
  std::int64_t current = store.size();
  if (!requested) return current;
  if (*requested > current) {
    throw Error(exit_code::data,
                fmt::format("--size {} is larger than the log ({} entries)", *requested, current));
  }
  return *requested;
}

int prove_inclusion(Store& store, std::int64_t seq, std::int64_t size, OutputStream& out) {
  if (seq > size) {
    throw Error(exit_code::data, fmt::format("--seq {} is not in a log of {} entries", seq, size));
  }
  NodeSource nodes = store.node_source();
  auto leaf = static_cast<std::uint64_t>(seq - 1);
  auto tree_size = static_cast<std::uint64_t>(size);
  std::string entry_text;
  store.read({.after = seq - 1, .limit = 1}, [&](const Entry& entry) {
    if (entry.seq == seq) entry_text = entry_line(entry);
    return false;
  });
  ObjectWriter record;
  record.add_string("type", "inclusion").add_int("seq", seq).add_int("size", size);
  record.add_string("leaf_hash", hash_hex(nodes(0, leaf)));
  record.add_string("root", hash_hex(tree_root(nodes, tree_size)));
  record.add_raw("path", path_json(inclusion_proof(nodes, leaf, tree_size)));
  // An archived entry is in its segment, not in the log: the proof then carries its leaf only.
  if (!entry_text.empty()) record.add_raw("entry", entry_text);
  out.write_line(record.finish());
  return exit_code::success;
}

int prove_consistency(Store& store, std::int64_t from, std::int64_t size, OutputStream& out) {
  if (from > size) {
    throw Error(exit_code::data,
                fmt::format("--from {} is larger than the tree of {} entries", from, size));
  }
  NodeSource nodes = store.node_source();
  auto old_size = static_cast<std::uint64_t>(from);
  auto tree_size = static_cast<std::uint64_t>(size);
  ObjectWriter record;
  record.add_string("type", "consistency").add_int("old_size", from).add_int("size", size);
  record.add_string("old_root", hash_hex(tree_root(nodes, old_size)));
  record.add_string("root", hash_hex(tree_root(nodes, tree_size)));
  record.add_raw("path", path_json(consistency_proof(nodes, old_size, tree_size)));
  out.write_line(record.finish());
  return exit_code::success;
}

// Whether a proof's root is the one the caller holds (no --root: nothing to compare).
bool root_matches(const std::optional<std::string>& given, const Hash& root,
                  std::string_view option) {
  return !given || hash_from_hex(*given, option) == root;
}

// stdout when it is a regular file: its identity and where the next write lands.
struct OutputFile {
  std::string identity;  // device:inode
  std::int64_t size = 0;
};

std::optional<OutputFile> regular_output(int fd) {
  struct stat status {};
  if (::fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) return std::nullopt;
  return OutputFile{fmt::format("{}:{}", status.st_dev, status.st_ino),
                    static_cast<std::int64_t>(status.st_size)};
}

// Where a follower resumes: after the cursor, or after its pending page when that page
// reached the same regular file in full. A page cut short is cut off the file, to be written
// again whole. (Into a pipe nobody can tell: the page is written again, at least once.)
std::int64_t settled_position(const Cursor& cursor, std::optional<OutputFile>& file) {
  if (!cursor.pending || !file || file->identity != cursor.pending->file) return cursor.after;
  const PendingWrite& pending = *cursor.pending;
  if (file->size >= pending.to) return pending.after;
  if (file->size > pending.from) {
    if (::ftruncate(STDOUT_FILENO, pending.from) != 0) {
      throw Error(exit_code::io, fmt::format("cannot cut the partly written page off stdout: {}",
                                             std::strerror(errno)));
    }
    file->size = pending.from;
    // Without O_APPEND (">" rather than ">>") the next write would land past the cut.
    ::lseek(STDOUT_FILENO, 0, SEEK_END);
  }
  return cursor.after;
}

// Writes one page of entries with one write(2) and moves the cursor past it; into a regular
// file, the page is recorded as pending first (see PendingWrite).
void write_page(Store& store, const Clock& clock, const std::optional<std::string>& cursor,
                std::optional<OutputFile>& file, std::int64_t last, std::int64_t after,
                const std::string& page, int fd) {
  if (cursor && file) {
    if (auto now = regular_output(fd)) file->size = now->size;
    auto end = file->size + static_cast<std::int64_t>(page.size());
    store.set_cursor(*cursor, after, clock.now(),
                     PendingWrite{last, file->identity, file->size, end});
  }
  write_or_throw(fd, page, "<stdout>");
  if (file) file->size += static_cast<std::int64_t>(page.size());
  // The cursor moves only once the entries left this process.
  if (cursor) store.set_cursor(*cursor, last, clock.now());
}

// A follower with a cursor must not pass silently over entries archived before it read them:
// its position would then claim entries it never wrote out.
void refuse_archived_gap(Store& store, const std::string& cursor, std::int64_t after) {
  std::optional<Store::Segment> segment = store.segment_after(after);
  if (!segment) return;
  std::int64_t first = std::max(after + 1, segment->first);
  throw Error(
      exit_code::data,
      fmt::format("cursor '{}' is after entry {}, but entries {} to {} were archived "
                  "into '{}' before it read them: take them from that segment, then "
                  "'cursor set {} --after {}'",
                  cursor, after, first, segment->last, segment->file, cursor, segment->last));
}

}  // namespace

AppendResult append(Store& store, const Clock& clock, const AppendOptions& options) {
  JsonlReader reader(options.inputs, options.input);
  std::vector<NewEntry> batch;
  AppendResult total;
  auto commit = [&] {
    AppendResult done = store.append(batch, clock);
    batch.clear();
    if (done.first == 0) return;
    if (total.first == 0) total.first = done.first;
    total.last = done.last;
  };
  // With --batch, entries do not wait in memory while a streaming producer pauses.
  if (options.batch > 0) reader.on_idle(commit);
  while (auto record = reader.next()) {
    batch.push_back(new_entry(reader, *record, options));
    if (options.batch > 0 && static_cast<std::int64_t>(batch.size()) >= options.batch) commit();
  }
  commit();
  return total;
}

std::int64_t read(Store& store, const ReadFilter& filter, OutputStream& out) {
  std::int64_t count = 0;
  store.read(filter, [&](const Entry& entry) {
    out.write_line(entry_line(entry));
    ++count;
    return true;
  });
  return count;
}

int follow(Store& store, const Clock& clock, const FollowOptions& options, OutputStream& out) {
  std::int64_t after = options.after;
  std::optional<OutputFile> file = regular_output(out.fd());
  if (options.cursor) {
    if (auto cursor = store.cursor(*options.cursor)) after = settled_position(*cursor, file);
    refuse_archived_gap(store, *options.cursor, after);
  }
  std::int64_t written = 0;
  out.flush();
  for (;;) {
    std::int64_t wanted = follow_page;
    if (options.limit) wanted = std::min(wanted, *options.limit - written);
    std::int64_t last = after;
    std::string page;
    store.read({.after = after, .limit = wanted}, [&](const Entry& entry) {
      // seq has no gaps: a jump is entries archived while this follower ran.
      if (options.cursor && last == after && entry.seq != after + 1) {
        refuse_archived_gap(store, *options.cursor, after);
      }
      page += entry_line(entry);
      page += '\n';
      last = entry.seq;
      ++written;
      return true;
    });
    if (last > after) {
      write_page(store, clock, options.cursor, file, last, after, page, out.fd());
      after = last;
      if (options.limit && written >= *options.limit) return exit_code::success;
      continue;
    }
    if (options.limit && written >= *options.limit) return exit_code::success;
    sleep_unless_interrupted(options.poll);
    throw_if_interrupted();
  }
}

int verify(Store& store, const VerifyOptions& options, OutputStream& out) {
  std::optional<Hash> expected_root;
  if (options.root) expected_root = hash_from_hex(*options.root, "--root");
  db::ReadTransaction transaction(store.database());
  Frontier frontier;
  std::int64_t size = 0;
  std::optional<Hash> root_at;
  if (options.size && *options.size == 0) root_at = empty_tree_hash();
  for (const std::string& segment : options.archives) {
    if (auto problem = check_segment(store, segment)) return report_problem(*problem, 0, out);
  }
  if (auto problem = check_entries(store, frontier, size, options, root_at)) {
    return report_problem(*problem, size, out);
  }
  if (options.size && *options.size > size) {
    return report_problem(
        {size + 1, "missing",
         fmt::format("missing: the head given has {} entries, the log {}", *options.size, size)},
        size, out);
  }
  if (expected_root && root_at != expected_root) {
    return report_problem({1, "changed",
                           fmt::format("the first {} entries do not have the root given: "
                                       "the log was rewritten",
                                       *options.size)},
                          size, out);
  }
  ObjectWriter record;
  record.add_bool("valid", true).add_int("size", size);
  record.add_string("root", hash_hex(frontier.root()));
  out.write_line(record.finish());
  return exit_code::success;
}

int head(Store& store, OutputStream& out) {
  db::ReadTransaction transaction(store.database());
  std::int64_t size = store.size();
  ObjectWriter record;
  record.add_int("size", size);
  record.add_string("root",
                    hash_hex(tree_root(store.node_source(), static_cast<std::uint64_t>(size))));
  out.write_line(record.finish());
  return exit_code::success;
}

int prove(Store& store, const ProveOptions& options, OutputStream& out) {
  db::ReadTransaction transaction(store.database());
  std::int64_t size = checked_size(store, options.size);
  if (options.seq) return prove_inclusion(store, *options.seq, size, out);
  return prove_consistency(store, *options.from, size, out);
}

int check_proof(const CheckOptions& options, OutputStream& out) {
  InputFile input(options.input);
  std::string text = read_all(input.fd(), input.name(), max_proof_bytes);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  JsonParser parser;
  ParseOutcome parsed = parser.parse_object(text);
  const std::string& source = input.name();
  if (!parsed.value) throw Error(exit_code::data, fmt::format("{}: {}", source, parsed.error));
  const JsonValue& proof = *parsed.value;
  const JsonValue* type = proof.find("type");
  std::string kind = type != nullptr && type->is_string() ? type->text() : "";
  bool valid = false;
  ObjectWriter record;
  if (kind == "inclusion") {
    std::uint64_t seq = unsigned_field(proof, "seq", source);
    std::uint64_t size = unsigned_field(proof, "size", source);
    Hash leaf = hash_field(proof, "leaf_hash", source);
    Hash root = hash_field(proof, "root", source);
    const JsonValue* entry = proof.find("entry");
    bool entry_matches = entry == nullptr || (entry->is_object() && entry_leaf(*entry) == leaf);
    valid = seq >= 1 && entry_matches && root_matches(options.root, root, "--root") &&
            verify_inclusion(seq - 1, size, leaf, path_field(proof, source), root);
    record.add_bool("valid", valid).add_string("type", kind);
    record.add_int("seq", static_cast<long long>(seq))
        .add_int("size", static_cast<long long>(size));
    record.add_string("root", hash_hex(root));
  } else if (kind == "consistency") {
    std::uint64_t old_size = unsigned_field(proof, "old_size", source);
    std::uint64_t size = unsigned_field(proof, "size", source);
    Hash old_root = hash_field(proof, "old_root", source);
    Hash root = hash_field(proof, "root", source);
    valid = root_matches(options.root, root, "--root") &&
            root_matches(options.old_root, old_root, "--old-root") &&
            verify_consistency(old_size, size, old_root, root, path_field(proof, source));
    record.add_bool("valid", valid).add_string("type", kind);
    record.add_int("old_size", static_cast<long long>(old_size));
    record.add_int("size", static_cast<long long>(size));
    record.add_string("old_root", hash_hex(old_root)).add_string("root", hash_hex(root));
  } else {
    throw Error(exit_code::data,
                fmt::format("{}: field 'type' must be \"inclusion\" or \"consistency\"", source));
  }
  out.write_line(record.finish());
  return valid ? exit_code::success : mismatch_exit;
}

}  // namespace sluice::audit
