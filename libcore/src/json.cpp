#include "sluice/json.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>

namespace sluice {

// ---------------------------------------------------------------- JsonValue

JsonValue JsonValue::boolean(bool value) {
  JsonValue result;
  result.kind_ = Kind::boolean;
  result.boolean_ = value;
  return result;
}

JsonValue JsonValue::number(std::string text) {
  JsonValue result;
  result.kind_ = Kind::number;
  result.text_ = std::move(text);
  return result;
}

JsonValue JsonValue::string(std::string text) {
  JsonValue result;
  result.kind_ = Kind::string;
  result.text_ = std::move(text);
  return result;
}

JsonValue JsonValue::array(std::vector<JsonValue> items) {
  JsonValue result;
  result.kind_ = Kind::array;
  result.items_ = std::move(items);
  return result;
}

JsonValue JsonValue::object(std::vector<Member> members) {
  JsonValue result;
  result.kind_ = Kind::object;
  result.members_ = std::move(members);
  return result;
}

const JsonValue* JsonValue::find(std::string_view key) const {
  for (const auto& [name, value] : members_) {
    if (name == key) return &value;
  }
  return nullptr;
}

std::string_view kind_name(JsonValue::Kind kind) {
  switch (kind) {
    case JsonValue::Kind::null:
      return "null";
    case JsonValue::Kind::boolean:
      return "boolean";
    case JsonValue::Kind::number:
      return "number";
    case JsonValue::Kind::string:
      return "string";
    case JsonValue::Kind::array:
      return "array";
    case JsonValue::Kind::object:
      return "object";
  }
  return "value";
}

bool is_json_number(std::string_view text) {
  std::size_t pos = 0;
  auto digit = [&](std::size_t at) {
    return at < text.size() && text[at] >= '0' && text[at] <= '9';
  };
  if (pos < text.size() && text[pos] == '-') ++pos;
  if (!digit(pos)) return false;
  if (text[pos] == '0') {
    ++pos;
  } else {
    while (digit(pos)) ++pos;
  }
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    if (!digit(pos)) return false;
    while (digit(pos)) ++pos;
  }
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
    if (!digit(pos)) return false;
    while (digit(pos)) ++pos;
  }
  return pos == text.size();
}

// ---------------------------------------------------------------- writing JSON

namespace {

// Length of the valid UTF-8 sequence starting at text[pos], or 0 when it is invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence_length(std::string_view text, std::size_t pos) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(pos);
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (pos + length > text.size()) return 0;
  if (byte(pos + 1) < low || byte(pos + 1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(pos + i) < 0x80 || byte(pos + i) > 0xBF) return 0;
  }
  return length;
}

void append_escape(std::string& out, unsigned char c) {
  switch (c) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default:
      out += fmt::format("\\u{:04x}", c);
      return;
  }
}

void append_value(std::string& out, const JsonValue& value, bool canonical) {
  switch (value.kind()) {
    case JsonValue::Kind::null:
      out += "null";
      return;
    case JsonValue::Kind::boolean:
      out += value.as_boolean() ? "true" : "false";
      return;
    case JsonValue::Kind::number:
      out += value.text();
      return;
    case JsonValue::Kind::string:
      append_json_string(out, value.text());
      return;
    case JsonValue::Kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : value.items()) {
        if (!first) out += ',';
        first = false;
        append_value(out, item, canonical);
      }
      out += ']';
      return;
    }
    case JsonValue::Kind::object: {
      std::vector<const JsonValue::Member*> members;
      members.reserve(value.members().size());
      for (const auto& member : value.members()) members.push_back(&member);
      if (canonical) {
        std::sort(members.begin(), members.end(),
                  [](const auto* a, const auto* b) { return a->first < b->first; });
      }
      out += '{';
      bool first = true;
      for (const auto* member : members) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, member->first);
        out += ':';
        append_value(out, member->second, canonical);
      }
      out += '}';
      return;
    }
  }
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t length = utf8_sequence_length(text, pos);
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  std::size_t pos = 0;
  while (pos < text.size()) {
    // Copy the longest run that needs no escaping in one go.
    std::size_t run = pos;
    while (run < text.size()) {
      auto c = static_cast<unsigned char>(text[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++run;
    }
    out.append(text, pos, run - pos);
    pos = run;
    if (pos >= text.size()) break;
    auto c = static_cast<unsigned char>(text[pos]);
    if (c < 0x80) {
      append_escape(out, c);
      ++pos;
      continue;
    }
    std::size_t length = utf8_sequence_length(text, pos);
    if (length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++pos;
    } else {
      out.append(text, pos, length);
      pos += length;
    }
  }
  out += '"';
}

std::string to_json(const JsonValue& value) {
  std::string out;
  append_value(out, value, false);
  return out;
}

std::string canonical_json(const JsonValue& value) {
  std::string out;
  append_value(out, value, true);
  return out;
}

// ---------------------------------------------------------------- ObjectWriter

void ObjectWriter::add_key(std::string_view key) {
  if (text_.size() > 1) text_ += ',';
  append_json_string(text_, key);
  text_ += ':';
}

ObjectWriter& ObjectWriter::add_string(std::string_view key, std::string_view value) {
  add_key(key);
  append_json_string(text_, value);
  return *this;
}

ObjectWriter& ObjectWriter::add_int(std::string_view key, long long value) {
  add_key(key);
  text_ += fmt::format("{}", value);
  return *this;
}

ObjectWriter& ObjectWriter::add_bool(std::string_view key, bool value) {
  add_key(key);
  text_ += value ? "true" : "false";
  return *this;
}

ObjectWriter& ObjectWriter::add_null(std::string_view key) {
  add_key(key);
  text_ += "null";
  return *this;
}

ObjectWriter& ObjectWriter::add_raw(std::string_view key, std::string_view json) {
  add_key(key);
  text_ += json;
  return *this;
}

}  // namespace sluice
