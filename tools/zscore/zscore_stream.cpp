#include "zscore_stream.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <optional>
#include <queue>
#include <tuple>

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
  std::optional<Instant> saved;  // the latest time of the saved state the run started from
  bool changed = false;          // learnt a point this run
};

struct Point {
  double value = 0;
  Instant time;
};

// Where a point's line is: for a message about it after later lines were read.
struct Origin {
  std::size_t input = 0;
  long long line = 0;
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

// A point --reorder-window holds until no earlier point can still be in its window.
struct HeldPoint {
  Point point;
  std::uint64_t arrival = 0;  // equal times keep their input order
  Series* series = nullptr;
  std::string record;
  bool has_added_names = false;
  Origin origin;
  bool operator>(const HeldPoint& other) const {
    return std::tie(point.time, arrival) > std::tie(other.point.time, other.arrival);
  }
};

class Stream {
 public:
  Stream(const StreamOptions& options, OutputStream& out, SeriesStore* store)
      : options_(options), out_(out), store_(store), reader_(options.inputs, options.input) {}

  StreamResult run();

 private:
  // The series a key names, made (and loaded from the store) on first sight; nullptr when a
  // new one would be more than options.max_series.
  Series* find_series(const std::string& key);
  // Judges the point (or counts it dropped, when it is not after its series' latest) and
  // writes its record with the verdict.
  void judge(Series& series, const Point& point, std::string_view record, bool has_added_names,
             const Origin& origin);
  // --reorder-window: holds the point, and judges, in time order, those no later point can
  // come before any more.
  void hold(HeldPoint held);
  void release_until(std::optional<Instant> bound);
  void save_series();

  const StreamOptions& options_;
  OutputStream& out_;
  SeriesStore* store_;
  JsonlReader reader_;
  SeriesTable<Series> series_;
  RecordWriter writer_;
  StreamResult result_;
  std::string_view method_ = method_name(options_.detector.method);
  std::priority_queue<HeldPoint, std::vector<HeldPoint>, std::greater<>> held_;
  std::optional<Instant> newest_;  // the latest time read, of any series
  std::uint64_t arrivals_ = 0;
};

Series* Stream::find_series(const std::string& key) {
  if (Series* found = series_.find(key)) return found;
  if (series_.size() >= options_.max_series) return nullptr;
  Series fresh{Detector(options_.detector), std::nullopt, std::nullopt};
  if (store_ != nullptr) fresh.latest = fresh.saved = store_->load(key, fresh.detector);
  return &series_.insert(key, std::move(fresh));
}

void Stream::judge(Series& series, const Point& point, std::string_view record,
                   bool has_added_names, const Origin& origin) {
  if (series.latest && point.time <= *series.latest) {
    if (series.saved && point.time <= *series.saved) {
      ++result_.seen_before;
    } else if (point.time == *series.latest) {
      ++result_.repeated;
    } else {
      ++result_.out_of_order;
    }
    return;
  }
  if (options_.missing_as_zero && series.latest) {
    try {
      fill_gap(series, point.time, *options_.interval);
    } catch (const Error& error) {
      reader_.reject_at(reader_.location_of(origin.input, origin.line), error.what());
      return;
    }
  }
  series.latest = point.time;
  series.changed = true;
  Verdict verdict = series.detector.observe(point.value, point.time);
  bool anomaly = verdict.anomaly.value_or(false);
  result_.anomalies += anomaly ? 1 : 0;
  if (options_.only_anomalies && !anomaly) return;
  writer_.write(record, has_added_names, verdict, method_, out_);
}

void Stream::hold(HeldPoint held) {
  held.arrival = arrivals_++;
  if (!newest_ || held.point.time > *newest_) newest_ = held.point.time;
  held_.push(std::move(held));
  release_until(*newest_ - *options_.reorder_window);
}

void Stream::release_until(std::optional<Instant> bound) {
  while (!held_.empty() && (!bound || held_.top().point.time <= *bound)) {
    // The queue's top is const: the element is moved out just before it is popped.
    HeldPoint next = std::move(const_cast<HeldPoint&>(held_.top()));
    held_.pop();
    judge(*next.series, next.point, next.record, next.has_added_names, next.origin);
  }
}

void Stream::save_series() {
  if (store_ == nullptr) return;
  for (const auto& [name, each] : series_.entries()) {
    if (each.changed) store_->save(name, *each.latest, each.detector);
  }
}

StreamResult Stream::run() {
  std::vector<std::string_view> names = {options_.value_field, options_.time_field};
  for (const std::string& key : options_.keys) names.emplace_back(key);
  std::size_t added_at = names.size();
  for (std::string_view name : added_fields) names.push_back(name);
  std::vector<FieldView> fields(names.size());
  std::span<const FieldView> key_fields(fields.data() + 2, options_.keys.size());
  std::vector<bool> key_seen(options_.keys.size(), false);
  std::string key;
  while (auto line = reader_.next_fields(names, fields)) {
    std::optional<Point> point = read_point(options_, fields, reader_, *line);
    if (!point) continue;
    series_key(key_fields, key);
    Series* current = find_series(key);
    if (current == nullptr) {
      reader_.reject_line(*line, fmt::format("this point starts a new series, one more than "
                                             "--max-series {}",
                                             options_.max_series));
      continue;
    }
    ++result_.points;
    for (std::size_t i = 0; i < key_fields.size(); ++i) key_seen[i] = key_seen[i] || key_fields[i].present;
    bool has_added_names = false;
    for (std::size_t i = added_at; i < fields.size(); ++i) has_added_names |= fields[i].present;
    Origin origin{reader_.current_input(), static_cast<long long>(*line)};
    if (options_.reorder_window) {
      hold({*point, 0, current, std::string(reader_.line_text()), has_added_names, origin});
    } else {
      judge(*current, *point, reader_.line_text(), has_added_names, origin);
    }
  }
  release_until(std::nullopt);
  result_.skipped = reader_.skipped();
  for (std::size_t i = 0; i < key_seen.size(); ++i) {
    if (result_.points > 0 && !key_seen[i]) result_.absent_keys.push_back(options_.keys[i]);
  }
  if (result_.absent_keys.empty()) save_series();
  return result_;
}

}  // namespace

StreamResult run_stream(const StreamOptions& options, OutputStream& out, SeriesStore* store) {
  return Stream(options, out, store).run();
}

}  // namespace sluice::zscore
