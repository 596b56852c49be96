#include "sluice/jsonl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstdio>

#include <gtest/gtest.h>

#include "sluice/error.hpp"
#include "test_support.hpp"

namespace sluice {
namespace {

std::string parse_error(std::string_view text) {
  JsonParser parser;
  auto outcome = parser.parse_object(text);
  EXPECT_FALSE(outcome.value.has_value()) << text;
  return outcome.error;
}

JsonValue parse(std::string_view text) {
  JsonParser parser;
  auto outcome = parser.parse_object(text);
  EXPECT_TRUE(outcome.value.has_value()) << text << ": " << outcome.error;
  return outcome.value.value_or(JsonValue());
}

TEST(JsonValue, IntegerIsANumberWithItsDecimalText) {
  JsonValue value = JsonValue::integer(-9223372036854775807LL);
  EXPECT_TRUE(value.is_number());
  EXPECT_EQ(value.text(), "-9223372036854775807");
  EXPECT_EQ(to_json(JsonValue::object({{"n", JsonValue::integer(12)}})), "{\"n\":12}");
}

TEST(JsonParser, KeepsMemberOrderAndNumberText) {
  auto value = parse(R"({"b":1.0000000000000000000001,"a":"x","c":[true,null,-0]})");
  ASSERT_EQ(value.members().size(), 3u);
  EXPECT_EQ(value.members()[0].first, "b");
  EXPECT_EQ(value.find("b")->text(), "1.0000000000000000000001");
  EXPECT_EQ(to_json(value), R"({"b":1.0000000000000000000001,"a":"x","c":[true,null,-0]})");
}

TEST(JsonParser, UnescapesStrings) {
  auto value = parse(R"({"s":"a\"b\\c\u00e9\n"})");
  EXPECT_EQ(value.find("s")->text(), "a\"b\\c\xC3\xA9\n");
}

TEST(JsonParser, RejectsEmptyLineBomAndNonObjects) {
  EXPECT_EQ(parse_error(""), "empty line (expected a JSON object)");
  EXPECT_NE(parse_error("\xEF\xBB\xBF{}").find("byte order mark"), std::string::npos);
  EXPECT_EQ(parse_error("[1,2]"), "expected a JSON object");
  EXPECT_EQ(parse_error("42"), "expected a JSON object");
}

TEST(JsonParser, RejectsTrailingContentAndTruncation) {
  EXPECT_EQ(parse_error(R"({"a":1} {"b":2})"), "unexpected content after the JSON object");
  EXPECT_FALSE(parse_error(R"({"a":1)").empty());
  EXPECT_FALSE(parse_error(R"({"a":"unterminated)").empty());
}

TEST(JsonParser, RejectsDuplicateKeys) {
  EXPECT_EQ(parse_error(R"({"a":1,"a":2})"), "duplicate key 'a'");
  std::string many = "{";
  for (int i = 0; i < 40; ++i) many += "\"k" + std::to_string(i) + "\":1,";
  many += "\"k7\":2}";
  EXPECT_EQ(parse_error(many), "duplicate key 'k7'");
}

TEST(JsonParser, RejectsInvalidUtf8AndBadNumbersAndLiterals) {
  EXPECT_EQ(parse_error("{\"a\":\"\xFF\"}"), "invalid UTF-8");
  EXPECT_FALSE(parse_error(R"({"a":01})").empty());
  EXPECT_FALSE(parse_error(R"({"a":1.})").empty());
  EXPECT_FALSE(parse_error(R"({"a":tru})").empty());
  EXPECT_FALSE(parse_error(R"({"a":nul})").empty());
}

TEST(JsonParser, RejectsDeepNesting) {
  std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_FALSE(parse_error(deep).empty());
}

// parse_fields must accept and refuse exactly the lines parse_object does, with the same
// message, while building nothing.
TEST(JsonParserFields, ValidatesLikeParseObject) {
  std::vector<std::string> lines = {
      R"({"ts":"2026-01-01T00:00:00Z","user":42,"event":"open"})",
      R"({"user":"a\"b","x":{"y":[1,{"z":null}]},"t":true})",
      R"({"a":1,"a":2})",
      R"({"a":{"b":1,"b":2}})",
      R"({"a":[{"c":1,"c":1}]})",
      R"({"a":01})",
      R"({"a":1.})",
      R"({"a":tru})",
      R"({"a":nul})",
      R"({"a":1} {"b":2})",
      R"({"a":1)",
      R"({"a":"unterminated)",
      "",
      "\xEF\xBB\xBF{}",
      "[1,2]",
      "{\"a\":\"\xC3\x28\"}",
      "{\"a\":" + std::string(600, '[') + std::string(600, ']') + "}",
  };
  std::string many = "{";
  for (int i = 0; i < 20; ++i) many += "\"k" + std::to_string(i % 19) + "\":1,";
  lines.push_back(many + "\"end\":0}");
  JsonParser objects, fields;
  std::array<std::string_view, 2> names = {"user", "ts"};
  std::array<FieldView, 2> views;
  for (const std::string& line : lines) {
    ParseOutcome outcome = objects.parse_object(line);
    EXPECT_EQ(fields.parse_fields(line, names, views), outcome.error) << line;
  }
}

