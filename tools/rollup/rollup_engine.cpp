#include "rollup_engine.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <span>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/record_condition.hpp"
#include "sluice/signals.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::rollup {

namespace {

Int128 checked_add(Int128 a, Int128 b, std::string_view field) {
  Int128 result = 0;
  if (__builtin_add_overflow(a, b, &result)) {
    throw Error(exit_code::data,
                fmt::format("field '{}': the sum is too large to keep exactly", field));
  }
  return result;
}

Int128 checked_multiply(Int128 a, Int128 b, std::string_view field) {
  Int128 result = 0;
  if (__builtin_mul_overflow(a, b, &result)) {
    throw Error(exit_code::data,
                fmt::format("field '{}': a value is too large to keep exactly", field));
  }
  return result;
}

long double to_long_double(Int128 units, int scale) {
  return static_cast<long double>(units) / std::pow(10.0L, scale);
}

// A weighted term in fixed point (1e-9 units), rounded once.
Int128 fixed(long double value) {
  long double scaled = std::roundl(value * 1e9L);
  if (!(std::fabs(scaled) < 1e37L)) {  // also NaN: Int128 holds up to 1.7e38
    throw Error(exit_code::data, "a weighted value is too large to keep (over 1e28)");
  }
  return static_cast<Int128>(scaled);
}
long double from_fixed(Int128 value) {
  return static_cast<long double>(value) / 1e9L;
}

void merge_weighted(WeightedState& into, const WeightedState& from) {
  into.weight += from.weight;
  into.variance += from.variance;
  for (std::size_t i = 0; i < into.numerics.size() && i < from.numerics.size(); ++i) {
    WeightedNumeric& a = into.numerics[i];
    const WeightedNumeric& b = from.numerics[i];
    a.weight += b.weight;
    a.variance += b.variance;
    a.sum += b.sum;
    a.variance_x += b.variance_x;
    a.variance_x2 += b.variance_x2;
  }
}

// Raises `state` to `scale` (larger than its own).
void rescale(NumericState& state, int scale, bool squares, std::string_view field) {
  Int128 factor = decimal::power_of_ten(scale - state.scale);
  state.sum = checked_multiply(state.sum, factor, field);
  state.min = checked_multiply(state.min, factor, field);
  state.max = checked_multiply(state.max, factor, field);
  if (squares) {
    state.squares = checked_multiply(checked_multiply(state.squares, factor, field), factor, field);
  }
  state.scale = scale;
}

void add_value(NumericState& state, ExactDecimal value, bool squares, std::string_view field) {
  if (state.count == 0) {
    state.scale = value.scale;
  } else if (value.scale > state.scale) {
    rescale(state, value.scale, squares, field);
  }
  if (value.scale < state.scale) {
    value.units =
        checked_multiply(value.units, decimal::power_of_ten(state.scale - value.scale), field);
  }
  if (state.count == 0) {
    state.min = state.max = value.units;
  } else {
    state.min = std::min(state.min, value.units);
    state.max = std::max(state.max, value.units);
  }
  state.sum = checked_add(state.sum, value.units, field);
  if (squares) {
    state.squares =
        checked_add(state.squares, checked_multiply(value.units, value.units, field), field);
  }
  ++state.count;
}

void merge_numeric(NumericState& into, NumericState from, bool squares, std::string_view field) {
  if (from.count == 0) return;
  if (into.count == 0) {
    into = from;
    return;
  }
  if (from.scale > into.scale) rescale(into, from.scale, squares, field);
  if (into.scale > from.scale) rescale(from, into.scale, squares, field);
  into.count += from.count;
  into.sum = checked_add(into.sum, from.sum, field);
  into.min = std::min(into.min, from.min);
  into.max = std::max(into.max, from.max);
  if (squares) into.squares = checked_add(into.squares, from.squares, field);
}

bool later(const LastState& a, const LastState& b) {
  if (a.micros != b.micros) return a.micros > b.micros;
  if (a.kind != b.kind) return a.kind > b.kind;
  return a.text > b.text;
}

void merge_last(LastState& into, const LastState& from) {
  if (from.present && (!into.present || later(from, into))) into = from;
}

int kind_order(JsonValue::Kind kind) {
  switch (kind) {
    case JsonValue::Kind::null:
      return 0;
    case JsonValue::Kind::number:
      return 1;
    case JsonValue::Kind::string:
      return 2;
    default:
      return 3;
  }
}

bool value_less(const GroupValue& a, const GroupValue& b) {
  if (kind_order(a.kind) != kind_order(b.kind)) return kind_order(a.kind) < kind_order(b.kind);
  if (a.kind == JsonValue::Kind::number) {
    double x = std::strtod(a.text.c_str(), nullptr);
    double y = std::strtod(b.text.c_str(), nullptr);
    if (x != y) return x < y;
  }
  return a.text < b.text;
}

JsonValue json_of(JsonValue::Kind kind, const std::string& text) {
  switch (kind) {
    case JsonValue::Kind::null:
      return JsonValue::null();
    case JsonValue::Kind::number:
      return JsonValue::number(text);
    case JsonValue::Kind::boolean:
      return JsonValue::boolean(text == "true");
    default:
      return JsonValue::string(text);
  }
}

JsonValue decimal_json(Int128 units, int scale) {
  return JsonValue::string(decimal::format_amount(units, scale));
}

JsonValue double_json(double value) {
  std::string text;
  append_json_number(text, value);
  return text == "null" ? JsonValue::null() : JsonValue::number(text);
}

// The sample standard deviation from exact moments: sqrt((n S2 - S1^2) / (n (n - 1))).
JsonValue stddev_json(const NumericState& state) {
  if (state.count < 2) return JsonValue::null();
  auto n = static_cast<Int128>(state.count);
  Int128 n_squares = 0;
  Int128 sum_squared = 0;
  long double variance = 0;
  if (!__builtin_mul_overflow(n, state.squares, &n_squares) &&
      !__builtin_mul_overflow(state.sum, state.sum, &sum_squared)) {
    variance = static_cast<long double>(n_squares - sum_squared) /
               (static_cast<long double>(state.count) * static_cast<long double>(state.count - 1));
  } else {
    long double mean = static_cast<long double>(state.sum) / static_cast<long double>(state.count);
    variance =
        (static_cast<long double>(state.squares) - mean * static_cast<long double>(state.sum)) /
        static_cast<long double>(state.count - 1);
  }
  variance /= std::pow(10.0L, 2 * state.scale);
  return double_json(static_cast<double>(std::sqrt(std::max(variance, 0.0L))));
}

}  // namespace

