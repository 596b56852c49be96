// json: JSON values and writing them (docs/ARCHITECTURE.md, "Input and output"): the value
// type the reader builds, string and number output, compact and canonical serialisation, and
// an incremental object writer. Reading JSON Lines is jsonl.hpp; plain file descriptor I/O is
// fdio.hpp.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
