#include "sluice/csv.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace sluice::csv {
namespace {

using Fields = std::vector<std::string>;

TEST(Csv, SplitsPlainFieldsKeepingEmptyOnes) {
  EXPECT_EQ(split_line("Date,USD,JPY,"), (Fields{"Date", "USD", "JPY", ""}));
  EXPECT_EQ(split_line(""), (Fields{""}));
  EXPECT_EQ(split_line("a,,b\r"), (Fields{"a", "", "b"}));
  EXPECT_EQ(split_line("2024-06-28, 1.0705"), (Fields{"2024-06-28", " 1.0705"}));
}

TEST(Csv, UnquotesQuotedFields) {
  EXPECT_EQ(split_line(R"("Korea, Rep.","KOR","","0.71",)"),
            (Fields{"Korea, Rep.", "KOR", "", "0.71", ""}));
  EXPECT_EQ(split_line(R"("say ""hi""",x)"), (Fields{"say \"hi\"", "x"}));
}

TEST(Csv, RejectsBrokenQuoting) {
  EXPECT_EQ(testing::exit_status_of([] { split_line(R"("open,field)"); }), 65);
  EXPECT_EQ(testing::exit_status_of([] { split_line(R"("a"b,c)"); }), 65);
}

}  // namespace
}  // namespace sluice::csv