TEST(JsonParserFields, GivesTheNamedTopLevelMembersAsText) {
  JsonParser parser;
  std::array<std::string_view, 4> names = {"user", "ts", "event", "missing"};
  std::array<FieldView, 4> views;
  ASSERT_EQ(parser.parse_fields(R"({"event":null,"ts":1.50,"nested":{"user":"no"},"user":"a\nb"})",
                                names, views),
            "");
  EXPECT_TRUE(views[0].present);
  EXPECT_EQ(views[0].kind, JsonValue::Kind::string);
  EXPECT_EQ(views[0].text, "a\nb");
  EXPECT_EQ(views[1].kind, JsonValue::Kind::number);
  EXPECT_EQ(views[1].text, "1.50");
  EXPECT_EQ(views[2].kind, JsonValue::Kind::null);
  EXPECT_TRUE(views[2].present);
  EXPECT_FALSE(views[3].present);
}

TEST(JsonNumber, FollowsRfc8259) {
  for (const char* good : {"0", "-0", "1.5", "1e999", "-12.5E+3", "1.0000000000000000000001"}) {
    EXPECT_TRUE(is_json_number(good)) << good;
  }
  for (const char* bad : {"", "-", "01", "1.", ".5", "1e", "+1", "0x10", "NaN", "1 "}) {
    EXPECT_FALSE(is_json_number(bad)) << bad;
  }
}

TEST(JsonWriter, EscapesControlQuotesAndInvalidUtf8) {
  std::string out;
  append_json_string(out, std::string("a\"\\\x01\n\xC3\xA9\xFF", 8));
  EXPECT_EQ(out, "\"a\\\"\\\\\\u0001\\n\xC3\xA9\xEF\xBF\xBD\"");
}

TEST(JsonWriter, RejectsOverlongAndSurrogateUtf8) {
  std::string out;
  append_json_string(out, "\xC0\xAF|\xED\xA0\x80");
  EXPECT_EQ(out, "\"\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(Utf8, ValidatesSequences) {
  EXPECT_TRUE(is_valid_utf8("plain \xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xFF"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));      // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));  // surrogate
  EXPECT_FALSE(is_valid_utf8("\xC3"));          // truncated
}

TEST(CanonicalJson, SortsKeysRecursivelyAndKeepsNumbers) {
  auto value = parse(R"({"b":{"y":1,"x":[{"q":1,"p":2}]},"a":1.0})");
  EXPECT_EQ(canonical_json(value), R"({"a":1.0,"b":{"x":[{"p":2,"q":1}],"y":1}})");
}

TEST(ObjectWriter, BuildsCompactObjects) {
  ObjectWriter writer;
  writer.add_string("k", "v\"")
      .add_int("n", -3)
      .add_bool("b", true)
      .add_null("z")
      .add_raw("r", "[1]");
  EXPECT_EQ(writer.finish(), R"({"k":"v\"","n":-3,"b":true,"z":null,"r":[1]})");
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/sluice-jsonl-XXXXXX";
    int fd = mkstemp(name);
    path_ = name;
    EXPECT_EQ(write_all(fd, content), 0);
    ::close(fd);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(LineReader, NumbersLinesAndHandlesMissingFinalNewline) {
  TempFile file("a\n\nbb\nccc");
  InputFile input(file.path());
  LineReader reader(input.fd(), input.name());
  std::string_view line;
  std::vector<std::string> lines;
  while (reader.next(line)) lines.emplace_back(line);
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "", "bb", "ccc"}));
  EXPECT_EQ(reader.line_number(), 4);
}

