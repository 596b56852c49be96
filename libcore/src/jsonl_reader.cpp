// The reading half of the jsonl module, the only code that touches simdjson. It lives in its
// own object file so that a tool that only writes JSON Lines (backoff) does not load
// libsimdjson at start-up.
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>
#include <simdjson.h>

#include "json_scan.hpp"
#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"
#include "sluice/signals.hpp"

namespace sluice {

// ---------------------------------------------------------------- parsing

namespace ondemand = simdjson::ondemand;

struct JsonParser::State {
  ondemand::parser parser;
  std::string padded;                  // the line copied with simdjson's required padding
  std::vector<std::string_view> keys;  // parse_fields' top-level keys, reused between lines
};

JsonParser::JsonParser() : state_(std::make_unique<State>()) {}
JsonParser::~JsonParser() = default;

namespace {

struct BuildError {
  std::string message;
};

std::string describe(simdjson::error_code code) {
  switch (code) {
    case simdjson::UTF8_ERROR:
      return "invalid UTF-8";
    case simdjson::DEPTH_ERROR:
      return "nesting is too deep";
    case simdjson::STRING_ERROR:
    case simdjson::UNCLOSED_STRING:
      return "invalid or unterminated string";
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR:
      return "invalid literal (expected true, false or null)";
    case simdjson::NUMBER_ERROR:
      return "invalid number";
    case simdjson::UNESCAPED_CHARS:
      return "unescaped control character in a string";
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
      return "truncated JSON (unclosed object or array)";
    default:
      return fmt::format("invalid JSON ({})", simdjson::error_message(code));
  }
}

void check(simdjson::error_code code) {
  if (code != simdjson::SUCCESS) throw BuildError{describe(code)};
}

// Deeper documents are refused (ondemand does not bound recursion by itself).
constexpr int max_depth = 512;

JsonValue build_value(ondemand::value value, int depth);

// The number's source text, checked against the JSON grammar (simdjson's token may carry
// trailing whitespace and is lenient about some forms).
std::string_view number_token(ondemand::value& value) {
  std::string_view token = value.raw_json_token();
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\r' ||
                            token.back() == '\n')) {
    token.remove_suffix(1);
  }
  if (!is_json_number(token)) throw BuildError{fmt::format("invalid number '{}'", token)};
  return token;
}

bool boolean_of(ondemand::value& value) {
  bool flag = false;
  check(value.get_bool().get(flag));
  return flag;
}

void check_null(ondemand::value& value) {
  bool is_null = false;
  check(value.is_null().get(is_null));
  if (!is_null) throw BuildError{"invalid literal (expected null)"};
}

std::string_view string_of(ondemand::value& value) {
  std::string_view text;
  check(value.get_string().get(text));
  return text;
}

void check_depth(int depth) {
  if (depth > max_depth) {
    throw BuildError{fmt::format("nesting is deeper than {} levels", max_depth)};
  }
}

JsonValue::Kind kind_of(ondemand::value& value) {
  ondemand::json_type type{};
  check(value.type().get(type));
  switch (type) {
    case ondemand::json_type::object:
      return JsonValue::Kind::object;
    case ondemand::json_type::array:
      return JsonValue::Kind::array;
    case ondemand::json_type::string:
      return JsonValue::Kind::string;
    case ondemand::json_type::number:
      return JsonValue::Kind::number;
    case ondemand::json_type::boolean:
      return JsonValue::Kind::boolean;
    case ondemand::json_type::null:
      return JsonValue::Kind::null;
  }
  throw BuildError{"invalid JSON value"};
}

template <typename Key>
void check_unique(std::vector<Key>& keys) {
  if (keys.size() < 2) return;
  if (keys.size() <= 16) {
    for (std::size_t i = 1; i < keys.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (keys[i] == keys[j]) throw BuildError{fmt::format("duplicate key '{}'", keys[i])};
      }
    }
    return;
  }
  std::vector<std::string_view> sorted(keys.begin(), keys.end());
  std::sort(sorted.begin(), sorted.end());
  auto repeated = std::adjacent_find(sorted.begin(), sorted.end());
  if (repeated != sorted.end()) throw BuildError{fmt::format("duplicate key '{}'", *repeated)};
}

void check_duplicate_keys(const std::vector<JsonValue::Member>& members) {
  if (members.size() < 2) return;
  std::vector<std::string_view> keys;
  keys.reserve(members.size());
  for (const auto& member : members) keys.emplace_back(member.first);
  check_unique(keys);
}