std::optional<ExactDecimal> parse_exact_decimal(std::string_view text) {
  std::size_t at = 0;
  bool negative = false;
  if (at < text.size() && text[at] == '-') {
    negative = true;
    ++at;
  }
  Int128 units = 0;
  int digits = 0;
  int fraction = 0;
  auto take_digits = [&](bool after_point) {
    std::size_t begin = at;
    for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at) {
      if (units == 0 && text[at] == '0' && !after_point) continue;
      if (++digits > 36) return false;
      units = units * 10 + (text[at] - '0');
      if (after_point) ++fraction;
    }
    return at > begin;
  };
  if (!take_digits(false)) return std::nullopt;
  if (at < text.size() && text[at] == '.') {
    ++at;
    if (!take_digits(true)) return std::nullopt;
  }
  int exponent = 0;
  if (at < text.size() && (text[at] == 'e' || text[at] == 'E')) {
    ++at;
    bool negative_exponent = false;
    if (at < text.size() && (text[at] == '+' || text[at] == '-'))
      negative_exponent = text[at++] == '-';
    std::size_t begin = at;
    for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at) {
      if (exponent > 1000) return std::nullopt;
      exponent = exponent * 10 + (text[at] - '0');
    }
    if (at == begin) return std::nullopt;
    if (negative_exponent) exponent = -exponent;
  }
  if (at != text.size()) return std::nullopt;
  int scale = fraction - exponent;
  while (scale > max_scale && units % 10 == 0 && units != 0) {
    units /= 10;
    --scale;
  }
  if (units == 0) scale = std::clamp(scale, 0, max_scale);
  if (scale > max_scale) return std::nullopt;
  if (scale < 0) {
    if (digits - scale > 36) return std::nullopt;
    units *= decimal::power_of_ten(-scale);
    scale = 0;
  }
  return ExactDecimal{negative ? -units : units, scale};
}

void encode_key(std::string& key, std::int64_t bucket, const std::vector<GroupValue>& values) {
  key.assign(reinterpret_cast<const char*>(&bucket), sizeof bucket);
  for (const GroupValue& value : values) {
    key.push_back(static_cast<char>(value.kind));
    auto length = static_cast<std::uint32_t>(value.text.size());
    key.append(reinterpret_cast<const char*>(&length), sizeof length);
    key.append(value.text);
  }
}

