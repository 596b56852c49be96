// Why a second scanner: simdjson's on-demand parser costs about as much per 110-byte line in
// set-up (padding copy, stage 1 on a tiny buffer, per-member type checks) as in parsing, and a
// line of plain ASCII strings, numbers and literals can be validated in one forward pass. The
// scanner accepts only what it can check completely; everything else goes to simdjson, so the
// two can never disagree on a verdict or on an error message.
#include "json_scan.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sluice::detail {

namespace {

constexpr int max_depth = 32;
constexpr std::size_t max_members = 16;

// A word with the high bit set in each byte of `word` (little-endian order) that is '"', '\\',
// below 0x20 or at or above 0x80; the lowest set bit marks the first such byte. Each test
// is exact per byte: no borrow crosses bytes because every byte is first reduced to 7 bits.
static_assert(std::endian::native == std::endian::little,
              "special_bytes reads words little-endian");
constexpr std::uint64_t special_bytes(std::uint64_t word) {
  constexpr std::uint64_t ones = 0x0101010101010101;
  constexpr std::uint64_t high = 0x8080808080808080;
  std::uint64_t low7 = word & ~high;
  std::uint64_t quote = (low7 ^ (ones * '"')) + ~high;  // high bit set unless equal
  std::uint64_t backslash = (low7 ^ (ones * '\\')) + ~high;
  std::uint64_t control = low7 + ones * (0x80 - 0x20);  // high bit set when >= 0x20
  return (~quote | ~backslash | ~control | word) & high;
}

constexpr bool special_byte(unsigned char byte) {
  return byte == '"' || byte == '\\' || byte < 0x20 || byte >= 0x80;
}

// The keys of one object, for the duplicate check: plain arrays left uninitialised (zeroing
// sixteen string_views per object took a sixth of the scanner's time).
struct KeyList {
  const char* data[max_members];
  std::size_t size[max_members];
  [[nodiscard]] std::string_view operator[](std::size_t index) const {
    return {data[index], size[index]};
  }
};

// Equality of short keys without a call to memcmp (the keys of a line are compared with each
// other and with the wanted names, a dozen or more times per line).
bool same(std::string_view left, std::string_view right) {
  if (left.size() != right.size()) return false;
  for (std::size_t i = 0; i < left.size(); ++i) {
    if (left[i] != right[i]) return false;
  }
  return true;
}

class PlainScanner {
 public:
  explicit PlainScanner(std::string_view text)
      : position_(text.data()), end_(text.data() + text.size()) {}

  bool document(std::span<const std::string_view> names, std::span<FieldView> fields) {
    skip_space();
    if (!at('{') || !object(1, names, fields)) return false;
    skip_space();
    return position_ == end_;
  }

 private:
  const char* position_;
  const char* end_;

  [[nodiscard]] bool at(char expected) const { return position_ < end_ && *position_ == expected; }

  // Compact JSON has no whitespace: one comparison settles the common case.
  void skip_space() {
    while (position_ < end_ && static_cast<unsigned char>(*position_) <= ' ' &&
           (*position_ == ' ' || *position_ == '\t' || *position_ == '\r' || *position_ == '\n')) {
      ++position_;
    }
  }

  // At the opening quote; `text` receives the characters between the quotes. Eight bytes at a
  // time while they last (strings are mostly ids and timestamps of 8 to 24 bytes).
  bool string(std::string_view& text) {
    const char* begin = ++position_;
    while (end_ - position_ >= 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, position_, 8);
      std::uint64_t special = special_bytes(word);
      if (special != 0) {
        position_ += std::countr_zero(special) / 8;
        return closing_quote(begin, text);
      }
      position_ += 8;
    }
    while (position_ < end_ && !special_byte(static_cast<unsigned char>(*position_))) ++position_;
    return position_ < end_ && closing_quote(begin, text);
  }

  // At the first special byte of a string that started at `begin`: the string ends here when
  // that byte is its closing quote.
  bool closing_quote(const char* begin, std::string_view& text) {
    if (*position_ != '"') return false;
    text = std::string_view(begin, static_cast<std::size_t>(position_ - begin));
    ++position_;
    return true;
  }

