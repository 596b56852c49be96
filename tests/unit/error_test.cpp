#include "sluice/error.hpp"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(WithoutControlCharacters, EscapesC0DelAndC1ButKeepsOtherText) {
  EXPECT_EQ(without_control_characters("a\x1b[31mb\x7f\xc2\x85\n"),
            "a\\u001b[31mb\\u007f\\u0085\\u000a");
  // Other UTF-8 (here é, which starts with 0xc3, and the euro sign) passes unchanged.
  EXPECT_EQ(without_control_characters("caf\xc3\xa9 \xe2\x82\xac 5"), "caf\xc3\xa9 \xe2\x82\xac 5");
  EXPECT_EQ(without_control_characters(""), "");
}

TEST(SingleLine, JoinsWhiteSpaceRunsIntoOneSpace) {
  EXPECT_EQ(single_line("CREATE TABLE t (\n  id INTEGER,\r\n\tname TEXT\n)\n"),
            "CREATE TABLE t ( id INTEGER, name TEXT )");
  EXPECT_EQ(single_line("  id,\n email  "), "id, email");
  EXPECT_EQ(single_line("\n\n"), "");
  EXPECT_EQ(single_line("a\x1b b"), "a\x1b b");  // other control characters are left to the printer
}

}  // namespace
}  // namespace sluice