std::int64_t key_bucket(std::string_view key) {
  std::int64_t bucket = 0;
  std::memcpy(&bucket, key.data(), sizeof bucket);
  return bucket;
}

std::vector<GroupValue> key_values(std::string_view key, std::size_t count) {
  std::vector<GroupValue> values(count);
  std::size_t at = sizeof(std::int64_t);
  for (GroupValue& value : values) {
    value.kind = static_cast<JsonValue::Kind>(key[at]);
    std::uint32_t length = 0;
    std::memcpy(&length, key.data() + at + 1, sizeof length);
    value.text = std::string(key.substr(at + 1 + sizeof length, length));
    at += 1 + sizeof length + length;
  }
  return values;
}

Rollup::Rollup(Spec spec) : spec_(std::move(spec)) {
  auto slot_in = [](std::vector<std::string>& fields, const std::string& field) {
    auto found = std::find(fields.begin(), fields.end(), field);
    if (found != fields.end()) return static_cast<std::size_t>(found - fields.begin());
    fields.push_back(field);
    return fields.size() - 1;
  };
  for (const Aggregate& aggregate : spec_.aggregates) {
    std::size_t slot = 0;
    switch (aggregate.kind) {
      case AggregateKind::count:
        break;
      case AggregateKind::sum:
      case AggregateKind::min:
      case AggregateKind::max:
      case AggregateKind::avg:
      case AggregateKind::stddev:
        slot = slot_in(numeric_fields_, aggregate.field);
        numeric_squares_.resize(numeric_fields_.size(), false);
        if (aggregate.kind == AggregateKind::stddev) numeric_squares_[slot] = true;
        break;
      case AggregateKind::quantile:
        slot = slot_in(quantile_fields_, aggregate.field);
        break;
      case AggregateKind::last:
        slot = slot_in(last_fields_, aggregate.field);
        break;
      case AggregateKind::distinct:
        slot = slot_in(distinct_fields_, aggregate.field);
        break;
    }
    aggregate_slot_.push_back(slot);
  }
}

GroupState Rollup::empty_group() const {
  GroupState group;
  group.numerics.resize(numeric_fields_.size());
  group.lasts.resize(last_fields_.size());
  group.distincts.resize(distinct_fields_.size());
  group.quantiles.resize(quantile_fields_.size());
  if (!spec_.weight_field.empty()) group.weighted.numerics.resize(numeric_fields_.size());
  return group;
}

std::optional<std::uint32_t> Rollup::find_group(std::string_view key, std::uint64_t hash) const {
  std::size_t mask = slots_.size() - 1;
  for (std::size_t at = hash & mask;; at = (at + 1) & mask) {
    const Slot& slot = slots_[at];
    if (!slot.used) return std::nullopt;
    if (slot.hash == hash && keys_[slot.id] == key) return slot.id;
  }
}

void Rollup::insert_slot(std::uint64_t hash, std::uint32_t id) {
  std::size_t mask = slots_.size() - 1;
  std::size_t at = hash & mask;
  while (slots_[at].used) at = (at + 1) & mask;
  slots_[at] = {hash, id, true};
}

GroupState& Rollup::group_for(std::string_view key) {
  std::uint64_t hash = std::hash<std::string_view>{}(key);
  if (auto id = find_group(key, hash)) return groups_[*id];
  if ((groups_.size() + 1) * 2 > slots_.size()) {  // at most half full
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& slot : old) {
      if (slot.used) insert_slot(slot.hash, slot.id);
    }
  }
  auto id = static_cast<std::uint32_t>(groups_.size());
  insert_slot(hash, id);
  keys_.emplace_back(key);
  groups_.push_back(empty_group());
  return groups_.back();
}

// The values one event gives its group, all read and checked before any is applied, so that
// a bad record changes nothing.
struct Rollup::EventValues {
  WeightedState weighted;  // this event's terms, with --weight-field
  std::vector<std::optional<ExactDecimal>> numerics;
  std::vector<std::optional<double>> quantiles;
  std::vector<LastState> lasts;
  std::vector<std::optional<std::uint64_t>> distincts;
};

