#include "json_scan.hpp"

#include <array>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace sluice::detail {
namespace {

const std::array<std::string_view, 3> names = {"user", "ts", "event"};

bool scan(std::string_view text, std::array<FieldView, 3>& fields) {
  fields = {};
  return scan_plain_object(text, names, fields);
}

TEST(JsonScan, ReadsAPlainEventLine) {
  std::array<FieldView, 3> fields;
  ASSERT_TRUE(
      scan(R"( {"ts":1767571200,"user":"u_1","x":[1,{"y":null}],"event":true}	)", fields));
  EXPECT_EQ(fields[0].kind, JsonValue::Kind::string);
  EXPECT_EQ(fields[0].text, "u_1");
  EXPECT_EQ(fields[1].kind, JsonValue::Kind::number);
  EXPECT_EQ(fields[1].text, "1767571200");
  EXPECT_EQ(fields[2].kind, JsonValue::Kind::boolean);
  EXPECT_EQ(fields[2].text, "true");
  EXPECT_TRUE(scan(R"({"user":null,"ts":{"a":1}})", fields));
  EXPECT_EQ(fields[0].kind, JsonValue::Kind::null);
  EXPECT_EQ(fields[0].text, "null");
  EXPECT_EQ(fields[1].kind, JsonValue::Kind::object);
  EXPECT_EQ(fields[1].text, "");
  EXPECT_FALSE(fields[2].present);
}

TEST(JsonScan, LeavesWhatItCannotCheckCompletelyToTheFullParser) {
  std::array<FieldView, 3> fields;
  std::string many = "{";
  for (int i = 0; i < 17; ++i) many += "\"k" + std::to_string(i) + "\":1,";
  many.back() = '}';
  std::string deep = "{\"a\":" + std::string(40, '[') + std::string(40, ']') + "}";
  for (const std::string& line :
       {std::string(R"({"user":"a\"b"})"), std::string("{\"user\":\"\xC3\xA9\"}"),
        std::string("{\"user\":\"a\x01\"}"), std::string(R"({"a":1,"a":2})"), many, deep,
        std::string(R"({"a":01})"), std::string(R"({"a":1} x)"), std::string(R"({"a":tru})"),
        std::string(R"({"a":truex})"), std::string(R"({"a":12abc})"), std::string(R"({"a":1,})"),
        std::string(R"([1])"), std::string("\xEF\xBB\xBF{}"), std::string(""),
        std::string(R"({"a":[1,]})")}) {
    EXPECT_FALSE(scan(line, fields)) << line;
  }
}

// Every byte value at every position of a string long enough for the word-at-a-time loop.
TEST(JsonScan, ChecksEveryByteOfAString) {
  std::array<FieldView, 3> fields;
  for (std::size_t position = 0; position < 17; ++position) {
    for (int byte = 0; byte < 256; ++byte) {
      std::string text(17, 'a');
      text[position] = static_cast<char>(byte);
      bool plain = byte >= 0x20 && byte < 0x80 && byte != '"' && byte != '\\';
      std::string line = "{\"user\":\"" + text + "\"}";
      ASSERT_EQ(scan(line, fields), plain) << position << " " << byte;
      if (plain) {
        ASSERT_EQ(fields[0].text, text);
      }
    }
  }
}

// Random lines, valid and broken: whenever the scanner accepts a line, the full parser must
// accept it too and give the same three fields. The scanner must also take most of the valid
// plain lines, or it would be a slow no-op.
class LineGenerator {
 public:
  explicit LineGenerator(std::uint64_t seed) : random_(seed) {}

  std::string line() {
    std::string text = space() + object(0) + space();
    if (chance(30)) mutate(text);
    return text;
  }

 private:
  std::mt19937_64 random_;

  int below(int limit) { return std::uniform_int_distribution<int>(0, limit - 1)(random_); }
  bool chance(int percent) { return below(100) < percent; }
  std::string space() {
    static const std::array<std::string, 5> spaces = {"", "", "", " ", "\t\r "};
    return spaces[static_cast<std::size_t>(below(5))];
  }