TEST(LineReader, ReadsLinesLongerThanItsBuffer) {
  std::string big(3 << 20, 'x');
  TempFile file("s\n" + big + "\nt\n");
  InputFile input(file.path());
  LineReader reader(input.fd(), input.name());
  std::string_view line;
  ASSERT_TRUE(reader.next(line));
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(line.size(), big.size());
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(line, "t");
  EXPECT_FALSE(reader.next(line));
}

TEST(LineReader, RefusesLinesOverTheLimitWithLocation) {
  TempFile file("ok\n" + std::string(100, 'x') + "\n");
  InputFile input(file.path());
  LineReader reader(input.fd(), "data.jsonl", 50);
  std::string_view line;
  ASSERT_TRUE(reader.next(line));
  try {
    reader.next(line);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), exit_code::data);
    EXPECT_EQ(error.location(), "data.jsonl:2");
  }
}

TEST(LineReader, GoesOnAfterTheLineOverTheLimit) {
  // The long line spans several reads and the buffer's first megabyte, and is never kept.
  TempFile file("ok\n" + std::string(3 << 20, 'x') + "\nnext\n" + std::string(60, 'y'));
  InputFile input(file.path());
  LineReader reader(input.fd(), "data.jsonl", 1 << 20);
  std::string_view line;
  ASSERT_TRUE(reader.next(line));
  EXPECT_THROW(reader.next(line), Error);
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(line, "next");
  EXPECT_EQ(reader.line_number(), 3);
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(reader.line_number(), 4);
  EXPECT_FALSE(reader.next(line));
}

TEST(LineReader, LastLineOverTheLimitEndsTheInputAfterTheError) {
  TempFile file(std::string(100, 'x'));
  InputFile input(file.path());
  LineReader reader(input.fd(), "data.jsonl", 50);
  std::string_view line;
  EXPECT_THROW(reader.next(line), Error);
  EXPECT_FALSE(reader.next(line));
}

TEST(LineReader, CrLfLineEndsAreLineEnds) {
  TempFile file("a\r\n\r\nb\rc\r\nd\r");
  InputFile input(file.path());
  LineReader reader(input.fd(), input.name());
  std::string_view line;
  std::vector<std::string> lines;
  while (reader.next(line)) lines.emplace_back(line);
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "", "b\rc", "d"}));
}

TEST(FramedLine, AppliesTheLineReadersRules) {
  EXPECT_EQ(framed_line("{}\r", "f:1"), "{}");
  EXPECT_EQ(framed_line("{}", "f:1"), "{}");
  try {
    (void)framed_line(std::string(11, 'x'), "f:3", 10);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), exit_code::data);
    EXPECT_EQ(error.location(), "f:3");
    EXPECT_STREQ(error.what(), "line is longer than the limit of 10 bytes");
  }
}

TEST(JsonlReader, PassesCrLfRecordsOnWithoutTheCarriageReturn) {
  TempFile file("{\"a\":1}\r\n{\"a\":2}\r\n");
  JsonlReader reader({file.path()});
  auto first = reader.next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->text, "{\"a\":1}");
  std::array<std::string_view, 1> names{"a"};
  std::array<FieldView, 1> fields;
  ASSERT_EQ(reader.next_fields(names, fields), 2);
  EXPECT_EQ(reader.line_text(), "{\"a\":2}");
}

