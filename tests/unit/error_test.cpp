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

}  // namespace
}  // namespace sluice