JsonValue build_object(ondemand::object object, int depth) {
  std::vector<JsonValue::Member> members;
  for (auto field : object) {
    std::string_view key;
    check(field.unescaped_key().get(key));
    ondemand::value value;
    check(field.value().get(value));
    members.emplace_back(std::string(key), build_value(value, depth + 1));
  }
  check_duplicate_keys(members);
  return JsonValue::object(std::move(members));
}

JsonValue build_array(ondemand::array array, int depth) {
  std::vector<JsonValue> items;
  for (auto element : array) {
    ondemand::value value;
    check(element.get(value));
    items.push_back(build_value(value, depth + 1));
  }
  return JsonValue::array(std::move(items));
}

JsonValue build_value(ondemand::value value, int depth) {
  check_depth(depth);
  switch (kind_of(value)) {
    case JsonValue::Kind::object: {
      ondemand::object object;
      check(value.get_object().get(object));
      return build_object(object, depth);
    }
    case JsonValue::Kind::array: {
      ondemand::array array;
      check(value.get_array().get(array));
      return build_array(array, depth);
    }
    case JsonValue::Kind::string:
      return JsonValue::string(std::string(string_of(value)));
    case JsonValue::Kind::number:
      return JsonValue::number(std::string(number_token(value)));
    case JsonValue::Kind::boolean:
      return JsonValue::boolean(boolean_of(value));
    case JsonValue::Kind::null:
      check_null(value);
      return JsonValue::null();
  }
  throw BuildError{"invalid JSON value"};
}

// Validates a value exactly as build_value would, building nothing. Returns the scalar's
// text (a string unescaped, a number's token) or an empty view for containers.
std::string_view validate_value(ondemand::value value, int depth);

// Validates an object's members, each through `visit(key, value)` when it returns true (it
// took care of the value) or validate_value otherwise; `keys` (reused storage) receives the
// keys, which must be unique.
template <typename Visit>
void validate_members(ondemand::object object, int depth, std::vector<std::string_view>& keys,
                      Visit&& visit) {
  keys.clear();
  for (auto field : object) {
    std::string_view key;
    check(field.unescaped_key().get(key));
    keys.push_back(key);
    ondemand::value value;
    check(field.value().get(value));
    if (!visit(key, value)) validate_value(value, depth + 1);
  }
  check_unique(keys);
}

std::string_view validate_value(ondemand::value value, int depth) {
  check_depth(depth);
  switch (kind_of(value)) {
    case JsonValue::Kind::object: {
      ondemand::object object;
      check(value.get_object().get(object));
      std::vector<std::string_view> keys;
      validate_members(object, depth, keys,
                       [](std::string_view, ondemand::value&) { return false; });
      return {};
    }
    case JsonValue::Kind::array: {
      ondemand::array array;
      check(value.get_array().get(array));
      for (auto element : array) {
        ondemand::value item;
        check(element.get(item));
        validate_value(item, depth + 1);
      }
      return {};
    }
    case JsonValue::Kind::string:
      return string_of(value);
    case JsonValue::Kind::number:
      return number_token(value);
    case JsonValue::Kind::boolean:
      return boolean_of(value) ? "true" : "false";
    case JsonValue::Kind::null:
      check_null(value);
      return "null";
  }
  throw BuildError{"invalid JSON value"};
}

}  // namespace

namespace {

// Opens `text` as one JSON object in `state`: the checks both parse functions share.
ondemand::object open_object(std::string_view text, std::string& padded, ondemand::parser& parser,
                             ondemand::document& document) {
  if (text.empty()) throw BuildError{"empty line (expected a JSON object)"};
  if (text.starts_with("\xEF\xBB\xBF")) {
    throw BuildError{"byte order mark (UTF-8 BOM) at the start of the line"};
  }
  padded.assign(text);
  padded.resize(text.size() + simdjson::SIMDJSON_PADDING, ' ');
  simdjson::padded_string_view view(padded.data(), text.size(), padded.size());
  check(parser.iterate(view).get(document));
  ondemand::json_type type{};
  check(document.type().get(type));
  if (type != ondemand::json_type::object) throw BuildError{"expected a JSON object"};
  ondemand::object object;
  check(document.get_object().get(object));
  return object;
}

void check_end(ondemand::document& document) {
  if (document.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    throw BuildError{"unexpected content after the JSON object"};
  }
}

}  // namespace

ParseOutcome JsonParser::parse_object(std::string_view text) {
  try {
    ondemand::document document;
    ondemand::object object = open_object(text, state_->padded, state_->parser, document);
    JsonValue value = build_object(object, 1);
    check_end(document);
    return {std::move(value), {}};
  } catch (const BuildError& error) {
    return {std::nullopt, error.message};
  }
}