  std::string string_value() {
    static const std::array<std::string, 12> pieces = {
        "a", "u_", "0", "Z", " ", ":", "-", "\\n", "\\\"", "\xC3\xA9", "\x01", "\x7F"};
    std::string text = "\"";
    int length = below(6);
    for (int i = 0; i < length; ++i) {
      std::size_t piece = static_cast<std::size_t>(chance(90) ? below(7) : 7 + below(5));
      text += pieces[piece];
    }
    return text + "\"";
  }

  std::string number() {
    static const std::array<std::string, 12> numbers = {
        "0", "-0", "42", "1.5", "-12.5E+3", "1e999", "1767571200", "01", "1.", "-", "1e", "+1"};
    return numbers[static_cast<std::size_t>(chance(85) ? below(7) : 7 + below(5))];
  }

  std::string key() {
    static const std::array<std::string, 8> keys = {"user", "ts", "event", "a", "b", "c", "d", ""};
    return chance(95) ? "\"" + keys[static_cast<std::size_t>(below(8))] + "\""
                      : "\"k" + std::to_string(below(20)) + "\"";
  }

  std::string value(int depth) {
    switch (below(depth < 3 ? 7 : 5)) {
      case 0:
      case 1:
        return string_value();
      case 2:
        return number();
      case 3:
        return std::array<std::string, 4>{
            "true", "false", "null", "nul"}[static_cast<std::size_t>(chance(95) ? below(3) : 3)];
      case 4:
        return number();
      case 5:
        return object(depth + 1);
      default:
        return array(depth + 1);
    }
  }

  std::string object(int depth) {
    std::string text = "{" + space();
    int members = chance(5) ? 17 + below(3) : below(7);
    for (int i = 0; i < members; ++i) {
      if (i > 0) text += space() + "," + space();
      text += key() + space() + ":" + space() + value(depth);
    }
    return text + space() + "}";
  }

  std::string array(int depth) {
    std::string text = "[";
    int items = below(4);
    for (int i = 0; i < items; ++i) text += (i > 0 ? "," : "") + value(depth);
    return text + "]";
  }

  void mutate(std::string& text) {
    static const std::string alphabet = "{}[]\",:\\ -+.eE019tfnulx\x01\x7F\xC3\xFF";
    int edits = 1 + below(3);
    for (int i = 0; i < edits && !text.empty(); ++i) {
      auto at = static_cast<std::size_t>(below(static_cast<int>(text.size())));
      char replacement =
          alphabet[static_cast<std::size_t>(below(static_cast<int>(alphabet.size())))];
      switch (below(3)) {
        case 0:
          text.erase(at, 1);
          break;
        case 1:
          text.insert(at, 1, replacement);
          break;
        default:
          text[at] = replacement;
          break;
      }
    }
  }
};

std::string expected_text(const JsonValue& value) {
  switch (value.kind()) {
    case JsonValue::Kind::string:
    case JsonValue::Kind::number:
      return value.text();
    case JsonValue::Kind::boolean:
      return value.as_boolean() ? "true" : "false";
    case JsonValue::Kind::null:
      return "null";
    default:
      return "";
  }
}

TEST(JsonScan, NeverAcceptsWhatTheFullParserRefusesAndAgreesOnFields) {
  LineGenerator generator(20261129);
  JsonParser parser;
  int valid = 0, scanned = 0;
  for (int i = 0; i < 100000; ++i) {
    std::string line = generator.line();
    ParseOutcome outcome = parser.parse_object(line);
    std::array<FieldView, 3> fields;
    bool accepted = scan(line, fields);
    if (outcome.value) ++valid;
    if (!accepted) continue;
    ++scanned;
    ASSERT_TRUE(outcome.value.has_value()) << line << " (full parser: " << outcome.error << ")";
    for (std::size_t n = 0; n < names.size(); ++n) {
      const JsonValue* member = outcome.value->find(names[n]);
      ASSERT_EQ(fields[n].present, member != nullptr) << line << " field " << names[n];
      if (member == nullptr) continue;
      EXPECT_EQ(fields[n].kind, member->kind()) << line << " field " << names[n];
      EXPECT_EQ(fields[n].text, expected_text(*member)) << line << " field " << names[n];
    }
  }
  EXPECT_GT(valid, 20000);
  EXPECT_GT(scanned, valid / 2) << "valid " << valid << ", scanned " << scanned;
}

}  // namespace
}  // namespace sluice::detail
