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
  OpenIncidents incidents;
  std::optional<Instant> latest;
  std::optional<Instant> saved;  // the latest time of the saved state the run started from
  bool changed = false;          // learnt a point this run
  std::string members;           // its key fields as JSON members, for records zscore makes
  bool fit_told = false;         // holt-winters --fit: on_fit was called (or a run before)
};

// `"name":value,` for each key field, as in a point's record (a missing field as null).
std::string key_members(std::span<const FieldView> fields, const std::vector<std::string>& names) {
  std::string members;
  for (std::size_t i = 0; i < names.size(); ++i) {
    append_json_string(members, names[i]);
    members += ':';
    const FieldView& field = fields[i];
    if (!field.present) {
      members += "null";
    } else if (field.kind == JsonValue::Kind::string) {
      append_json_string(members, field.text);
    } else if (field.kind == JsonValue::Kind::number || field.kind == JsonValue::Kind::boolean) {
      members += field.text;
    } else {
      members += "null";  // an array or an object: the series key keeps no more (series_key)
    }
    members += ',';
  }
  return members;
}

// key_members of a series known only by its key (series_key's encoding: a kind digit, the
// text, a unit separator, for each field).
std::string key_members(std::string_view key, const std::vector<std::string>& names) {
  std::vector<FieldView> fields;
  for (std::size_t i = 0; i < names.size() && !key.empty(); ++i) {
    auto kind = static_cast<JsonValue::Kind>(key.front() - '0');
    key.remove_prefix(1);
    std::size_t end = std::min(key.find('\x1f'), key.size());
    fields.push_back({kind != JsonValue::Kind::null, kind, key.substr(0, end)});
    key.remove_prefix(std::min(end + 1, key.size()));
  }
  fields.resize(names.size());
  return key_members(fields, names);
}

struct Point {
  double value = 0;
  Instant time;
};

// Where a point's line is: for a message about it after later lines were read.
struct Origin {
  std::size_t input = 0;
  long long line = 0;
};

// Error(65) for a value the method cannot take: below 0 under --transform, not above 0
// (transformed) for multiplicative holt-winters.
void check_value_domain(const DetectorOptions& detector, double value, std::string_view field) {
  if (detector.transform != Transform::none && value < 0) {
    throw Error(exit_code::data,
                fmt::format("field '{}': {} is below 0: --transform {} takes values of 0 and more",
                            field, value, transform_names.name(detector.transform)));
  }
  if (detector.method == MethodKind::holt_winters &&
      detector.holt_winters.seasonality == Seasonality::multiplicative &&
      !(transformed(detector.transform, value) > 0)) {
    throw Error(exit_code::data,
                fmt::format("field '{}': {} is not above 0{}: --seasonality multiplicative "
                            "divides by values",
                            field, value,
                            detector.transform == Transform::none ? "" : " once transformed"));
  }
}

// The point on a line, or nothing for a bad line rejected under --skip-invalid.
std::optional<Point> read_point(const StreamOptions& options, std::span<const FieldView> fields,
                                JsonlReader& reader, std::uint64_t line) {
  try {
    Point point{number_in_field(fields[0], options.value_field),
                instant_in_field(fields[1], options.time_field)};
    check_value_domain(options.detector, point.value, options.value_field);
    return point;
  } catch (const Error& error) {
    if (error.code() != exit_code::data) throw;
    reader.reject_line(line, error.what());
    return std::nullopt;
  }
}

// A gap larger than this many intervals is taken for a wrong --interval or a bad time rather
// than filled point by point.
constexpr std::int64_t max_gap_slots = 10'000'000;

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
  Series* find_series(const std::string& key, std::span<const FieldView> key_fields);
  // Judges the point (or counts it dropped, when it is not after its series' latest) and
  // writes its record with the verdict.
  void judge(Series& series, const Point& point, std::string_view record, bool has_added_names,
             const Origin& origin);
  // holt-winters --fit: calls on_fit once the series' parameters are chosen.
  void tell_fit(Series& series);
  // --missing zero: judges a zero for every interval slot between the series' latest point
  // and `time`, and writes those it prints as records of their own ("filled": true).
  void fill_gap(Series& series, Instant time);
  // An alert_start record when the point just judged started the series' alert, an
  // alert_end record when it ended it; the open incident's start follows.
  void follow_alert(Series& series, Instant time, double value, const Verdict& verdict,
                    bool was_alerting);
  // The series' absence incident ends at its first point judged after it.
  void end_absence(Series& series, Instant time);
  // `"started":"TIME",` (null when unknown).
  static std::string started_field(std::optional<Instant> started);
  // An alert_start or alert_end record (under --records incidents or both): `fields` end
  // with a comma.
  void write_incident(std::string_view members, Instant time, std::string_view event,
                      std::string_view reason, std::string_view fields);
  // --absent-after: an alert record for every series, read or saved, whose latest point is
  // more than the span before the latest point of the run, and an alert_start for each
  // whose absence incident is not open yet.
  void report_absent();
  // A record zscore makes: the time, the series' key members, `fields` (each ending with a
  // comma) and the verdict's fields, or none.
  void write_made_record(std::string_view members, Instant time, std::string_view fields,
                         const Verdict* verdict);
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
  bool prints_points_ = options_.records != RecordKinds::incidents;
  bool prints_incidents_ = options_.records != RecordKinds::points;
  std::priority_queue<HeldPoint, std::vector<HeldPoint>, std::greater<>> held_;
  std::optional<Instant> newest_;  // the latest time read, of any series
  std::uint64_t arrivals_ = 0;
  std::string made_;  // a record zscore makes, built here
};

