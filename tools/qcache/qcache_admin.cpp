// The administrative subcommands: invalidate, gc, stats, show.
#include <fmt/format.h>

#include "qcache.hpp"
#include "sluice/json.hpp"

namespace sluice::qcache {
namespace {

// Whether a tag was bumped since the entry was computed: no lookup can reach it any more.
bool is_unreachable(Store& store, const Entry& entry) {
  std::vector<std::string> names;
  for (const TagVersion& tag : entry.tags) names.push_back(tag.tag);
  std::vector<TagVersion> current = store.tag_versions(names);
  for (std::size_t i = 0; i < current.size(); ++i) {
    if (current[i].version != entry.tags[i].version) return true;
  }
  return false;
}

std::string_view entry_state(Store& store, const Entry& entry, Instant now) {
  if (is_unreachable(store, entry)) return "unreachable";
  if (now < entry.fresh_until) return "fresh";
  if (now < entry.stale_until) return "stale";
  return "expired";
}

JsonValue tags_json(const std::vector<TagVersion>& tags) {
  std::vector<JsonValue> items;
  for (const TagVersion& tag : tags) {
    items.push_back(JsonValue::object(
        {{"tag", JsonValue::string(tag.tag)}, {"version", JsonValue::integer(tag.version)}}));
  }
  return JsonValue::array(std::move(items));
}

// The argv, stored with a NUL after each word (no word of an argv can hold one).
JsonValue command_json(std::string_view stored) {
  std::vector<JsonValue> words;
  while (!stored.empty()) {
    std::size_t end = stored.find('\0');
    words.push_back(JsonValue::string(std::string(stored.substr(0, end))));
    stored.remove_prefix(end == std::string_view::npos ? stored.size() : end + 1);
  }
  return JsonValue::array(std::move(words));
}

}  // namespace

int invalidate(Store& store, const std::vector<std::string>& tags, OutputStream& out) {
  for (const TagVersion& tag : store.invalidate(tags)) {
    out.write_line(
        ObjectWriter().add_string("tag", tag.tag).add_int("version", tag.version).finish());
  }
  return exit_code::success;
}

int collect_garbage(Store& store, const Clock& clock, int batch, OutputStream& out) {
  Store::Collected collected = store.collect_garbage(clock.now(), batch);
  out.write_line(ObjectWriter()
                     .add_int("expired", collected.expired)
                     .add_int("unreachable", collected.unreachable)
                     .add_int("claims", collected.claims)
                     .finish());
  return exit_code::success;
}

int stats(Store& store, Format format, OutputStream& out) {
  Store::Totals totals = store.totals();
  std::vector<JsonValue::Member> members;
  for (const auto& [name, value] : totals.counters) {
    members.emplace_back(name, JsonValue::integer(value));
  }
  members.emplace_back("entries", JsonValue::integer(totals.entries));
  members.emplace_back("bytes", JsonValue::integer(totals.bytes));
  members.emplace_back("tags", JsonValue::integer(totals.tags));
  members.emplace_back("computing", JsonValue::integer(totals.computing));
  print_record(out, format, JsonValue::object(std::move(members)));
  return exit_code::success;
}

int show(Store& store, const Clock& clock, const std::string& key, Format format,
         OutputStream& out) {
  bool valid = key.size() == 64;
  for (char c : key) valid = valid && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!valid) {
    throw Error(exit_code::usage,
                "KEY: not a cache key (64 lower-case hexadecimal digits, as 'qcache key' prints)");
  }
  std::optional<Entry> entry = store.find(key, Store::TagsToo::yes);
  if (!entry) {
    print_diagnostic(Severity::error, {}, fmt::format("no entry '{}'", key));
    return exit_code::definite_no;
  }
  std::vector<JsonValue::Member> members;
  members.emplace_back("key", JsonValue::string(entry->key));
  members.emplace_back("state",
                       JsonValue::string(std::string(entry_state(store, *entry, clock.now()))));
  members.emplace_back("command", command_json(entry->command));
  members.emplace_back("created_at", JsonValue::string(format_instant(entry->created_at)));
  members.emplace_back("fresh_until", JsonValue::string(format_instant(entry->fresh_until)));
  members.emplace_back("stale_until", JsonValue::string(format_instant(entry->stale_until)));
  members.emplace_back("exit", JsonValue::integer(entry->exit_status));
  members.emplace_back("stdout_bytes",
                       JsonValue::integer(static_cast<long long>(entry->stdout_bytes.size())));
  members.emplace_back("stderr_bytes",
                       JsonValue::integer(static_cast<long long>(entry->stderr_bytes.size())));
  members.emplace_back("etag", entry->etag ? JsonValue::string(*entry->etag) : JsonValue::null());
  members.emplace_back("tags", tags_json(entry->tags));
  print_record(out, format, JsonValue::object(std::move(members)));
  return exit_code::success;
}

}  // namespace sluice::qcache
