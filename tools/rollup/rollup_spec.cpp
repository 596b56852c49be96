#include "rollup_spec.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/json.hpp"
#include "sluice/jsonl.hpp"
#include "sluice/names.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::rollup {

namespace {

constexpr NameTable<AggregateKind, 8> plain_aggregate_names{{{
    {"count", AggregateKind::count},
    {"sum", AggregateKind::sum},
    {"min", AggregateKind::min},
    {"max", AggregateKind::max},
    {"avg", AggregateKind::avg},
    {"stddev", AggregateKind::stddev},
    {"last", AggregateKind::last},
    {"distinct", AggregateKind::distinct},
}}};

Error bad_aggregate(std::string_view text, std::string_view why) {
  return Error(exit_code::usage, fmt::format("--agg: '{}' {}", text, why));
}

// "p50" -> 50/100, "p99.9" -> 999/1000: p followed by a number above 0 and below 100.
struct QuantileFraction {
  std::uint64_t numerator = 0;
  std::uint64_t denominator = 1;
};

std::optional<QuantileFraction> quantile_of(std::string_view word) {
  if (word.size() < 2 || word[0] != 'p') return std::nullopt;
  std::string_view digits = word.substr(1);
  if (!std::all_of(digits.begin(), digits.end(),
                   [](char c) { return (c >= '0' && c <= '9') || c == '.'; }) ||
      digits.front() == '.' || digits.back() == '.' ||
      std::count(digits.begin(), digits.end(), '.') > 1) {
    return std::nullopt;
  }
  // Up to 15 digits keep the fraction exact in 64 bits and numerator x (n - 1) in 128.
  if (digits.size() - static_cast<std::size_t>(std::count(digits.begin(), digits.end(), '.')) >
      15) {
    return std::nullopt;
  }
  QuantileFraction fraction{0, 100};
  bool after_point = false;
  for (char c : digits) {
    if (c == '.') {
      after_point = true;
      continue;
    }
    fraction.numerator = fraction.numerator * 10 + static_cast<std::uint64_t>(c - '0');
    if (after_point) fraction.denominator *= 10;
  }
  if (fraction.numerator == 0 || fraction.numerator >= fraction.denominator) return std::nullopt;
  return fraction;
}

}  // namespace

std::string_view aggregate_kind_word(AggregateKind kind) {
  return kind == AggregateKind::quantile ? "pNN" : plain_aggregate_names.name(kind);
}

Aggregate parse_aggregate(std::string_view text) {
  std::size_t colon = text.find(':');
  std::string_view word = text.substr(0, colon);
  Aggregate aggregate;
  if (auto kind = plain_aggregate_names.find(word)) {
    aggregate.kind = *kind;
  } else if (auto quantile = quantile_of(word)) {
    aggregate.kind = AggregateKind::quantile;
    aggregate.quantile_numerator = quantile->numerator;
    aggregate.quantile_denominator = quantile->denominator;
    aggregate.quantile =
        static_cast<double>(quantile->numerator) / static_cast<double>(quantile->denominator);
  } else {
    throw bad_aggregate(text,
                        "is not count, sum, min, max, avg, stddev, last, distinct or pNN "
                        "(p50, p99, p99.9) followed by :FIELD");
  }
  aggregate.word = std::string(word);
  if (aggregate.kind == AggregateKind::count) {
    if (colon != std::string_view::npos) throw bad_aggregate(text, "takes no field (count)");
    aggregate.column = "count";
    return aggregate;
  }
  if (colon == std::string_view::npos || colon + 1 == text.size()) {
    throw bad_aggregate(text, fmt::format("needs a field ({}:FIELD)", word));
  }
  aggregate.field = std::string(text.substr(colon + 1));
  aggregate.column = fmt::format("{}_{}", word, aggregate.field);
  return aggregate;
}

std::string Every::text() const {
  switch (unit) {
    case CalendarUnit::day:
      return "day";
    case CalendarUnit::week:
      return "week";
    case CalendarUnit::month:
      return "month";
    case CalendarUnit::none:
      break;
  }
  return format_duration(Duration(width_micros));
}

Every parse_every(std::string_view text) {
  Every every;
  if (text == "day" || text == "1d") {
    every.unit = CalendarUnit::day;
  } else if (text == "week") {
    every.unit = CalendarUnit::week;
  } else if (text == "month") {
    every.unit = CalendarUnit::month;
  } else {
    Duration width =
        with_context(exit_code::usage, "--every", [&] { return parse_duration(text); });
    if (width.count() <= 0 || width.count() >= micros_per_day) {
      throw Error(exit_code::usage,
                  fmt::format("--every: '{}' must be shorter than a day, or day (1d), week or "
                              "month (calendar buckets in --tz)",
                              text));
    }
    every.width_micros = width.count();
  }
  return every;
}

