#include "sluice/record_reader.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "sluice/error.hpp"
#include "test_support.hpp"

namespace sluice {
namespace {

using testing::TempDir;

std::string write_lines(const TempDir& dir, const std::string& text) {
  std::string path = dir.file("events.jsonl");
  std::ofstream(path) << text;
  return path;
}

TEST(RecordReader, BuildsOnlyTheTopLevelMembersWanted) {
  TempDir dir;
  std::string path = write_lines(dir, R"({"a":"x","b":2,"c":true,"d":null,"e":{"f":1}})"
                                      "\n");
  RecordReader reader({path}, {},
                      {parse_field_path("a"), parse_field_path("c"), parse_field_path("d"),
                       parse_field_path("missing")});
  const JsonValue* record = reader.next();
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(to_json(*record), R"({"a":"x","c":true,"d":null})");
  EXPECT_EQ(reader.line(), 1);
  EXPECT_EQ(reader.text(), R"({"a":"x","b":2,"c":true,"d":null,"e":{"f":1}})");
  EXPECT_EQ(reader.next(), nullptr);
}

TEST(RecordReader, BuildsTheWholeLineForAPathOrANestedMember) {
  TempDir dir;
  std::string path = write_lines(dir, R"({"a":1,"e":{"f":1}})"
                                      "\n");
  RecordReader by_path({path}, {}, {parse_field_path("e.f")});
  EXPECT_EQ(to_json(*by_path.next()), R"({"a":1,"e":{"f":1}})");
  RecordReader by_member({path}, {}, {parse_field_path("e")});
  EXPECT_EQ(to_json(*by_member.next()), R"({"a":1,"e":{"f":1}})");
}

TEST(RecordReader, ValidatesEveryLineAndRejectsAtItsLocation) {
  TempDir dir;
  std::string path = write_lines(dir, "{\"a\":1}\n{\"a\":1,\"a\":2}\n");
  RecordReader reader({path}, {}, {parse_field_path("a")});
  ASSERT_NE(reader.next(), nullptr);
  try {
    reader.reject("field 'a' is wrong");
    ADD_FAILURE();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), exit_code::data);
    EXPECT_EQ(error.location(), path + ":1");
  }
  EXPECT_THROW(reader.next(), Error);  // a duplicate key, though 'a' is all that is wanted
}

}  // namespace
}  // namespace sluice
