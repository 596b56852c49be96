// jsonl: JSON Lines in and out (docs/ARCHITECTURE.md, "Input and output"). The only module
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
#include <utility>
#include <vector>

#include "sluice/timeutil.hpp"

namespace sluice {

// A parsed JSON value. Objects keep their members in input order.
class JsonValue {
 public:
  enum class Kind { null, boolean, number, string, array, object };
  using Member = std::pair<std::string, JsonValue>;

  JsonValue() = default;
  static JsonValue null() { return JsonValue(); }
  static JsonValue boolean(bool value);
  // `text` must be a valid JSON number; it is kept verbatim.
  static JsonValue number(std::string text);
  static JsonValue integer(long long value) { return number(std::to_string(value)); }
  static JsonValue string(std::string text);
  static JsonValue array(std::vector<JsonValue> items);
  static JsonValue object(std::vector<Member> members);

  [[nodiscard]] Kind kind() const { return kind_; }
  [[nodiscard]] bool is_object() const { return kind_ == Kind::object; }
  [[nodiscard]] bool is_string() const { return kind_ == Kind::string; }
  [[nodiscard]] bool is_number() const { return kind_ == Kind::number; }
  [[nodiscard]] bool as_boolean() const { return boolean_; }
  // The unescaped string, or the number's source text.
  [[nodiscard]] const std::string& text() const { return text_; }
  [[nodiscard]] const std::vector<JsonValue>& items() const { return items_; }
  [[nodiscard]] const std::vector<Member>& members() const { return members_; }
  // The member named `key` of an object, or nullptr.
  [[nodiscard]] const JsonValue* find(std::string_view key) const;

 private:
  Kind kind_ = Kind::null;
  bool boolean_ = false;
  std::string text_;
  std::vector<JsonValue> items_;
  std::vector<Member> members_;
};

// "string", "number", ... for messages.
std::string_view kind_name(JsonValue::Kind kind);

// True when `text` is exactly one JSON number per RFC 8259.
bool is_json_number(std::string_view text);

// True when `text` is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool is_valid_utf8(std::string_view text);

// Appends `text` as a JSON string literal. Invalid UTF-8 becomes U+FFFD so the output is
// always valid JSON.
void append_json_string(std::string& out, std::string_view text);

// The longest text write_json_number writes (-1.7976931348623157e+308 is 24 bytes).
inline constexpr std::size_t max_json_number_length = 32;

// Writes `value` at `out` (room for max_json_number_length) as the shortest text that reads
// back as the same double, laid out as std::to_chars(first, last, value) lays it out: fixed or
// scientific (1e+20), whichever is shorter. A non-finite value, which JSON cannot hold, is
// written as null. Returns the end of the text.
char* write_json_number(char* out, double value);
// The same, appended to `out`.
void append_json_number(std::string& out, double value);

// Compact JSON with members in their stored order.
std::string to_json(const JsonValue& value);

// Canonical JSON for fingerprints: compact, object members sorted by key (bytewise), strings
// escaped minimally, numbers as their source text (so 1 and 1.0 differ).
std::string canonical_json(const JsonValue& value);

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

// Reads '\n'-terminated lines from a file descriptor with 1-based numbering. The last line
// may lack its '\n'. A line end may also be CRLF: the '\r' before the '\n' (or before the
// end of input) is not part of the line. A line longer than max_line_bytes throws Error(65)
// at its location; the next call goes on after that line's '\n' without buffering the rest
// of it, so a caller that skips bad lines can skip this one too.
class LineReader {
 public:
  static constexpr std::size_t default_max_line_bytes = 64u << 20;
  LineReader(int fd, std::string source_name, std::size_t max_line_bytes = default_max_line_bytes);
  // Sets `line` (without '\n') and returns true, or returns false at end of input.
  // Throws Error(74) on a read error and Error(128+N) when interrupted by a signal.
  bool next(std::string_view& line);
  [[nodiscard]] long long line_number() const { return line_number_; }
  [[nodiscard]] const std::string& source_name() const { return source_name_; }
  [[nodiscard]] std::uint64_t bytes_read() const { return bytes_read_; }
  // Called before a read that would block (input is a pipe or terminal with nothing
  // ready), so a stream filter can flush and commit what it has before waiting.
  void on_idle(std::function<void()> callback) { on_idle_ = std::move(callback); }

 private:
  bool fill();
  [[noreturn]] void too_long();
  bool discard_rest_of_line();
  int fd_;
  std::string source_name_;
  std::size_t max_line_bytes_;
  std::string buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool eof_ = false;
  bool discarding_ = false;  // the current line was too long: skip to its '\n'
  long long line_number_ = 0;
  std::uint64_t bytes_read_ = 0;
  std::function<void()> on_idle_;
};

// The framing LineReader applies, for a reader that holds a whole input and splits it at
// '\n' itself: returns `line` without the '\r' of a CRLF line end, and throws Error(65) at
// `where` when it is longer than max_line_bytes.
std::string_view framed_line(std::string_view line, std::string_view where,
                             std::size_t max_line_bytes = LineReader::default_max_line_bytes);

// An input operand opened for reading: "-" is stdin. A missing file throws Error(66).
class InputFile {
 public:
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  int fd_ = -1;
  bool owned_ = false;
  std::string name_;
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

// Buffered output to a file descriptor. A closed pipe (EPIPE, when SIGPIPE is ignored) throws
// Error with code 141 and no message so the run ends quietly; other errors throw Error(74).
class OutputStream {
 public:
  explicit OutputStream(int fd, std::string name = "<stdout>");
  ~OutputStream();  // flushes, ignoring errors; call flush() to see them
  OutputStream(const OutputStream&) = delete;
  OutputStream& operator=(const OutputStream&) = delete;
  void write(std::string_view bytes);
  // Writes one record line: `line` followed by '\n'.
  void write_line(std::string_view line);
  // For a writer that builds a line in place rather than copying it in: append the line's
  // bytes to line_buffer(), then call end_line(), which adds the '\n'.
  std::string& line_buffer() { return buffer_; }
  void end_line();
  void flush();
  [[nodiscard]] int fd() const { return fd_; }

 private:
  int fd_;
  std::string name_;
  std::string buffer_;
};

// Writes all of `bytes` to fd, retrying short writes and EINTR. Returns errno or 0.
int write_all(int fd, std::string_view bytes);

// write_all, then: a closed pipe (EPIPE, when SIGPIPE is ignored) throws Error(141) with no
// message so the run ends quietly; any other error throws Error(74) naming `name`.
void write_or_throw(int fd, std::string_view bytes, std::string_view name);

// Reads fd to its end. More than `limit` bytes throws Error(65) naming `name`; a read error
// throws Error(74); a termination signal throws Error(128+N).
std::string read_all(int fd, std::string_view name, std::uint64_t limit);

// Builds one compact JSON object incrementally, keys in the order added.
class ObjectWriter {
 public:
  ObjectWriter& add_string(std::string_view key, std::string_view value);
  ObjectWriter& add_int(std::string_view key, long long value);
  ObjectWriter& add_bool(std::string_view key, bool value);
  ObjectWriter& add_null(std::string_view key);
  ObjectWriter& add_raw(std::string_view key, std::string_view json);
  [[nodiscard]] std::string finish() const { return text_ + "}"; }

 private:
  void add_key(std::string_view key);
  std::string text_ = "{";
};

}  // namespace sluice