namespace {

// The fields an event is read for: the time field, the --by fields, then each aggregate
// field, each name once. Top-level keys come from the reader's views; when any is a path
// ("props.geo") the line is parsed whole and every field found in it.
class FieldReader {
 public:
  std::size_t add(const std::string& name) {
    auto known = std::find(names_.begin(), names_.end(), name);
    if (known != names_.end()) return static_cast<std::size_t>(known - names_.begin());
    names_.push_back(name);
    paths_.push_back(split_field_path(name));
    if (paths_.back().nested()) nested_ = true;
    return names_.size() - 1;
  }
  void prepare() {
    for (const std::string& name : names_) name_views_.emplace_back(name);
    views_.resize(names_.size());
    if (nested_) name_views_.clear();  // nothing read by views: the whole line is parsed
  }
  std::span<const std::string_view> names() const { return name_views_; }
  std::span<FieldView> views() {
    return nested_ ? std::span<FieldView>() : std::span<FieldView>(views_);
  }
  // After the reader filled the views (or, for paths, before use), the line's fields.
  void read(std::string_view line) {
    if (!nested_) return;
    ParseOutcome outcome = parser_.parse_object(line);
    record_ = std::move(outcome.value);
    for (std::size_t i = 0; i < paths_.size(); ++i) {
      const JsonValue* value = record_ ? find_field(*record_, paths_[i]) : nullptr;
      views_[i] = FieldView{};
      if (value == nullptr) continue;
      views_[i].present = true;
      views_[i].kind = value->kind();
      if (value->kind() == JsonValue::Kind::boolean) {
        views_[i].text = value->as_boolean() ? "true" : "false";
      } else {
        views_[i].text = value->text();
      }
    }
  }
  const FieldView& operator[](std::size_t index) const { return views_[index]; }
  const std::string& name(std::size_t index) const { return names_[index]; }

 private:
  std::vector<std::string> names_;
  std::vector<FieldPath> paths_;
  std::vector<std::string_view> name_views_;
  std::vector<FieldView> views_;
  bool nested_ = false;
  JsonParser parser_;
  std::optional<JsonValue> record_;
};

bool absent(const FieldView& view) {
  return !view.present || view.kind == JsonValue::Kind::null;
}

std::optional<ExactDecimal> numeric_value(const FieldView& view, std::string_view field) {
  if (absent(view)) return std::nullopt;
  if (view.kind != JsonValue::Kind::number && view.kind != JsonValue::Kind::string) {
    throw Error(exit_code::data, fmt::format("field '{}' must be a number or decimal text, not {}",
                                             field, kind_name(view.kind)));
  }
  std::optional<ExactDecimal> value = parse_exact_decimal(view.text);
  if (!value) {
    std::string shown;
    append_json_string(shown, view.text.substr(0, 40));
    throw Error(exit_code::data,
                fmt::format("field '{}' must be a number or decimal text (at most {} places and "
                            "36 digits), not {}",
                            field, max_scale, shown));
  }
  return value;
}

// A value for a percentile: any finite number, also one with more places than an exact
// decimal may have (1.2345678901234567e-05): a sketch keeps 1% anyway.
std::optional<double> quantile_value(const FieldView& view, std::string_view field) {
  if (absent(view)) return std::nullopt;
  if (view.kind == JsonValue::Kind::number || view.kind == JsonValue::Kind::string) {
    if (auto exact = parse_exact_decimal(view.text)) {
      return static_cast<double>(to_long_double(exact->units, exact->scale));
    }
    double value = 0;
    auto [end, error] =
        std::from_chars(view.text.data(), view.text.data() + view.text.size(), value);
    if (error == std::errc() && end == view.text.data() + view.text.size() &&
        std::isfinite(value) && is_json_number(view.text)) {
      return value;
    }
  }
  static_cast<void>(numeric_value(view, field));  // throws the bad value's Error(65)
  return std::nullopt;
}

// An event's weight: a number of at least 1 (1 when missing or null: kept for certain).
long double weight_of(const FieldView& view, std::string_view field) {
  std::optional<ExactDecimal> value = numeric_value(view, field);
  if (!value) return 1;
  long double weight = to_long_double(value->units, value->scale);
  if (weight < 1) {
    throw Error(
        exit_code::data,
        fmt::format("field '{}' must be a weight of at least 1 (1 / the sampling rate)", field));
  }
  return weight;
}

void check_scalar(const FieldView& view, std::string_view field, std::string_view what) {
  if (view.kind == JsonValue::Kind::object || view.kind == JsonValue::Kind::array) {
    throw Error(
        exit_code::data,
        fmt::format("field '{}' must be a string, a number or a boolean for {}", field, what));
  }
}

}  // namespace

