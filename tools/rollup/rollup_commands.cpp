#include "rollup_commands.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "sluice/crypto.hpp"
#include "sluice/error.hpp"

namespace sluice::rollup {

namespace {

std::string batch_key_of(const std::string& path) {
  InputFile input(path);
  Sha256 hash;
  char buffer[1 << 16];
  for (;;) {
    ssize_t count = ::read(input.fd(), buffer, sizeof buffer);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) throw Error(exit_code::io, fmt::format("{}: cannot read", path));
    if (count == 0) break;
    hash.update(std::string_view(buffer, static_cast<std::size_t>(count)));
  }
  return "sha256:" + to_hex(hash.finish());
}

// Appends the rejected lines and syncs them before the batch commits: a crash in between
// writes them again on the rerun (at least once, never lost).
void append_rejects(const std::string& path, const std::string& lines) {
  if (lines.empty()) return;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (fd < 0)
    throw Error(exit_code::cannot_create, fmt::format("{}: cannot open the reject file", path));
  int failure = write_all(fd, lines);
  if (failure == 0 && ::fsync(fd) != 0) failure = errno;
  ::close(fd);
  if (failure != 0)
    throw Error(exit_code::io, fmt::format("{}: cannot write the reject file", path));
}

}  // namespace

int ingest_files(Store& store, const IngestRequest& request, RecordPrinter& printer) {
  for (const std::string& file : request.files) InputFile check(file);  // 66 before any work
  const StoreSettings& settings = request.settings;
  std::int64_t cutoff = settings.tiers[0].retention_micros
                            ? request.now - *settings.tiers[0].retention_micros
                            : INT64_MIN;
  std::int64_t late_before = request.now - settings.allowed_lateness_micros;
  std::uint64_t skipped = 0;
  store.check_settings(settings);
  for (const std::string& file : request.files) {
    std::string key = batch_key_of(file);
    BatchResult result;
    if (store.has_batch(key)) {
      result.already_ingested = true;
    } else {
      Rollup rollup(settings.spec);
      std::string rejects;
      auto keep = [&](std::int64_t micros, std::int64_t bucket, std::string_view line) {
        if (micros < late_before) ++result.late;
        if (bucket >= cutoff) return true;
        ++result.too_old;
        if (request.late_policy == LatePolicy::merge) return true;
        ++result.rejected;
        rejects.append(line);
        rejects.push_back('\n');
        return false;
      };
      ReadSummary summary = rollup.read({file}, request.input, keep);
      result.events = summary.events;
      skipped += summary.skipped;
      append_rejects(request.reject_file, rejects);
      store.ingest(settings, key, rollup.records(), request.now, result);
    }
    auto count = [](std::uint64_t value) { return JsonValue::number(std::to_string(value)); };
    printer.print(JsonValue::object({
        {"file", JsonValue::string(file)},
        {"batch", JsonValue::string(key)},
        {"status", JsonValue::string(result.already_ingested ? "already ingested" : "ingested")},
        {"events", count(result.events)},
        {"late", count(result.late)},
        {"too_old", count(result.too_old)},
        {"rejected", count(result.rejected)},
        {"cells", count(result.cells)},
    }));
  }
  return skipped > 0 ? exit_code::definite_no : 0;
}

namespace {

// How many finer buckets a bucket of tier `tier` holds when none is missing.
double expected_slots(const StoreSettings& settings, std::size_t tier, std::int64_t start) {
  if (tier == 0) return 1;
  Bucketer bucketer(settings.tiers[tier].every, TimeZone::named("--tz", settings.spec.tz));
  auto length = static_cast<double>(bucketer.end_of(start) - start);
  const Every& finer = settings.tiers[tier - 1].every;
  if (finer.unit == CalendarUnit::none) return length / static_cast<double>(finer.width_micros);
  return std::round(length / 86'400'000'000.0);  // days (of 23, 24 or 25 hours)
}

std::size_t tier_index(const StoreSettings& settings, const std::string& text) {
  Every every = with_context(exit_code::usage, "--tier", [&] { return parse_every(text); });
  for (std::size_t j = 0; j < settings.tiers.size(); ++j) {
    if (settings.tiers[j].every == every) return j;
  }
  std::string known;
  for (const Tier& tier : settings.tiers) known += (known.empty() ? "" : ", ") + tier.every.text();
  throw Error(exit_code::usage,
              fmt::format("--tier: the store has no tier '{}' (it has {})", text, known));
}

}  // namespace

int query_store(Store& store, const QueryRequest& request, RecordPrinter& printer) {
  std::optional<std::string> text = store.settings_text();
  if (!text) throw Error(exit_code::no_input, "the store holds nothing yet (run rollup ingest)");
  StoreSettings settings = settings_from_text(*text);
  std::size_t tier = tier_index(settings, request.tier);
  Spec spec = settings.spec;
  std::vector<std::size_t> projection;
  if (request.by) {
    for (const std::string& field : *request.by) {
      auto found = std::find(spec.by.begin(), spec.by.end(), field);
      if (found == spec.by.end()) {
        throw Error(exit_code::usage, fmt::format("--by: the store is not grouped by '{}'", field));
      }
      projection.push_back(static_cast<std::size_t>(found - spec.by.begin()));
    }
    spec.by = *request.by;
  } else {
    for (std::size_t i = 0; i < spec.by.size(); ++i) projection.push_back(i);
  }
  Rollup layout(settings.spec);
  Rollup result(spec);
  std::map<std::string, std::int64_t> slots;  // by group key: the most of its cells'
  std::string key;
  for (Store::Cell& cell : store.cells(layout, tier, request.from, request.to)) {
    GroupRecord projected{cell.record.bucket, {}, std::move(cell.record.state)};
    for (std::size_t index : projection) projected.values.push_back(cell.record.values[index]);
    result.add(projected);
    encode_key(key, projected.bucket, projected.values);
    std::int64_t& most = slots[key];
    most = std::max(most, cell.slots);
  }
  std::vector<GroupRecord> records = result.records();
  std::vector<JsonValue> rows = result.rows();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!request.xff) {
      printer.print(rows[i]);
      continue;
    }
    encode_key(key, records[i].bucket, records[i].values);
    double coverage =
        static_cast<double>(slots[key]) / expected_slots(settings, tier, records[i].bucket);
    std::vector<JsonValue::Member> members;
    std::size_t fixed_columns = 1 + spec.by.size();
    for (std::size_t m = 0; m < rows[i].members().size(); ++m) {
      const auto& [name, value] = rows[i].members()[m];
      bool hidden = m >= fixed_columns && coverage < *request.xff;
      members.emplace_back(name, hidden ? JsonValue::null() : value);
    }
    std::string coverage_text;
    append_json_number(coverage_text, std::min(coverage, 1.0));
    members.emplace_back("coverage", JsonValue::number(coverage_text));
    printer.print(JsonValue::object(std::move(members)));
  }
  return 0;
}

}  // namespace sluice::rollup
