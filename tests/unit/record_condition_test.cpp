#include "sluice/record_condition.hpp"

#include <gtest/gtest.h>

#include <string>

#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"

namespace sluice {
namespace {

JsonValue record(std::string_view text) {
  JsonParser parser;
  ParseOutcome outcome = parser.parse_object(text);
  EXPECT_TRUE(outcome.value) << outcome.error;
  return *outcome.value;
}

bool holds(std::string_view condition, std::string_view text) {
  return RecordCondition::parse(condition).matches(record(text));
}

TEST(FieldPath, SplitsAtDotsKeepingEmptyKeys) {
  EXPECT_EQ(parse_field_path("props.plan").keys, (std::vector<std::string>{"props", "plan"}));
  EXPECT_FALSE(parse_field_path("event").nested());
  EXPECT_EQ(split_field_path("a..b").keys, (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split_field_path("").keys, (std::vector<std::string>{""}));
  EXPECT_THROW(parse_field_path(""), Error);
  JsonValue event = record(R"({"a":{"":{"b":1}}})");
  EXPECT_EQ(find_field(event, split_field_path("a..b"))->text(), "1");
}

TEST(FindField, WalksNestedObjectsAndStopsAtScalars) {
  JsonValue event = record(R"({"props":{"plan":"pro","n":3},"x":1})");
  EXPECT_EQ(find_field(event, parse_field_path("props.plan"))->text(), "pro");
  EXPECT_EQ(find_field(event, parse_field_path("x.y")), nullptr);
  EXPECT_EQ(find_field(event, parse_field_path("props.missing")), nullptr);
}

TEST(RecordCondition, EqualityComparesTheScalarTextExactly) {
  EXPECT_TRUE(holds("event=home", R"({"event":"home"})"));
  EXPECT_FALSE(holds("event=home", R"({"event":"homes"})"));
  EXPECT_TRUE(holds("n=10", R"({"n":10})"));
  EXPECT_FALSE(holds("n=10", R"({"n":10.0})"));
  EXPECT_TRUE(holds("ok=true", R"({"ok":true})"));
  EXPECT_FALSE(holds("e=null", R"({"e":null})"));
  EXPECT_TRUE(holds(" props.plan = pro ", R"({"props":{"plan":"pro"}})"));
}

TEST(RecordCondition, NotEqualIsTheNegationSoAMissingFieldMatches) {
  EXPECT_TRUE(holds("event!=home", R"({"event":"cart"})"));
  EXPECT_TRUE(holds("event!=home", R"({"other":1})"));
  EXPECT_FALSE(holds("event!=home", R"({"event":"home"})"));
}

TEST(RecordCondition, OrderingsNeedANumberField) {
  EXPECT_TRUE(holds("status>=500", R"({"status":500})"));
  EXPECT_FALSE(holds("status>500", R"({"status":500})"));
  EXPECT_TRUE(holds("status<500", R"({"status":404})"));
  EXPECT_TRUE(holds("status<=4.5e2", R"({"status":450})"));
  EXPECT_FALSE(holds("status>=500", R"({"status":"503"})"));
  EXPECT_FALSE(holds("status>=500", R"({})"));
}

TEST(RecordCondition, AndNeedsEveryTerm) {
  EXPECT_TRUE(holds("event=cart AND props.value>0", R"({"event":"cart","props":{"value":3}})"));
  EXPECT_FALSE(holds("event=cart AND props.value>0", R"({"event":"cart","props":{"value":0}})"));
  EXPECT_EQ(RecordCondition::parse("a=1 AND b=2 AND c!=3").terms().size(), 3u);
}

// Tabs are blanks too: around AND and around a term (a tab used to end up in the value or the
// field's name, and the condition then silently never held).
TEST(RecordCondition, TabsAroundAndAndTermsAreBlanks) {
  EXPECT_TRUE(holds("event=cart\tAND\tprops.value>0", R"({"event":"cart","props":{"value":3}})"));
  RecordCondition condition = RecordCondition::parse("a=1  AND\tb = 2\t");
  ASSERT_EQ(condition.terms().size(), 2u);
  EXPECT_EQ(condition.terms()[0].value, "1");
  EXPECT_EQ(condition.terms()[1].field.name, "b");
  EXPECT_EQ(condition.terms()[1].value, "2");
  EXPECT_EQ(RecordCondition::parse("title=ANDROID AND x=1").terms()[0].value, "ANDROID");
}

TEST(RecordCondition, RefusesTextThatDoesNotParseWithAUsageError) {
  for (const char* bad : {"", "event", "=home", "a>x", "a>", "a!b", "a=>5", "a==5", "a!==5",
                          "a= =5", "a=1 AND ", " =1"}) {
    try {
      RecordCondition::parse(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), exit_code::usage) << bad;
    }
  }
}

}  // namespace
}  // namespace sluice
