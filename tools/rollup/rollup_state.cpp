// The saved state of --save-state and `rollup merge` (rollup_engine.hpp). JSON Lines:
//   {"sluice_rollup_state":1,"spec":SPEC,"groups":N}     SPEC: Spec::canonical()
//   then one line per group, in row order:
//   {"bucket":MICROS,"by":[VALUE...],"count":N,
//    "numeric":[[COUNT,SCALE,"SUM","MIN","MAX","SQUARES"]...],   one per numeric field
//    "quantile":[[ZERO,POSITIVE_OFFSET,[COUNTS],NEGATIVE_OFFSET,[COUNTS]]...],
//    "last":[null or [MICROS,VALUE]...],
//    "distinct":[["exact","HEX16"...] or ["hll","REGISTERS"]...]}
// REGISTERS is one character per HyperLogLog register, 'A' + its value. The file is written
// at once (AtomicFile), so a reader sees a whole state or the previous one.
#include <charconv>

#include <fmt/format.h>

#include "rollup_engine.hpp"
#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::rollup {

namespace {

constexpr std::string_view state_format = "sluice_rollup_state";

std::string int128_text(Int128 value) {
  return decimal::format_amount(value, 0);
}

void append_value(std::string& out, JsonValue::Kind kind, const std::string& text) {
  switch (kind) {
    case JsonValue::Kind::null:
      out += "null";
      break;
    case JsonValue::Kind::string:
      append_json_string(out, text);
      break;
    default:
      out += text;
  }
}

void append_counts(std::string& out, const QuantileSketch::Store& store) {
  out += fmt::format("{},[", store.offset);
  for (std::size_t i = 0; i < store.counts.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(store.counts[i]);
  }
  out += ']';
}

void append_weighted(std::string& out, const WeightedState& weighted) {
  out += fmt::format(",\"weighted\":[\"{}\",\"{}\",[", int128_text(weighted.weight),
                     int128_text(weighted.variance));
  for (std::size_t i = 0; i < weighted.numerics.size(); ++i) {
    const WeightedNumeric& numeric = weighted.numerics[i];
    if (i > 0) out += ',';
    out += fmt::format("[\"{}\",\"{}\",\"{}\",\"{}\",\"{}\"]", int128_text(numeric.weight),
                       int128_text(numeric.variance), int128_text(numeric.sum),
                       int128_text(numeric.variance_x), int128_text(numeric.variance_x2));
  }
  out += "]]";
}

void append_group(std::string& out, std::int64_t bucket, const std::vector<GroupValue>& values,
                  const GroupState& group, bool weighted) {
  out += fmt::format("{{\"bucket\":{},\"by\":[", bucket);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    append_value(out, values[i].kind, values[i].text);
  }
  out += fmt::format("],\"count\":{},\"numeric\":[", group.count);
  for (std::size_t i = 0; i < group.numerics.size(); ++i) {
    const NumericState& state = group.numerics[i];
    if (i > 0) out += ',';
    out += fmt::format("[{},{},\"{}\",\"{}\",\"{}\",\"{}\"]", state.count, state.scale,
                       int128_text(state.sum), int128_text(state.min), int128_text(state.max),
                       int128_text(state.squares));
  }
  out += "],\"quantile\":[";
  for (std::size_t i = 0; i < group.quantiles.size(); ++i) {
    const QuantileSketch& sketch = group.quantiles[i];
    if (i > 0) out += ',';
    out += fmt::format("[{},", sketch.zero_count());
    append_counts(out, sketch.positive());
    out += ',';
    append_counts(out, sketch.negative());
    out += ']';
  }
  out += "],\"last\":[";
  for (std::size_t i = 0; i < group.lasts.size(); ++i) {
    const LastState& last = group.lasts[i];
    if (i > 0) out += ',';
    if (!last.present) {
      out += "null";
      continue;
    }
    out += fmt::format("[{},", last.micros);
    append_value(out, last.kind, last.text);
    out += ']';
  }
  out += "],\"distinct\":[";
  for (std::size_t i = 0; i < group.distincts.size(); ++i) {
    const DistinctCounter& counter = group.distincts[i];
    if (i > 0) out += ',';
    if (const HyperLogLog* sketch = counter.sketch()) {
      out += "[\"hll\",\"";
      for (std::uint8_t value : sketch->registers()) out += static_cast<char>('A' + value);
      out += "\"]";
    } else {
      out += "[\"exact\"";
      for (std::uint64_t hash : counter.hashes()) out += fmt::format(",\"{:016x}\"", hash);
      out += ']';
    }
  }
  out += ']';
  if (weighted) append_weighted(out, group.weighted);
  out += '}';
}

// Reading: every malformation is one Error(65), "malformed rollup state".
}  // namespace

struct Malformed {};