// The weighted terms of one event (fixed point; Error(65) when too large), before any group
// changes.
void Rollup::weighted_terms(long double weight, EventValues& values) const {
  long double excess = weight * weight - weight;
  values.weighted.weight = fixed(weight);
  values.weighted.variance = fixed(excess);
  values.weighted.numerics.assign(values.numerics.size(), WeightedNumeric{});
  for (std::size_t i = 0; i < values.numerics.size(); ++i) {
    if (!values.numerics[i]) continue;
    long double x = to_long_double(values.numerics[i]->units, values.numerics[i]->scale);
    WeightedNumeric& numeric = values.weighted.numerics[i];
    numeric.weight = values.weighted.weight;
    numeric.variance = values.weighted.variance;
    numeric.sum = fixed(weight * x);
    numeric.variance_x = fixed(excess * x);
    numeric.variance_x2 = fixed(excess * x * x);
  }
}

void Rollup::apply(GroupState& group, const EventValues& values, std::int64_t micros) {
  ++group.count;
  if (!spec_.weight_field.empty()) merge_weighted(group.weighted, values.weighted);
  for (std::size_t i = 0; i < values.numerics.size(); ++i) {
    if (values.numerics[i]) {
      add_value(group.numerics[i], *values.numerics[i], numeric_squares_[i], numeric_fields_[i]);
    }
  }
  for (std::size_t i = 0; i < values.quantiles.size(); ++i) {
    if (values.quantiles[i]) group.quantiles[i].add(*values.quantiles[i]);
  }
  for (std::size_t i = 0; i < values.lasts.size(); ++i) merge_last(group.lasts[i], values.lasts[i]);
  for (std::size_t i = 0; i < values.distincts.size(); ++i) {
    if (values.distincts[i]) group.distincts[i].add(*values.distincts[i]);
  }
  (void)micros;
}

ReadSummary Rollup::read(const std::vector<std::string>& inputs, const InputOptions& options,
                         const Keep& keep) {
  JsonlReader reader(inputs, options);
  FieldReader fields;
  std::size_t time_field = fields.add(spec_.time_field);
  std::optional<std::size_t> weight_field;
  if (!spec_.weight_field.empty()) weight_field = fields.add(spec_.weight_field);
  std::vector<std::size_t> by_fields, numeric_fields, quantile_fields, last_fields, distinct_fields;
  for (const std::string& name : spec_.by) by_fields.push_back(fields.add(name));
  for (const std::string& name : numeric_fields_) numeric_fields.push_back(fields.add(name));
  for (const std::string& name : quantile_fields_) quantile_fields.push_back(fields.add(name));
  for (const std::string& name : last_fields_) last_fields.push_back(fields.add(name));
  for (const std::string& name : distinct_fields_) distinct_fields.push_back(fields.add(name));
  fields.prepare();

  Bucketer bucketer(spec_.every, TimeZone::named("--tz", spec_.tz));
  EventValues values;
  values.numerics.resize(numeric_fields.size());
  values.quantiles.resize(quantile_fields.size());
  values.lasts.resize(last_fields.size());
  values.distincts.resize(distinct_fields.size());
  std::vector<GroupValue> group_values(by_fields.size());
  std::string key;
  ReadSummary summary;
  bool applying = false;
  std::uint64_t since_check = 0;
  while (auto line = reader.next_fields(fields.names(), fields.views())) {
    if (++since_check == 65536) {
      throw_if_interrupted();
      since_check = 0;
    }
    try {
      fields.read(reader.line_text());
      std::int64_t micros =
          sluice::micros(instant_in_field(fields[time_field], fields.name(time_field)));
      long double weight =
          weight_field ? weight_of(fields[*weight_field], spec_.weight_field) : 1.0L;
      for (std::size_t i = 0; i < by_fields.size(); ++i) {
        const FieldView& view = fields[by_fields[i]];
        check_scalar(view, fields.name(by_fields[i]), "--by");
        group_values[i].kind = absent(view) ? JsonValue::Kind::null : view.kind;
        group_values[i].text.assign(absent(view) ? std::string_view() : view.text);
      }
      for (std::size_t i = 0; i < numeric_fields.size(); ++i) {
        values.numerics[i] =
            numeric_value(fields[numeric_fields[i]], fields.name(numeric_fields[i]));
      }
      for (std::size_t i = 0; i < quantile_fields.size(); ++i) {
        values.quantiles[i] =
            quantile_value(fields[quantile_fields[i]], fields.name(quantile_fields[i]));
      }
      for (std::size_t i = 0; i < last_fields.size(); ++i) {
        const FieldView& view = fields[last_fields[i]];
        check_scalar(view, fields.name(last_fields[i]), "last");
        LastState& last = values.lasts[i];
        last.present = !absent(view);
        last.micros = micros;
        last.kind = view.kind;
        last.text.assign(last.present ? view.text : std::string_view());
      }
      for (std::size_t i = 0; i < distinct_fields.size(); ++i) {
        const FieldView& view = fields[distinct_fields[i]];
        check_scalar(view, fields.name(distinct_fields[i]), "distinct");
        values.distincts[i] = absent(view) ? std::nullopt : std::optional(spread_hash(view.text));
      }
      if (weight_field) weighted_terms(weight, values);
      std::int64_t bucket = bucketer.start_of(micros);
      ++summary.events;
      if (keep && !keep(micros, bucket, reader.line_text())) continue;
      encode_key(key, bucket, group_values);
      applying = true;  // an error from here on (a sum past 128 bits) may leave the group half
      apply(group_for(key), values, micros);  // changed: it ends the run, never skipped
      applying = false;
    } catch (const Error& error) {
      if (error.code() != exit_code::data) throw;
      if (applying) {
        throw Error(
            exit_code::data,
            fmt::format("{}: {}", reader.location_of(reader.current_input(), *line), error.what()));
      }
      reader.reject_line(*line, error.what());
    }
  }
  summary.skipped = reader.skipped();
  return summary;
}