Series* Stream::find_series(const std::string& key, std::span<const FieldView> key_fields) {
  if (Series* found = series_.find(key)) return found;
  if (series_.size() >= options_.max_series) return nullptr;
  Series fresh{.detector = Detector(options_.detector),
               .members = key_members(key_fields, options_.keys)};
  if (store_ != nullptr) {
    fresh.latest = fresh.saved = store_->load(key, fresh.detector, fresh.incidents);
  }
  fresh.fit_told = fresh.detector.fitted().has_value();
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
      fill_gap(series, point.time);
    } catch (const Error& error) {
      reader_.reject_at(reader_.location_of(origin.input, origin.line), error.what());
      return;
    }
  }
  series.latest = point.time;
  series.changed = true;
  bool was_alerting = series.detector.alerting();
  Verdict verdict = series.detector.observe(point.value, point.time);
  if (!series.fit_told && options_.on_fit) tell_fit(series);
  bool anomaly = verdict.anomaly.value_or(false);
  result_.anomalies += anomaly ? 1 : 0;
  if (prints_points_ && (!options_.only_anomalies || anomaly)) {
    writer_.write(record, has_added_names, verdict, method_, out_);
  }
  if (series.incidents.absence) end_absence(series, point.time);
  follow_alert(series, point.time, point.value, verdict, was_alerting);
}

void Stream::follow_alert(Series& series, Instant time, double value, const Verdict& verdict,
                          bool was_alerting) {
  bool alerting = series.detector.alerting();
  if (alerting == was_alerting) return;
  std::string fields;
  if (alerting) {
    series.incidents.anomaly = time;
    ++result_.incidents_started;
    append_json_string(fields, options_.value_field);
    fields += ':';
    append_json_number(fields, value);
    fields += ",\"z\":";
    if (verdict.z) {
      append_json_number(fields, *verdict.z);
    } else {
      fields += "null";
    }
    fields += ',';
  } else {
    fields = started_field(series.incidents.anomaly);
    series.incidents.anomaly.reset();
  }
  write_incident(series.members, time, alerting ? "alert_start" : "alert_end", "anomaly", fields);
}

void Stream::end_absence(Series& series, Instant time) {
  write_incident(series.members, time, "alert_end", "absent",
                 started_field(series.incidents.absence));
  series.incidents.absence.reset();
}

std::string Stream::started_field(std::optional<Instant> started) {
  std::string field = "\"started\":";
  if (started) {
    append_json_string(field, format_instant(*started));
  } else {
    field += "null";  // opened in a state saved before zscore kept the start
  }
  return field + ',';
}

void Stream::write_incident(std::string_view members, Instant time, std::string_view event,
                            std::string_view reason, std::string_view fields) {
  if (!prints_incidents_) return;
  write_made_record(members, time,
                    fmt::format("\"event\":\"{}\",\"reason\":\"{}\",{}\"method\":\"{}\",", event,
                                reason, fields, method_),
                    nullptr);
}

void Stream::tell_fit(Series& series) {
  std::optional<Smoothing> fitted = series.detector.fitted();
  if (!fitted) return;
  series.fit_told = true;
  std::string object = "{" + series.members;
  if (object.back() == ',') object.pop_back();
  options_.on_fit(object + "}", *fitted);
}