std::int64_t Bucketer::start_of(std::int64_t micros) const {
  if (every_.unit == CalendarUnit::none) {
    std::int64_t width = every_.width_micros;
    std::int64_t quotient = micros / width;
    if (micros % width < 0) --quotient;  // floor for instants before the epoch
    return quotient * width;
  }
  if (micros >= cached_begin_ && micros < cached_end_) return cached_begin_;
  return calendar_start(micros);
}

std::int64_t Bucketer::end_of(std::int64_t start) const {
  if (every_.unit == CalendarUnit::none) return start + every_.width_micros;
  (void)calendar_start(start);
  return cached_end_;
}

std::int64_t Bucketer::calendar_start(std::int64_t micros) const {
  using namespace std::chrono;
  sys_days day = zone_.local_day(instant_from_micros(micros));
  sys_days first = day;
  sys_days next = day + days(1);
  if (every_.unit == CalendarUnit::week) {
    first = day - (weekday(day) - Monday);
    next = first + days(7);
  } else if (every_.unit == CalendarUnit::month) {
    year_month_day date(day);
    first = sys_days(date.year() / date.month() / 1);
    next = sys_days((date.year() / date.month() + months(1)) / 1);
  }
  cached_begin_ = sluice::micros(zone_.start_of_day(first));
  cached_end_ = sluice::micros(zone_.start_of_day(next));
  return cached_begin_;
}

void Spec::check() const {
  if (aggregates.empty()) {
    throw Error(exit_code::usage, "--agg: give at least one aggregate (count, sum:FIELD, ...)");
  }
  std::set<std::string> columns{"bucket"};
  for (const std::string& field : by) {
    if (!columns.insert(field).second) {
      throw Error(exit_code::usage,
                  fmt::format("--by: '{}' is named twice (or is 'bucket')", field));
    }
  }
  for (const Aggregate& aggregate : aggregates) {
    if (!columns.insert(aggregate.column).second) {
      throw Error(exit_code::usage,
                  fmt::format("--agg: the column '{}' would be written twice", aggregate.column));
    }
  }
}

namespace {

std::string aggregate_text(const Aggregate& aggregate) {
  return aggregate.field.empty() ? aggregate.word
                                 : fmt::format("{}:{}", aggregate.word, aggregate.field);
}

JsonValue string_list(const std::vector<std::string>& texts) {
  std::vector<JsonValue> items;
  for (const std::string& text : texts) items.push_back(JsonValue::string(text));
  return JsonValue::array(std::move(items));
}

std::vector<std::string> strings_of(const JsonValue* value) {
  if (value == nullptr || value->kind() != JsonValue::Kind::array) {
    throw Error(exit_code::data, "malformed rollup settings");
  }
  std::vector<std::string> texts;
  for (const JsonValue& item : value->items()) {
    if (!item.is_string()) throw Error(exit_code::data, "malformed rollup settings");
    texts.push_back(item.text());
  }
  return texts;
}

std::string string_of(const JsonValue& object, std::string_view key) {
  const JsonValue* value = object.find(key);
  if (value == nullptr || !value->is_string()) {
    throw Error(exit_code::data, "malformed rollup settings");
  }
  return value->text();
}

}  // namespace

std::string Spec::canonical() const {
  std::vector<std::string> aggregate_texts;
  for (const Aggregate& aggregate : aggregates)
    aggregate_texts.push_back(aggregate_text(aggregate));
  std::vector<JsonValue::Member> members{
      {"agg", string_list(aggregate_texts)},
      {"by", string_list(by)},
      {"every", JsonValue::string(every.text())},
      {"time_field", JsonValue::string(time_field)},
      {"tz", JsonValue::string(tz)},
  };
  if (!weight_field.empty()) members.emplace_back("weight_field", JsonValue::string(weight_field));
  return canonical_json(JsonValue::object(std::move(members)));
}

Spec Spec::from_canonical(std::string_view text) {
  JsonParser parser;
  ParseOutcome outcome = parser.parse_object(text);
  if (!outcome.value) throw Error(exit_code::data, "malformed rollup settings");
  const JsonValue& object = *outcome.value;
  Spec spec;
  try {
    spec.every = parse_every(string_of(object, "every"));
    spec.tz = string_of(object, "tz");
    spec.time_field = string_of(object, "time_field");
    if (object.find("weight_field") != nullptr)
      spec.weight_field = string_of(object, "weight_field");
    spec.by = strings_of(object.find("by"));
    for (const std::string& word : strings_of(object.find("agg"))) {
      spec.aggregates.push_back(parse_aggregate(word));
    }
  } catch (const Error& error) {
    if (error.code() == exit_code::data) throw;
    throw Error(exit_code::data, fmt::format("malformed rollup settings: {}", error.what()));
  }
  return spec;
}

}  // namespace sluice::rollup