std::string JsonParser::parse_fields(std::string_view text, std::span<const std::string_view> names,
                                     std::span<FieldView> fields) {
  std::fill(fields.begin(), fields.end(), FieldView{});
  if (detail::scan_plain_object(text, names, fields)) return {};
  std::fill(fields.begin(), fields.end(), FieldView{});
  try {
    ondemand::document document;
    ondemand::object object = open_object(text, state_->padded, state_->parser, document);
    validate_members(object, 1, state_->keys, [&](std::string_view key, ondemand::value& value) {
      auto wanted = std::find(names.begin(), names.end(), key);
      if (wanted == names.end()) return false;
      FieldView& view = fields[static_cast<std::size_t>(wanted - names.begin())];
      view.present = true;
      view.kind = kind_of(value);
      view.text = validate_value(value, 2);
      return true;
    });
    check_end(document);
    return {};
  } catch (const BuildError& error) {
    return error.message;
  }
}

// ---------------------------------------------------------------- JSON Lines reader

JsonlReader::JsonlReader(std::vector<std::string> paths, InputOptions options)
    : paths_(std::move(paths)), options_(options) {
  if (paths_.empty()) paths_.emplace_back("-");
  // A typo in the last file name is reported before the first file's records are processed.
  for (const auto& path : paths_) {
    if (path == "-") continue;
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
      throw Error(exit_code::no_input, fmt::format("cannot read '{}': it is a directory", path));
    }
    if (::access(path.c_str(), R_OK) != 0) {
      int code = errno == ENOENT ? exit_code::no_input : exit_code::io;
      throw Error(code, fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
    }
  }
}

JsonlReader::~JsonlReader() = default;

void JsonlReader::on_idle(std::function<void()> callback) {
  on_idle_ = std::move(callback);
  if (lines_) lines_->on_idle(on_idle_);
}

bool JsonlReader::open_next_input() {
  if (lines_) bytes_done_ += lines_->bytes_read();
  lines_.reset();
  input_.reset();
  if (next_path_ >= paths_.size()) return false;
  input_ = std::make_unique<InputFile>(paths_[next_path_++]);
  lines_ = std::make_unique<LineReader>(input_->fd(), input_->name(), options_.max_line_bytes);
  if (on_idle_) lines_->on_idle(on_idle_);
  return true;
}

bool JsonlReader::next_line(std::string_view& text) {
  for (;;) {
    if (!lines_ && !open_next_input()) return false;
    try {
      if (lines_->next(text)) return true;
    } catch (const Error& error) {
      // A line over the limit is a bad line like any other; the reader has skipped it.
      if (!options_.skip_invalid || error.code() != exit_code::data) throw;
      reject_at(error.location(), error.what());
      continue;
    }
    if (!open_next_input()) return false;
  }
}

std::optional<Record> JsonlReader::next() {
  std::string_view text;
  while (next_line(text)) {
    auto outcome = parser_.parse_object(text);
    Record record{{}, text, lines_->line_number()};
    if (outcome.value) {
      record.value = std::move(*outcome.value);
      return record;
    }
    reject(record, outcome.error);
  }
  return std::nullopt;
}

std::optional<long long> JsonlReader::next_fields(std::span<const std::string_view> names,
                                                  std::span<FieldView> fields) {
  std::string_view text;
  while (next_line(text)) {
    std::string error = parser_.parse_fields(text, names, fields);
    if (error.empty()) {
      line_text_ = text;
      return lines_->line_number();
    }
    reject_line(lines_->line_number(), error);
  }
  return std::nullopt;
}

void JsonlReader::reject_line(long long line, std::string_view message) {
  reject_at(location(lines_ ? lines_->source_name() : "<stdin>", line), message);
}

void JsonlReader::reject(const Record& record, std::string_view message) {
  reject_at(location(lines_ ? lines_->source_name() : "<stdin>", record.line), message);
}

void JsonlReader::reject_at(std::string_view where, std::string_view message) {
  if (!options_.skip_invalid)
    throw Error(exit_code::data, std::string(message), std::string(where));
  ++skipped_;
  print_diagnostic(Severity::error, where, fmt::format("{} (skipped)", message));
}

std::string JsonlReader::location_of(std::size_t input, long long line) const {
  const std::string& path = paths_.at(input);
  return location(path == "-" ? "<stdin>" : path, line);
}

std::uint64_t JsonlReader::bytes_read() const {
  return bytes_done_ + (lines_ ? lines_->bytes_read() : 0);
}

}  // namespace sluice
