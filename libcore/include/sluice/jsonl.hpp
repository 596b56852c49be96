// jsonl: reading JSON Lines (docs/ARCHITECTURE.md, "Input and output"). The only module
// that touches simdjson.
//
// Reading is strict: one JSON object per line, fully validated (UTF-8, structure, literals,
// number syntax, no duplicate keys, no byte order mark, no blank lines). Numbers keep their
// source text so money and big integers stay exact. A bad line throws sluice::Error(65) naming
// SOURCE:LINE, or with skip_invalid is reported on stderr and counted.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/fdio.hpp"
#include "sluice/json.hpp"
#include "sluice/timeutil.hpp"

namespace sluice {

// Parses one JSON text that must be an object. Returns an error description on failure.
struct ParseOutcome {
  std::optional<JsonValue> value;
  std::string error;
};
// One top-level member of a line read by parse_fields: its kind and its text (a string
// unescaped, a number's source text, "true"/"false"/"null", empty for an object or array),
// valid until the parser's next call.
struct FieldView {
  bool present = false;
  JsonValue::Kind kind = JsonValue::Kind::null;
  std::string_view text;
};

// Field readers: the value of a field read by parse_fields, as the type a tool needs. Each
// throws Error(65) worded the same for every tool: "field 'NAME' is missing", "field 'NAME'
// must be a number, not string", "field 'NAME': <why the text is wrong>". The caller adds
// the source and line.

// The instant in a field: an RFC 3339 string, "@EPOCH", or a number of epoch seconds or
// milliseconds (instant_from_field).
Instant instant_in_field(const FieldView& field, std::string_view name);

// A JSON number that is finite as a double.
double number_in_field(const FieldView& field, std::string_view name);

// A string (its unescaped text).
std::string_view string_in_field(const FieldView& field, std::string_view name);

// An identifier: a string, or an integer (its source text; a fraction or exponent is refused),
// as user and entity ids come in event streams.
std::string_view key_in_field(const FieldView& field, std::string_view name);

// A whole number from `min` to `max` (its source text: a fraction or exponent is refused), as
// ids, offsets and lengths come.
std::int64_t whole_number_in_field(const FieldView& field, std::string_view name, std::int64_t min,
                                   std::int64_t max);

// Member `name` of a parsed object as the field readers take it (not present when missing).
FieldView field_in(const JsonValue& object, std::string_view name);

class JsonParser {
 public:
  JsonParser();
  ~JsonParser();
  JsonParser(const JsonParser&) = delete;
  JsonParser& operator=(const JsonParser&) = delete;
  [[nodiscard]] ParseOutcome parse_object(std::string_view text);
  // Validates `text` exactly as parse_object does, building nothing, and sets fields[i] to
  // the top-level member named names[i]. Returns the error description, empty when valid.
  // For hot loops that need a few fields of every line.
  [[nodiscard]] std::string parse_fields(std::string_view text,
                                         std::span<const std::string_view> names,
                                         std::span<FieldView> fields);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// What the shared input options (--skip-invalid, --max-line-bytes) ask of a JsonlReader.
struct InputOptions {
  bool skip_invalid = false;
  std::size_t max_line_bytes = LineReader::default_max_line_bytes;
};

struct Record {
  JsonValue value;
  std::string_view text;  // the line as read; valid until the next call to next()
  long long line = 0;
};

// Reads JSON Lines records from one or more inputs in order (operands; none means stdin).
class JsonlReader {
 public:
  // Every named file must exist (checked here, before any is read): otherwise Error(66).
  explicit JsonlReader(std::vector<std::string> paths, InputOptions options = {});
  ~JsonlReader();
  // The next valid record, or nullopt at the end of all inputs. Invalid lines throw
  // Error(65) or, with skip_invalid, are reported and skipped.
  std::optional<Record> next();
  // Like next(), but only validates each line and fills `fields` with the top-level members
  // named `names` (see JsonParser::parse_fields). Returns the line's number, or nullopt at
  // the end of all inputs. The views are valid until the next call.
  std::optional<long long> next_fields(std::span<const std::string_view> names,
                                       std::span<FieldView> fields);
  // The text of the line next_fields last returned (for tools that pass records through);
  // valid until the next call.
  [[nodiscard]] std::string_view line_text() const { return line_text_; }
  // reject() for a line read with next_fields.
  void reject_line(long long line, std::string_view message);
  // Applies the same policy to a record the tool finds invalid (missing field, wrong type):
  // throws Error(65) at the record's location, or reports it and returns when skipping.
  void reject(const Record& record, std::string_view message);
  // The same for a record read earlier, at `where` (from location_of).
  void reject_at(std::string_view where, std::string_view message);
  [[nodiscard]] std::uint64_t skipped() const { return skipped_; }
  // Which input (0-based, in operand order) the last record came from, and the location
  // string for a line of any input: cheap handles for records whose errors surface later.
  [[nodiscard]] std::size_t current_input() const { return next_path_ == 0 ? 0 : next_path_ - 1; }
  [[nodiscard]] std::string location_of(std::size_t input, long long line) const;
  [[nodiscard]] std::uint64_t bytes_read() const;
  void on_idle(std::function<void()> callback);

 private:
  bool open_next_input();
  bool next_line(std::string_view& text);  // the next line of any input; false at the end
  std::vector<std::string> paths_;
  std::size_t next_path_ = 0;
  InputOptions options_;
  std::uint64_t skipped_ = 0;
  std::string_view line_text_;
  std::uint64_t bytes_done_ = 0;
  std::unique_ptr<InputFile> input_;
  std::unique_ptr<LineReader> lines_;
  JsonParser parser_;
  std::function<void()> on_idle_;
};

}  // namespace sluice
