#include <unistd.h>
#include <zlib.h>

#include <charconv>
#include <map>

#include <fmt/format.h>

#include "audit.hpp"
#include "sluice/atomic_file.hpp"
#include "sluice/crypto.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::audit {
namespace {

// The largest segment verify reads back (compressed).
constexpr std::uint64_t max_segment_bytes = 4ull << 30;

// zlib's windowBits for the gzip format (15, plus 16).
constexpr int gzip_window = 15 + 16;

std::string gzip(std::string_view text) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, gzip_window, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw Error(exit_code::internal, "zlib: deflateInit2 failed");
  }
  std::string compressed(deflateBound(&stream, text.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(compressed.data());
  stream.avail_out = static_cast<uInt>(compressed.size());
  int status = deflate(&stream, Z_FINISH);
  compressed.resize(stream.total_out);
  deflateEnd(&stream);
  if (status != Z_STREAM_END) throw Error(exit_code::internal, "zlib: deflate failed");
  return compressed;
}

std::string gunzip(std::string_view compressed, std::string_view name) {
  z_stream stream{};
  if (inflateInit2(&stream, gzip_window) != Z_OK) {
    throw Error(exit_code::internal, "zlib: inflateInit2 failed");
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string text;
  char buffer[1 << 16];
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    status = inflate(&stream, Z_NO_FLUSH);
    text.append(buffer, sizeof buffer - stream.avail_out);
  }
  inflateEnd(&stream);
  if (status != Z_STREAM_END) {
    throw Error(exit_code::data, fmt::format("{}: not a complete gzip stream", name));
  }
  return text;
}

std::int64_t seq_field(const JsonValue& value, std::string_view name, std::string_view where) {
  const JsonValue* field = value.find(name);
  std::int64_t number = 0;
  bool valid = field != nullptr && field->is_number();
  if (valid) {
    const std::string& text = field->text();
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    valid = error == std::errc() && end == text.data() + text.size() && number >= 1;
  }
  if (!valid) {
    throw Error(exit_code::data, fmt::format("field '{}' must be a whole number", name),
                std::string(where));
  }
  return number;
}

std::string text_field(const JsonValue& value, std::string_view name, std::string_view where) {
  const JsonValue* field = value.find(name);
  if (field == nullptr || !field->is_string()) {
    throw Error(exit_code::data, fmt::format("field '{}' must be a string", name),
                std::string(where));
  }
  return field->text();
}

}  // namespace

int archive(Store& store, const Clock& clock, const ArchiveOptions& options) {
  if (::access(options.out.c_str(), F_OK) == 0) {
    throw Error(
        exit_code::cannot_create,
        fmt::format("--out: '{}' exists (archive never overwrites a segment)", options.out));
  }
  db::WriteTransaction transaction(store.database());
  db::take_turns_writing(store.database(), "audit_entries");
  ArchiveBatch batch = store.entries_before(options.before);
  if (batch.entries.empty()) {
    if (!options.quiet) note("nothing to archive: no live entry is that old");
    return exit_code::success;
  }
  ObjectWriter header;
  header.add_string("segment", "audit").add_int("first_seq", batch.entries.front().seq);
  header.add_int("last_seq", batch.entries.back().seq);
  header.add_string("previous_hash", batch.previous_hash);
  std::string text = header.finish() + "\n";
  for (const Entry& entry : batch.entries) text += entry_line(entry) + "\n";
  std::string compressed = gzip(text);
  // The segment is in place before the entries leave the log: a crash in between leaves them
  // in the log, and a rerun writes the segment again (under another name).
  AtomicFile(options.out, 0600).commit(compressed);
  store.archive(batch, options.out, to_hex(sha256(compressed)), clock.now());
  transaction.commit();
  if (!options.quiet) {
    note(fmt::format("archived entries {} to {} into {}", batch.entries.front().seq,
                     batch.entries.back().seq, options.out));
  }
  return exit_code::success;
}

std::optional<Problem> check_segment(Store& store, const std::string& path) {
  InputFile input(path);
  std::string text = gunzip(read_all(input.fd(), path, max_segment_bytes), path);
  std::map<std::int64_t, Entry> stored;
  store.visit_archived([&](const Entry& entry) {
    stored.emplace(entry.seq, entry);
    return true;
  });
  JsonParser parser;
  std::size_t position = 0;
  long long line_number = 0;
  std::optional<JsonValue> header;
  std::int64_t expected = 0;
  std::int64_t last = 0;
  Hash previous{};
  while (position < text.size()) {
    std::size_t end = text.find('\n', position);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + position, end - position);
    position = end + 1;
    std::string where = location(path, ++line_number);
    ParseOutcome parsed = parser.parse_object(line);
    if (!parsed.value) throw Error(exit_code::data, parsed.error, where);
    if (line_number == 1) {
      expected = seq_field(*parsed.value, "first_seq", where);
      last = seq_field(*parsed.value, "last_seq", where);
      previous = hash_from_hex(text_field(*parsed.value, "previous_hash", where), where);
      continue;
    }
    std::int64_t seq = seq_field(*parsed.value, "seq", where);
    if (seq != expected) {
      return Problem{expected, "missing", fmt::format("missing from segment {}", path)};
    }
    std::vector<JsonValue::Member> members;
    for (const auto& member : parsed.value->members()) {
      if (member.first != "hash") members.push_back(member);
    }
    std::string canonical = canonical_json(JsonValue::object(std::move(members)));
    previous = chain_hash(previous, canonical);
    auto found = stored.find(seq);
    if (found == stored.end() || hash_hex(previous) != found->second.hash ||
        hash_hex(leaf_hash(canonical)) != found->second.leaf ||
        text_field(*parsed.value, "hash", where) != found->second.hash) {
      return Problem{seq, "changed",
                     fmt::format("changed in segment {} (it does not match the log's chain "
                                 "hash and leaf)",
                                 path)};
    }
    ++expected;
  }
  if (expected != last + 1) {
    return Problem{expected, "missing", fmt::format("missing from segment {}", path)};
  }
  return std::nullopt;
}

}  // namespace sluice::audit