TEST(InputFile, MissingFileIsExit66) {
  EXPECT_EQ(testing::exit_status_of([] { InputFile input("/nonexistent/sluice/file.jsonl"); }),
            exit_code::no_input);
}

TEST(JsonlReader, StopsAtBadLineWithItsNumber) {
  TempFile file("{\"a\":1}\n{\"a\":2}\n{bad\n{\"a\":4}\n");
  JsonlReader reader({file.path()});
  EXPECT_TRUE(reader.next().has_value());
  EXPECT_TRUE(reader.next().has_value());
  try {
    reader.next();
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), exit_code::data);
    EXPECT_EQ(error.location(), file.path() + ":3");
  }
}

TEST(JsonlReader, SkipInvalidCountsAndContinuesAcrossFiles) {
  TempFile first("{\"a\":1}\nnope\n");
  TempFile second("{\"a\":3}\n");
  JsonlReader reader({first.path(), second.path()}, {.skip_invalid = true});
  std::vector<long long> lines;
  while (auto record = reader.next()) lines.push_back(record->line);
  EXPECT_EQ(lines, (std::vector<long long>{1, 1}));
  EXPECT_EQ(reader.skipped(), 1u);
}

TEST(ReadAll, RefusesMoreThanTheLimit) {
  TempFile file("0123456789");
  InputFile input(file.path());
  EXPECT_THROW(read_all(input.fd(), "f", 5), Error);
  InputFile again(file.path());
  EXPECT_EQ(read_all(again.fd(), "f", 10), "0123456789");
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// The message of the Error(65) `read` throws for `field`, or "no error".
template <typename Read>
std::string field_error(Read read, const FieldView& field) {
  try {
    (void)read(field, "v");
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), exit_code::data);
    return error.what();
  }
  return "no error";
}

TEST(FieldReaders, NumberInFieldReadsFiniteNumbers) {
  EXPECT_EQ(number_in_field(FieldView{true, JsonValue::Kind::number, "-2.5e3"}, "v"), -2500.0);
  EXPECT_EQ(field_error(number_in_field, FieldView{}), "field 'v' is missing");
  EXPECT_EQ(field_error(number_in_field, FieldView{true, JsonValue::Kind::string, "1"}),
            "field 'v' must be a number, not string");
  EXPECT_EQ(field_error(number_in_field, FieldView{true, JsonValue::Kind::number, "1e999"}),
            "field 'v': 1e999 is not a finite number");
}

TEST(FieldReaders, StringInFieldReadsStringsOnly) {
  EXPECT_EQ(string_in_field(FieldView{true, JsonValue::Kind::string, "open"}, "v"), "open");
  EXPECT_EQ(field_error(string_in_field, FieldView{}), "field 'v' is missing");
  EXPECT_EQ(field_error(string_in_field, FieldView{true, JsonValue::Kind::null, "null"}),
            "field 'v' must be a string, not null");
}

TEST(FieldReaders, KeyInFieldTakesStringsAndIntegers) {
  EXPECT_EQ(key_in_field(FieldView{true, JsonValue::Kind::string, "u1"}, "v"), "u1");
  EXPECT_EQ(key_in_field(FieldView{true, JsonValue::Kind::number, "-42"}, "v"), "-42");
  EXPECT_EQ(field_error(key_in_field, FieldView{}), "field 'v' is missing");
  EXPECT_EQ(field_error(key_in_field, FieldView{true, JsonValue::Kind::number, "4.0"}),
            "field 'v' must be a string or an integer, not a fraction");
  EXPECT_EQ(field_error(key_in_field, FieldView{true, JsonValue::Kind::number, "1e3"}),
            "field 'v' must be a string or an integer, not a fraction");
  EXPECT_EQ(field_error(key_in_field, FieldView{true, JsonValue::Kind::array, ""}),
            "field 'v' must be a string or an integer, not array");
}