  bool literal(std::string_view word, std::string_view& text) {
    if (static_cast<std::size_t>(end_ - position_) < word.size() ||
        std::string_view(position_, word.size()) != word) {
      return false;
    }
    text = word;
    position_ += word.size();
    return true;
  }

  // Follows the RFC 8259 grammar; what comes after the number is checked by the enclosing
  // container ("01" and "12abc" fail there).
  bool number(std::string_view& text) {
    const char* begin = position_;
    if (at('-')) ++position_;
    if (at('0')) {
      ++position_;
    } else if (!digits()) {
      return false;
    }
    if (at('.')) {
      ++position_;
      if (!digits()) return false;
    }
    if (at('e') || at('E')) {
      ++position_;
      if (at('+') || at('-')) ++position_;
      if (!digits()) return false;
    }
    text = std::string_view(begin, static_cast<std::size_t>(position_ - begin));
    return true;
  }

  // Skips one or more digits.
  bool digits() {
    const char* begin = position_;
    while (position_ < end_ && *position_ >= '0' && *position_ <= '9') ++position_;
    return position_ != begin;
  }

  // Any value at depth `depth`; `field`, when not null, receives its kind and text.
  bool value(int depth, FieldView* field) {
    if (position_ == end_) return false;
    FieldView view{true, JsonValue::Kind::null, {}};
    bool valid = false;
    switch (*position_) {
      case '"':
        view.kind = JsonValue::Kind::string;
        valid = string(view.text);
        break;
      case '{':
        view.kind = JsonValue::Kind::object;
        valid = object(depth, {}, {});
        break;
      case '[':
        view.kind = JsonValue::Kind::array;
        valid = array(depth);
        break;
      case 't':
      case 'f':
        view.kind = JsonValue::Kind::boolean;
        valid = literal(*position_ == 't' ? "true" : "false", view.text);
        break;
      case 'n':
        valid = literal("null", view.text);
        break;
      default:
        view.kind = JsonValue::Kind::number;
        valid = number(view.text);
        break;
    }
    if (valid && field != nullptr) *field = view;
    return valid;
  }

  // After a member or an element: true with `done` set at the closing `close`, true at a
  // comma (skipped), false otherwise.
  bool separator(char close, bool& done) {
    skip_space();
    if (at(',')) {
      ++position_;
      skip_space();
      return true;
    }
    done = at(close);
    if (done) ++position_;
    return done;
  }

  bool member_key(KeyList& keys, std::size_t count) {
    std::string_view key;
    if (count == max_members || !at('"') || !string(key)) return false;
    keys.data[count] = key.data();
    keys.size[count] = key.size();
    for (std::size_t i = 0; i < count; ++i) {
      if (same(keys[i], keys[count])) return false;  // a duplicate: simdjson's path words it
    }
    skip_space();
    if (!at(':')) return false;
    ++position_;
    skip_space();
    return true;
  }

  // At '{'.
  bool object(int depth, std::span<const std::string_view> names, std::span<FieldView> fields) {
    if (depth > max_depth) return false;
    ++position_;
    skip_space();
    if (at('}')) {
      ++position_;
      return true;
    }
    KeyList keys;
    for (std::size_t count = 0;; ++count) {
      if (!member_key(keys, count)) return false;
      FieldView* field = nullptr;
      for (std::size_t i = 0; i < names.size() && field == nullptr; ++i) {
        if (same(names[i], keys[count])) field = &fields[i];  // the first, as parse_fields
      }
      bool done = false;
      if (!value(depth + 1, field) || !separator('}', done)) return false;
      if (done) return true;
    }
  }

  // At '['.
  bool array(int depth) {
    if (depth > max_depth) return false;
    ++position_;
    skip_space();
    if (at(']')) {
      ++position_;
      return true;
    }
    for (;;) {
      bool done = false;
      if (!value(depth + 1, nullptr) || !separator(']', done)) return false;
      if (done) return true;
    }
  }
};

}  // namespace

bool scan_plain_object(std::string_view text, std::span<const std::string_view> names,
                       std::span<FieldView> fields) {
  return PlainScanner(text).document(names, fields);
}

}  // namespace sluice::detail