namespace {

const JsonValue& member(const JsonValue& object, std::string_view key, JsonValue::Kind kind) {
  const JsonValue* value = object.find(key);
  if (value == nullptr || value->kind() != kind) throw Malformed{};
  return *value;
}

const JsonValue& item(const JsonValue& array, std::size_t index, JsonValue::Kind kind) {
  if (array.kind() != JsonValue::Kind::array || index >= array.items().size() ||
      array.items()[index].kind() != kind) {
    throw Malformed{};
  }
  return array.items()[index];
}

template <typename Integer>
Integer integer_of(const std::string& text) {
  Integer value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) throw Malformed{};
  return value;
}

Int128 int128_of(const JsonValue& value) {
  if (!value.is_string()) throw Malformed{};
  const std::string& text = value.text();
  bool negative = !text.empty() && text[0] == '-';
  std::size_t at = negative ? 1 : 0;
  if (at == text.size() || text.size() > 41) throw Malformed{};
  Int128 result = 0;
  for (; at < text.size(); ++at) {
    if (text[at] < '0' || text[at] > '9') throw Malformed{};
    if (__builtin_mul_overflow(result, 10, &result) ||
        __builtin_add_overflow(result, text[at] - '0', &result)) {
      throw Malformed{};
    }
  }
  return negative ? -result : result;
}

std::uint64_t count_of(const JsonValue& value) {
  if (!value.is_number()) throw Malformed{};
  return integer_of<std::uint64_t>(value.text());
}

GroupValue group_value_of(const JsonValue& value) {
  switch (value.kind()) {
    case JsonValue::Kind::null:
    case JsonValue::Kind::number:
    case JsonValue::Kind::string:
      return {value.kind(), value.text()};
    case JsonValue::Kind::boolean:
      return {value.kind(), value.as_boolean() ? "true" : "false"};
    default:
      throw Malformed{};
  }
}

QuantileSketch::Store store_of(const JsonValue& sketch, std::size_t at) {
  QuantileSketch::Store store;
  store.offset = integer_of<std::int32_t>(item(sketch, at, JsonValue::Kind::number).text());
  for (const JsonValue& count : item(sketch, at + 1, JsonValue::Kind::array).items()) {
    store.counts.push_back(count_of(count));
  }
  return store;
}

DistinctCounter distinct_of(const JsonValue& value) {
  const std::string& form = item(value, 0, JsonValue::Kind::string).text();
  if (form == "hll") {
    const std::string& text = item(value, 1, JsonValue::Kind::string).text();
    std::vector<std::uint8_t> registers;
    for (char c : text) {
      if (c < 'A') throw Malformed{};
      registers.push_back(static_cast<std::uint8_t>(c - 'A'));
    }
    return DistinctCounter::from_sketch(HyperLogLog::from_registers(std::move(registers)));
  }
  if (form != "exact") throw Malformed{};
  std::vector<std::uint64_t> hashes;
  for (std::size_t i = 1; i < value.items().size(); ++i) {
    const std::string& text = item(value, i, JsonValue::Kind::string).text();
    std::uint64_t hash = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), hash, 16);
    if (error != std::errc() || end != text.data() + text.size()) throw Malformed{};
    hashes.push_back(hash);
  }
  return DistinctCounter::from_hashes(hashes);
}

}  // namespace