TEST(FieldReaders, WholeNumberInFieldChecksItsRange) {
  auto whole = [](const FieldView& field, std::string_view name) {
    return whole_number_in_field(field, name, 0, INT64_MAX);
  };
  EXPECT_EQ(whole(FieldView{true, JsonValue::Kind::number, "9223372036854775807"}, "v"), INT64_MAX);
  EXPECT_EQ(whole(FieldView{true, JsonValue::Kind::number, "0"}, "v"), 0);
  EXPECT_EQ(whole_number_in_field(FieldView{true, JsonValue::Kind::number, "-5"}, "v", -5, 5), -5);
  EXPECT_EQ(field_error(whole, FieldView{}), "field 'v' is missing");
  EXPECT_EQ(field_error(whole, FieldView{true, JsonValue::Kind::string, "1"}),
            "field 'v' must be a whole number, not string");
  EXPECT_EQ(field_error(whole, FieldView{true, JsonValue::Kind::number, "1.5"}),
            "field 'v' must be a whole number, not a fraction");
  EXPECT_EQ(field_error(whole, FieldView{true, JsonValue::Kind::number, "1e3"}),
            "field 'v' must be a whole number, not a fraction");
  EXPECT_EQ(field_error(whole, FieldView{true, JsonValue::Kind::number, "9223372036854775808"}),
            "field 'v': 9223372036854775808 is not a whole number from 0 to "
            "9223372036854775807");
  EXPECT_EQ(field_error(whole, FieldView{true, JsonValue::Kind::number, "-1"}),
            "field 'v': -1 is not a whole number from 0 to 9223372036854775807");
}

TEST(FieldReaders, FieldInViewsAMemberOfAParsedObject) {
  JsonParser parser;
  ParseOutcome parsed = parser.parse_object(R"({"n":12,"s":"x","a":[1]})");
  ASSERT_TRUE(parsed.value);
  EXPECT_EQ(whole_number_in_field(field_in(*parsed.value, "n"), "n", 0, 100), 12);
  EXPECT_EQ(string_in_field(field_in(*parsed.value, "s"), "s"), "x");
  EXPECT_FALSE(field_in(*parsed.value, "missing").present);
  EXPECT_EQ(field_in(*parsed.value, "a").kind, JsonValue::Kind::array);
}

TEST(InstantInField, ReadsTimesAndNamesTheFieldInErrors) {
  FieldView text{true, JsonValue::Kind::string, "2026-03-02T10:00:00Z"};
  EXPECT_EQ(instant_in_field(text, "ts"), parse_instant("2026-03-02T10:00:00Z"));
  FieldView seconds{true, JsonValue::Kind::number, "1772445600"};
  EXPECT_EQ(instant_in_field(seconds, "ts"), parse_instant("2026-03-02T10:00:00Z"));
  auto message = [](const FieldView& field) {
    try {
      (void)instant_in_field(field, "when");
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), exit_code::data);
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(FieldView{}), "field 'when' is missing");
  EXPECT_EQ(message(FieldView{true, JsonValue::Kind::boolean, "true"}),
            "field 'when' must be an RFC 3339 string or epoch seconds or milliseconds, not "
            "boolean");
  EXPECT_EQ(
      message(FieldView{true, JsonValue::Kind::string, "yesterday"}).rfind("field 'when': ", 0),
      0u);
}

}  // namespace
}  // namespace sluice

TEST(TrimWhitespace, DropsSpacesTabsAndLineEndsAtBothEndsOnly) {
  EXPECT_EQ(sluice::trim_whitespace(" \t2026-01-26\r\n"), "2026-01-26");
  EXPECT_EQ(sluice::trim_whitespace("a b"), "a b");
  EXPECT_EQ(sluice::trim_whitespace(" \t\r\n"), "");
  EXPECT_EQ(sluice::trim_whitespace(""), "");
}
