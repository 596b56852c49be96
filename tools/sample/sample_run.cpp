#include "sample_run.hpp"

#include <algorithm>
#include <utility>

#include "sluice/error.hpp"
#include "sluice/record_reader.hpp"
#include "sluice/signals.hpp"

namespace sluice::sample {

namespace {

constexpr std::string_view bad_weight_message =
    "field 'sample_rate' must be a number (a weight from sampling)";

// The rate for `record`: the first rule it meets, else --rate.
const KeepRate& rate_for(const JsonValue& record, const SampleOptions& options) {
  for (const Rule& rule : options.rules) {
    if (rule.condition.matches(record)) return rule.rate;
  }
  return options.rate;
}

class Decider {
 public:
  explicit Decider(const SampleOptions& options) : options_(options), random_(options.seed) {}
  // The weight of a kept record, or nullopt when it is dropped.
  std::optional<double> decide(const JsonValue& record) {
    const KeepRate& rate = rate_for(record, options_);
    if (!rate.threshold) return rate.sample_rate;
    return keeps(rate, draw(record)) ? std::optional<double>(rate.sample_rate) : std::nullopt;
  }

 private:
  // The key's draw, or for a record without one (no --key, or the field missing or null) the
  // next draw of the seeded generator.
  std::uint64_t draw(const JsonValue& record) {
    if (options_.key) {
      const JsonValue* value = find_field(record, *options_.key);
      if (std::optional<std::string_view> text = scalar_text(value)) {
        return key_draw(options_.seed, *text);
      }
      if (value != nullptr && value->kind() != JsonValue::Kind::null) {
        throw Error(exit_code::data, "field '" + options_.key->name +
                                         "' must be a string, a number or a boolean for --key");
      }
    }
    return random_.next();
  }
  const SampleOptions& options_;
  Random random_;
};

SampleCounts run_reservoir(RecordReader& reader, const SampleOptions& options, OutputStream& out) {
  struct Kept {
    std::uint64_t arrival;
    std::string line;
    std::optional<JsonValue> earlier;  // its sample_rate
  };
  std::vector<Kept> kept;
  Reservoir reservoir(*options.reservoir, options.seed);
  while (const JsonValue* record = reader.next()) {
    throw_if_interrupted();
    const JsonValue* earlier = record->find(weight_field);
    // Checked before the line is offered: the kept lines are printed only at the end, when
    // the line's location is gone, and a skipped line must not count as read.
    if (earlier != nullptr && !earlier->is_number()) {
      reader.reject(bad_weight_message);
      continue;
    }
    if (!reservoir.offer()) continue;
    Kept item{reservoir.seen(), std::string(reader.text()),
              earlier ? std::optional<JsonValue>(*earlier) : std::nullopt};
    if (reservoir.slot() < kept.size()) {
      kept[reservoir.slot()] = std::move(item);
    } else {
      kept.push_back(std::move(item));
    }
  }
  std::sort(kept.begin(), kept.end(),
            [](const Kept& a, const Kept& b) { return a.arrival < b.arrival; });
  double weight =
      kept.empty() ? 1 : static_cast<double>(reservoir.seen()) / static_cast<double>(kept.size());
  for (const Kept& item : kept) {
    out.write_line(with_weight(item.line, item.earlier ? &*item.earlier : nullptr, weight));
  }
  return {reservoir.seen(), kept.size(), reader.skipped()};
}

// Every field a line is read for.
std::vector<FieldPath> fields_read(const SampleOptions& options) {
  std::vector<FieldPath> fields{split_field_path(weight_field)};
  if (options.key) fields.push_back(*options.key);
  for (const Rule& rule : options.rules) {
    for (const ConditionTerm& term : rule.condition.terms()) fields.push_back(term.field);
  }
  return fields;
}

// Where the string starting at `line[at]` (its opening quote) ends, just past its closing quote.
std::size_t string_end(std::string_view line, std::size_t at) {
  for (++at; at < line.size() && line[at] != '"'; ++at) {
    if (line[at] == '\\') ++at;
  }
  return at + 1;
}

// Where the JSON value starting at `line[at]` ends.
std::size_t value_end(std::string_view line, std::size_t at) {
  if (line[at] == '"') return string_end(line, at);
  if (line[at] != '{' && line[at] != '[') {
    return std::min(line.find_first_of(",}] \t\r\n", at), line.size());
  }
  int depth = 0;
  while (at < line.size()) {
    char c = line[at];
    if (c == '"') {
      at = string_end(line, at);
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
    ++at;
    if (depth == 0) break;
  }
  return at;
}

std::size_t skip_space(std::string_view line, std::size_t at) {
  return std::min(line.find_first_not_of(" \t\r\n", at), line.size());
}

// Whether the key `quoted` (with its quotes, as written) names `name`.
bool key_is(std::string_view quoted, std::string_view name) {
  std::string_view raw = quoted.substr(1, quoted.size() - 2);
  if (raw.find('\\') == std::string_view::npos) return raw == name;
  JsonParser parser;
  std::string object = "{" + std::string(quoted) + ":0}";
  return parser.parse_object(object).value->members().front().first == name;
}

// The [begin, end) of the value of every top-level member of `line` (a JSON object that was
// read whole, so valid) named `name`.
std::vector<std::pair<std::size_t, std::size_t>> member_values(std::string_view line,
                                                               std::string_view name) {
  std::vector<std::pair<std::size_t, std::size_t>> values;
  std::size_t at = skip_space(line, line.find('{') + 1);
  while (at < line.size() && line[at] == '"') {
    std::size_t key_end = string_end(line, at);
    bool wanted = key_is(line.substr(at, key_end - at), name);
    std::size_t begin = skip_space(line, skip_space(line, key_end) + 1);
    std::size_t end = value_end(line, begin);
    if (wanted) values.emplace_back(begin, end);
    at = skip_space(line, end);
    if (at < line.size() && line[at] == ',') at = skip_space(line, at + 1);
  }
  return values;
}

}  // namespace

std::string with_weight(std::string_view line, const JsonValue* earlier, double weight) {
  if (earlier == nullptr) {
    std::string out(line.substr(0, line.rfind('}')));
    while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
    if (out.back() != '{') out += ',';
    append_json_string(out, weight_field);
    out += ':';
    append_json_number(out, weight);
    out += '}';
    return out;
  }
  if (!earlier->is_number()) {
    throw Error(exit_code::data, std::string(bad_weight_message));
  }
  // Rare (a stream sampled twice): the value is replaced where it stands, so that the rest of
  // the line keeps its exact text (escapes, spacing, numbers as written).
  std::string product;
  append_json_number(product, std::strtod(earlier->text().c_str(), nullptr) * weight);
  std::string out;
  std::size_t copied = 0;
  for (auto [begin, end] : member_values(line, weight_field)) {
    out.append(line.substr(copied, begin - copied));
    out += product;
    copied = end;
  }
  out.append(line.substr(copied));
  return out;
}

SampleCounts run_sample(const std::vector<std::string>& inputs, const SampleOptions& options,
                        OutputStream& out) {
  RecordReader reader(inputs, options.input, fields_read(options));
  if (options.reservoir) return run_reservoir(reader, options, out);
  Decider decider(options);
  SampleCounts counts;
  while (const JsonValue* record = reader.next()) {
    throw_if_interrupted();
    ++counts.read;
    try {
      // Checked on every line, kept or not, so that whether a bad line stops the run does not
      // depend on the draw.
      const JsonValue* earlier = record->find(weight_field);
      if (earlier != nullptr && !earlier->is_number()) {
        throw Error(exit_code::data, std::string(bad_weight_message));
      }
      std::optional<double> weight = decider.decide(*record);
      if (!weight) continue;
      out.write_line(with_weight(reader.text(), earlier, *weight));
      ++counts.kept;
    } catch (const Error& error) {
      if (error.code() != exit_code::data) throw;
      reader.reject(error.what());
    }
  }
  counts.skipped = reader.skipped();
  return counts;
}

}  // namespace sluice::sample