GroupRecord Rollup::parse_record(const JsonValue& record) const {
  GroupRecord result;
  std::int64_t& bucket = result.bucket;
  bucket = integer_of<std::int64_t>(member(record, "bucket", JsonValue::Kind::number).text());
  std::vector<GroupValue>& values = result.values;
  for (const JsonValue& value : member(record, "by", JsonValue::Kind::array).items()) {
    values.push_back(group_value_of(value));
  }
  if (values.size() != spec_.by.size()) throw Malformed{};
  result.state = empty_group();
  GroupState& group = result.state;
  group.count = count_of(member(record, "count", JsonValue::Kind::number));
  const auto& numerics = member(record, "numeric", JsonValue::Kind::array).items();
  const auto& quantiles = member(record, "quantile", JsonValue::Kind::array).items();
  const auto& lasts = member(record, "last", JsonValue::Kind::array).items();
  const auto& distincts = member(record, "distinct", JsonValue::Kind::array).items();
  if (numerics.size() != group.numerics.size() || quantiles.size() != group.quantiles.size() ||
      lasts.size() != group.lasts.size() || distincts.size() != group.distincts.size()) {
    throw Malformed{};
  }
  for (std::size_t i = 0; i < numerics.size(); ++i) {
    NumericState& state = group.numerics[i];
    state.count = count_of(item(numerics[i], 0, JsonValue::Kind::number));
    state.scale = integer_of<int>(item(numerics[i], 1, JsonValue::Kind::number).text());
    if (state.scale < 0 || state.scale > max_scale) throw Malformed{};
    state.sum = int128_of(item(numerics[i], 2, JsonValue::Kind::string));
    state.min = int128_of(item(numerics[i], 3, JsonValue::Kind::string));
    state.max = int128_of(item(numerics[i], 4, JsonValue::Kind::string));
    state.squares = int128_of(item(numerics[i], 5, JsonValue::Kind::string));
  }
  for (std::size_t i = 0; i < quantiles.size(); ++i) {
    std::uint64_t zero = count_of(item(quantiles[i], 0, JsonValue::Kind::number));
    group.quantiles[i] =
        QuantileSketch::from_parts(zero, store_of(quantiles[i], 1), store_of(quantiles[i], 3));
  }
  for (std::size_t i = 0; i < lasts.size(); ++i) {
    if (lasts[i].kind() == JsonValue::Kind::null) continue;
    LastState& last = group.lasts[i];
    last.present = true;
    last.micros = integer_of<std::int64_t>(item(lasts[i], 0, JsonValue::Kind::number).text());
    if (lasts[i].items().size() != 2) throw Malformed{};
    GroupValue value = group_value_of(lasts[i].items()[1]);
    last.kind = value.kind;
    last.text = std::move(value.text);
  }
  for (std::size_t i = 0; i < distincts.size(); ++i) group.distincts[i] = distinct_of(distincts[i]);
  if (!spec_.weight_field.empty()) {
    const JsonValue& weighted = member(record, "weighted", JsonValue::Kind::array);
    group.weighted.weight = int128_of(item(weighted, 0, JsonValue::Kind::string));
    group.weighted.variance = int128_of(item(weighted, 1, JsonValue::Kind::string));
    const auto& sums = item(weighted, 2, JsonValue::Kind::array).items();
    if (sums.size() != group.weighted.numerics.size()) throw Malformed{};
    for (std::size_t i = 0; i < sums.size(); ++i) {
      WeightedNumeric& numeric = group.weighted.numerics[i];
      numeric.weight = int128_of(item(sums[i], 0, JsonValue::Kind::string));
      numeric.variance = int128_of(item(sums[i], 1, JsonValue::Kind::string));
      numeric.sum = int128_of(item(sums[i], 2, JsonValue::Kind::string));
      numeric.variance_x = int128_of(item(sums[i], 3, JsonValue::Kind::string));
      numeric.variance_x2 = int128_of(item(sums[i], 4, JsonValue::Kind::string));
    }
  }
  return result;
}

GroupRecord Rollup::parse_group(std::string_view line) const {
  JsonParser parser;
  ParseOutcome outcome = parser.parse_object(line);
  try {
    if (!outcome.value) throw Malformed{};
    return parse_record(*outcome.value);
  } catch (const Malformed&) {
    throw Error(exit_code::data, "malformed rollup state");
  }
}

std::string Rollup::group_line(const GroupRecord& record) const {
  std::string out;
  append_group(out, record.bucket, record.values, record.state, !spec_.weight_field.empty());
  return out;
}

std::string Rollup::state_text() const {
  std::string out = fmt::format("{{\"{}\":1,\"spec\":{},\"groups\":{}}}\n", state_format,
                                spec_.canonical(), groups_.size());
  for (const GroupRecord& record : records()) {
    append_group(out, record.bucket, record.values, record.state, !spec_.weight_field.empty());
    out += '\n';
  }
  return out;
}

Rollup Rollup::from_state(std::string_view source, std::string_view text) {
  JsonParser parser;
  std::size_t line_number = 0;
  auto next_line = [&]() -> std::optional<JsonValue> {
    if (text.empty()) return std::nullopt;
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    ParseOutcome outcome = parser.parse_object(line);
    if (!outcome.value) throw Malformed{};
    return std::move(outcome.value);
  };
  try {
    std::optional<JsonValue> header = next_line();
    if (!header || header->find(state_format) == nullptr) {
      throw Error(exit_code::data,
                  fmt::format("{}: not a rollup state (from rollup --save-state)", source));
    }
    if (member(*header, state_format, JsonValue::Kind::number).text() != "1") {
      throw Error(exit_code::data, fmt::format("{}: a rollup state of a newer version", source));
    }
    Rollup rollup(
        Spec::from_canonical(canonical_json(member(*header, "spec", JsonValue::Kind::object))));
    std::uint64_t expected = count_of(member(*header, "groups", JsonValue::Kind::number));
    std::string key;
    while (std::optional<JsonValue> line = next_line()) {
      GroupRecord record = rollup.parse_record(*line);
      encode_key(key, record.bucket, record.values);
      if (rollup.find_group(key, std::hash<std::string_view>{}(key))) throw Malformed{};
      rollup.add(record);
    }
    if (rollup.groups_.size() != expected) {
      throw Error(exit_code::data,
                  fmt::format("{}: the rollup state is truncated ({} of {} groups)", source,
                              rollup.groups_.size(), expected));
    }
    return rollup;
  } catch (const Malformed&) {
    throw Error(exit_code::data, fmt::format("{}:{}: malformed rollup state", source, line_number));
  } catch (const Error& error) {
    if (error.code() != exit_code::data || std::string_view(error.what()).starts_with(source))
      throw;
    throw Error(exit_code::data, fmt::format("{}:{}: {}", source, line_number, error.what()));
  }
}

}  // namespace sluice::rollup
