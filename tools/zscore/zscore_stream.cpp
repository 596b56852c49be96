#include "zscore_stream.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "zscore_series_table.hpp"

namespace sluice::zscore {

namespace {

// The series a point belongs to: each key field's kind and text (a missing field counts as
// null, like an absent label).
void series_key(std::span<const FieldView> keys, std::string& key) {
  key.clear();
  for (const FieldView& field : keys) {
    key += field.present ? static_cast<char>('0' + static_cast<int>(field.kind)) : '0';
    key += field.present ? field.text : std::string_view("null");
    key += '\x1f';
  }
}

char* put(char* out, std::string_view text) {
  std::memcpy(out, text.data(), text.size());
  return out + text.size();
}

char* put_number(char* out, std::optional<double> number) {
  return number ? write_json_number(out, *number) : put(out, "null");
}

// The longest text write_verdict writes: its keys, five numbers, and a method name and a
// reason of a few words each.
constexpr std::size_t max_verdict_length = 512;

// The verdict's fields and the record's closing brace: "expected":..,"lower":..}.
char* write_verdict(char* out, const Verdict& verdict, std::string_view method) {
  out = put_number(put(out, "\"expected\":"), verdict.expected);
  out = put_number(put(out, ",\"lower\":"), verdict.lower);
  out = put_number(put(out, ",\"upper\":"), verdict.upper);
  out = put_number(put(out, ",\"z\":"), verdict.z);
  out = put_number(put(out, ",\"score\":"), verdict.score());
  out = put(out, ",\"anomaly\":");
  out = put(out, !verdict.anomaly ? "null" : *verdict.anomaly ? "true" : "false");
  out = put(put(put(out, ",\"method\":\""), method), "\"");
  if (!verdict.reason.empty()) out = put(put(put(out, ",\"reason\":\""), verdict.reason), "\"");
  return put(out, "}");
}

// `record` (a valid JSON object) with the verdict's fields added at its end, built in the
// output's buffer.
class RecordWriter {
 public:
  void write(std::string_view record, bool has_added_names, const Verdict& verdict,
             std::string_view method, OutputStream& out) {
    if (has_added_names) {
      kept_ = without_added_fields(record);
      record = kept_;
    }
    record = record.substr(0, record.rfind('}'));
    std::size_t last = record.find_last_not_of(" \t\r\n");
    bool has_members = last != std::string_view::npos && record[last] != '{';
    char added[max_verdict_length];
    char* end = write_verdict(put(added, has_members ? "," : ""), verdict, method);
    std::string& line = out.line_buffer();
    line.append(record);
    line.append(added, static_cast<std::size_t>(end - added));
    out.end_line();
  }

 private:
  std::string kept_;
  JsonParser parser_;

  std::string without_added_fields(std::string_view record) {
    ParseOutcome parsed = parser_.parse_object(record);
    std::vector<JsonValue::Member> kept;
    for (const auto& member : parsed.value->members()) {
      bool added = false;
      for (std::string_view name : added_fields) added = added || member.first == name;
      if (!added) kept.push_back(member);
    }
    return to_json(JsonValue::object(std::move(kept)));
  }
};

struct Series {
  Detector detector;
  std::optional<Instant> latest;
  bool changed = false;  // learnt a point this run
};

struct Point {
  double value = 0;
  Instant time;
};

// The point on a line, or nothing for a bad line rejected under --skip-invalid.
std::optional<Point> read_point(const StreamOptions& options, std::span<const FieldView> fields,
                                JsonlReader& reader, std::uint64_t line) {
  try {
    return Point{number_in_field(fields[0], options.value_field),
                 instant_in_field(fields[1], options.time_field)};
  } catch (const Error& error) {
    if (error.code() != exit_code::data) throw;
    reader.reject_line(line, error.what());
    return std::nullopt;
  }
}

// The series a key names, made (and loaded from the store) on first sight; nullptr when a
// new one would be more than options.max_series.
Series* find_series(SeriesTable<Series>& series, const std::string& key,
                    const StreamOptions& options, SeriesStore* store) {
  if (Series* found = series.find(key)) return found;
  if (series.size() >= options.max_series) return nullptr;
  Series fresh{Detector(options.detector), std::nullopt};
  if (store != nullptr) fresh.latest = store->load(key, fresh.detector);
  return &series.insert(key, std::move(fresh));
}

// A gap larger than this many intervals is taken for a wrong --interval or a bad time rather
// than filled point by point.
constexpr std::int64_t max_gap_slots = 10'000'000;

// --missing zero: learns a zero for every interval slot between the series' latest point
// and `time`.
void fill_gap(Series& series, Instant time, Duration interval) {
  auto intervals =
      static_cast<std::int64_t>(std::llround(static_cast<double>((time - *series.latest).count()) /
                                             static_cast<double>(interval.count())));
  if (intervals - 1 > max_gap_slots) {
    throw Error(exit_code::data,
                fmt::format("a gap of {} intervals since the series' last point (at {}) is more "
                            "than {} to fill: check --interval",
                            intervals - 1, format_instant(*series.latest), max_gap_slots));
  }
  for (std::int64_t slot = 1; slot < intervals; ++slot) {
    series.detector.observe(0, *series.latest + slot * interval);
  }
}

}  // namespace

StreamResult run_stream(const StreamOptions& options, OutputStream& out, SeriesStore* store) {
  std::vector<std::string_view> names = {options.value_field, options.time_field};
  for (const std::string& key : options.keys) names.emplace_back(key);
  std::size_t added_at = names.size();
  for (std::string_view name : added_fields) names.push_back(name);
  std::vector<FieldView> fields(names.size());
  std::span<const FieldView> key_fields(fields.data() + 2, options.keys.size());
  std::string_view method = method_name(options.detector.method);

  JsonlReader reader(options.inputs, options.input);
  SeriesTable<Series> series;
  std::string key;
  RecordWriter writer;
  StreamResult result;
  while (auto line = reader.next_fields(names, fields)) {
    std::optional<Point> point = read_point(options, fields, reader, *line);
    if (!point) continue;
    series_key(key_fields, key);
    Series* current = find_series(series, key, options, store);
    if (current == nullptr) {
      reader.reject_line(*line, fmt::format("this point starts a new series, one more than "
                                            "--max-series {}",
                                            options.max_series));
      continue;
    }
    ++result.points;
    if (current->latest && point->time <= *current->latest) {
      ++result.stale;
      continue;
    }
    if (options.missing_as_zero && current->latest) {
      try {
        fill_gap(*current, point->time, *options.interval);
      } catch (const Error& error) {
        reader.reject_line(*line, error.what());
        continue;
      }
    }
    current->latest = point->time;
    current->changed = true;
    Verdict verdict = current->detector.observe(point->value, point->time);
    bool anomaly = verdict.anomaly.value_or(false);
    result.anomalies += anomaly ? 1 : 0;
    if (options.only_anomalies && !anomaly) continue;
    bool has_added_names = false;
    for (std::size_t i = added_at; i < fields.size(); ++i) has_added_names |= fields[i].present;
    writer.write(reader.line_text(), has_added_names, verdict, method, out);
  }
  result.skipped = reader.skipped();
  if (store != nullptr) {
    for (const auto& [name, each] : series.entries()) {
      if (each.changed) store->save(name, *each.latest, each.detector);
    }
  }
  return result;
}

}  // namespace sluice::zscore