void Stream::fill_gap(Series& series, Instant time) {
  Duration interval = *options_.interval;
  auto intervals =
      static_cast<std::int64_t>(std::llround(static_cast<double>((time - *series.latest).count()) /
                                             static_cast<double>(interval.count())));
  if (intervals - 1 > max_gap_slots) {
    throw Error(exit_code::data,
                fmt::format("a gap of {} intervals since the series' last point (at {}) is more "
                            "than {} to fill: check --interval",
                            intervals - 1, format_instant(*series.latest), max_gap_slots));
  }
  std::string fields;
  append_json_string(fields, options_.value_field);
  fields += ":0,\"filled\":true,";
  for (std::int64_t slot = 1; slot < intervals; ++slot) {
    Instant slot_time = *series.latest + slot * interval;
    bool was_alerting = series.detector.alerting();
    Verdict verdict = series.detector.observe(0, slot_time);
    if (!series.fit_told && options_.on_fit) tell_fit(series);
    bool anomaly = verdict.anomaly.value_or(false);
    result_.anomalies += anomaly ? 1 : 0;
    if (prints_points_ && (!options_.only_anomalies || anomaly)) {
      write_made_record(series.members, slot_time, fields, &verdict);
    }
    follow_alert(series, slot_time, 0, verdict, was_alerting);
  }
}

void Stream::write_made_record(std::string_view members, Instant time, std::string_view fields,
                               const Verdict* verdict) {
  made_.clear();
  made_ += '{';
  append_json_string(made_, options_.time_field);
  made_ += ':';
  append_json_string(made_, format_instant(time));
  made_ += ',';
  made_ += members;
  made_ += fields;
  if (verdict != nullptr) {
    char added[max_verdict_length];
    made_.append(added, static_cast<std::size_t>(write_verdict(added, *verdict, method_) - added));
  } else {
    made_.back() = '}';
  }
  out_.line_buffer().append(made_);
  out_.end_line();
}

void Stream::report_absent() {
  if (!options_.absent_after || !newest_) return;
  Instant bound = *newest_ - *options_.absent_after;
  // Alerts for a silent series; returns whether its absence incident starts now.
  auto alert = [&](std::string_view members, Instant latest, bool open) {
    if (latest >= bound) return false;
    std::string fields = "\"absent_since\":";
    append_json_string(fields, format_instant(latest));
    fields += ',';
    if (prints_points_) {
      write_made_record(members, *newest_,
                        fmt::format("{}\"anomaly\":true,\"method\":\"{}\",\"reason\":\"absent\",",
                                    fields, method_),
                        nullptr);
    }
    ++result_.anomalies;
    if (open) return false;
    ++result_.incidents_started;
    write_incident(members, *newest_, "alert_start", "absent", fields);
    return true;
  };
  for (auto& entry : series_.entries()) {
    Series& series = entry.value;
    if (!series.latest ||
        !alert(series.members, *series.latest, series.incidents.absence.has_value())) {
      continue;
    }
    series.incidents.absence = newest_;
    // A series that learnt nothing is not saved whole: its saved row takes the start.
    if (store_ != nullptr && !series.changed) store_->save_absence(entry.key, *newest_);
  }
  if (store_ == nullptr) return;
  store_->each_series([&](const SavedSeries& saved) {
    if (series_.find(saved.key) != nullptr) return;
    if (alert(key_members(saved.key, options_.keys), saved.latest, saved.absence.has_value())) {
      store_->save_absence(saved.key, *newest_);
    }
  });
}

void Stream::hold(HeldPoint held) {
  held.arrival = arrivals_++;
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
    if (each.changed) store_->save(name, *each.latest, each.detector, each.incidents);
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
  Progress progress(options_.progress, "zscore", total_input_bytes(options_.inputs));
  progress.add_detail([this] { return fmt::format(", {} series", series_.size()); });
  while (auto line = reader_.next_fields(names, fields)) {
    progress.update(reader_.bytes_read(), result_.points);
    std::optional<Point> point = read_point(options_, fields, reader_, *line);
    if (!point) continue;
    series_key(key_fields, key);
    Series* current = find_series(key, key_fields);
    if (current == nullptr) {
      reader_.reject_line(*line, fmt::format("this point starts a new series, one more than "
                                             "--max-series {}",
                                             options_.max_series));
      continue;
    }
    ++result_.points;
    if (!newest_ || point->time > *newest_) newest_ = point->time;
    for (std::size_t i = 0; i < key_fields.size(); ++i)
      key_seen[i] = key_seen[i] || key_fields[i].present;
    bool has_added_names = false;
    for (std::size_t i = added_at; i < fields.size(); ++i) has_added_names |= fields[i].present;
    Origin origin{reader_.current_input(), static_cast<long long>(*line)};
    if (options_.reorder_window) {
      hold({*point, 0, current, std::string(reader_.line_text()), has_added_names, origin});
    } else {
      judge(*current, *point, reader_.line_text(), has_added_names, origin);
    }
  }
  progress.finish();
  release_until(std::nullopt);
  report_absent();
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