void Rollup::merge_group(GroupState& into, const GroupState& from) const {
  into.count += from.count;
  merge_weighted(into.weighted, from.weighted);
  for (std::size_t i = 0; i < into.numerics.size(); ++i) {
    merge_numeric(into.numerics[i], from.numerics[i], numeric_squares_[i], numeric_fields_[i]);
  }
  for (std::size_t i = 0; i < into.quantiles.size(); ++i)
    into.quantiles[i].merge(from.quantiles[i]);
  for (std::size_t i = 0; i < into.lasts.size(); ++i) merge_last(into.lasts[i], from.lasts[i]);
  for (std::size_t i = 0; i < into.distincts.size(); ++i)
    into.distincts[i].merge(from.distincts[i]);
}

std::vector<GroupRecord> Rollup::records() const {
  std::vector<GroupRecord> records;
  for (std::size_t index : sorted_groups()) {
    records.push_back(
        {key_bucket(keys_[index]), key_values(keys_[index], spec_.by.size()), groups_[index]});
  }
  return records;
}

void Rollup::add(const GroupRecord& record) {
  std::string key;
  encode_key(key, record.bucket, record.values);
  merge_group(group_for(key), record.state);
}

void Rollup::merge(const Rollup& other) {
  for (std::size_t i = 0; i < other.groups_.size(); ++i) {
    merge_group(group_for(other.keys_[i]), other.groups_[i]);
  }
}

std::vector<std::size_t> Rollup::sorted_groups() const {
  std::vector<std::size_t> order(groups_.size());
  std::vector<std::vector<GroupValue>> values(groups_.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
    values[i] = key_values(keys_[i], spec_.by.size());
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    std::int64_t bucket_a = key_bucket(keys_[a]);
    std::int64_t bucket_b = key_bucket(keys_[b]);
    if (bucket_a != bucket_b) return bucket_a < bucket_b;
    return std::lexicographical_compare(values[a].begin(), values[a].end(), values[b].begin(),
                                        values[b].end(), value_less);
  });
  return order;
}

namespace {

// The Horvitz-Thompson sum and its standard error, or the ratio estimate of the mean and its
// linearised standard error: sqrt(sum (w^2 - w)(x - R)^2) / sum w.
void weighted_json(const WeightedNumeric& numeric, AggregateKind kind, JsonValue& value,
                   JsonValue& stderr_value) {
  if (numeric.weight == 0) return;
  long double sum = from_fixed(numeric.sum);
  if (kind == AggregateKind::sum) {
    value = double_json(static_cast<double>(sum));
    stderr_value = double_json(
        static_cast<double>(std::sqrt(std::max(0.0L, from_fixed(numeric.variance_x2)))));
    return;
  }
  long double weight = from_fixed(numeric.weight);
  long double ratio = sum / weight;
  long double spread = from_fixed(numeric.variance_x2) -
                       2 * ratio * from_fixed(numeric.variance_x) +
                       ratio * ratio * from_fixed(numeric.variance);
  value = double_json(static_cast<double>(ratio));
  stderr_value = double_json(static_cast<double>(std::sqrt(std::max(0.0L, spread)) / weight));
}

}  // namespace

std::vector<JsonValue> Rollup::rows() const {
  bool weighted = !spec_.weight_field.empty();
  std::vector<JsonValue> rows;
  rows.reserve(groups_.size());
  for (std::size_t index : sorted_groups()) {
    const GroupState& group = groups_[index];
    std::vector<JsonValue::Member> members;
    members.emplace_back(
        "bucket", JsonValue::string(format_instant(instant_from_micros(key_bucket(keys_[index])))));
    std::vector<GroupValue> values = key_values(keys_[index], spec_.by.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      members.emplace_back(spec_.by[i], json_of(values[i].kind, values[i].text));
    }
    for (std::size_t i = 0; i < spec_.aggregates.size(); ++i) {
      const Aggregate& aggregate = spec_.aggregates[i];
      std::size_t slot = aggregate_slot_[i];
      JsonValue value;
      JsonValue stderr_value;
      switch (aggregate.kind) {
        case AggregateKind::count:
          value = JsonValue::number(std::to_string(group.count));
          if (weighted) {
            value = double_json(static_cast<double>(from_fixed(group.weighted.weight)));
            stderr_value = double_json(static_cast<double>(
                std::sqrt(std::max(0.0L, from_fixed(group.weighted.variance)))));
          }
          break;
        case AggregateKind::sum:
        case AggregateKind::min:
        case AggregateKind::max:
        case AggregateKind::avg:
        case AggregateKind::stddev: {
          const NumericState& state = group.numerics[slot];
          if (state.count == 0) break;
          if (aggregate.kind == AggregateKind::sum) value = decimal_json(state.sum, state.scale);
          if (aggregate.kind == AggregateKind::min) value = decimal_json(state.min, state.scale);
          if (aggregate.kind == AggregateKind::max) value = decimal_json(state.max, state.scale);
          if (aggregate.kind == AggregateKind::avg) {
            value = double_json(static_cast<double>(to_long_double(state.sum, state.scale) /
                                                    static_cast<long double>(state.count)));
          }
          if (aggregate.kind == AggregateKind::stddev) value = stddev_json(state);
          if (weighted &&
              (aggregate.kind == AggregateKind::sum || aggregate.kind == AggregateKind::avg)) {
            weighted_json(group.weighted.numerics[slot], aggregate.kind, value, stderr_value);
          }
          break;
        }
        case AggregateKind::quantile: {
          const QuantileSketch& sketch = group.quantiles[slot];
          if (sketch.count() > 0) {
            auto rank = static_cast<Int128>(aggregate.quantile_numerator) *
                        static_cast<Int128>(sketch.count() - 1) /
                        static_cast<Int128>(aggregate.quantile_denominator);
            value = double_json(sketch.value_at_rank(static_cast<std::uint64_t>(rank)));
          }
          break;
        }
        case AggregateKind::last: {
          const LastState& last = group.lasts[slot];
          if (last.present) value = json_of(last.kind, last.text);
          break;
        }
        case AggregateKind::distinct:
          value = JsonValue::number(std::to_string(group.distincts[slot].count()));
          break;
      }
      members.emplace_back(aggregate.column, std::move(value));
      if (!weighted) continue;
      if (aggregate.kind == AggregateKind::count || aggregate.kind == AggregateKind::sum ||
          aggregate.kind == AggregateKind::avg) {
        members.emplace_back(aggregate.column + "_stderr", std::move(stderr_value));
      } else if (aggregate.kind == AggregateKind::distinct) {
        members.emplace_back(aggregate.column + "_corrected", JsonValue::boolean(false));
      }
    }
    rows.push_back(JsonValue::object(std::move(members)));
  }
  return rows;
}

}  // namespace sluice::rollup
