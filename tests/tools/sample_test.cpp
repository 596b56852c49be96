#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sample_decide.hpp"
#include "sample_run.hpp"
#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::sample {
namespace {

TEST(KeepRate, ThresholdIsTheRateOfTwoToThe64) {
  KeepRate one = parse_keep_rate("--rate", "1%");
  EXPECT_EQ(*one.threshold, 184467440737095516u);  // floor(2^64 / 100)
  EXPECT_EQ(one.sample_rate, 100);
  EXPECT_FALSE(parse_keep_rate("--rate", "100%").threshold);
  EXPECT_EQ(parse_keep_rate("--rate", "250bp").sample_rate, 40);
}

TEST(KeepRate, RefusesZeroAboveAHundredAndNonRates) {
  for (const char* bad : {"0%", "0bp", "100.5%", "200%", "1", "x%", ""}) {
    try {
      parse_keep_rate("--rate", bad);
      ADD_FAILURE() << bad;
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), exit_code::usage) << bad;
    }
  }
}

TEST(Rule, SplitsAtTheLastColon) {
  Rule rule = parse_rule("path=/a:b:10%");
  EXPECT_EQ(rule.condition.terms()[0].value, "/a:b");
  EXPECT_EQ(rule.rate.sample_rate, 10);
  EXPECT_THROW(parse_rule("status>=500"), Error);
}

// Python: int.from_bytes(hashlib.sha256(b"1:02:u1").digest()[:8], "big")
TEST(KeyDraw, IsTheFirstEightBytesOfSha256OfTheFramedSeedAndKey) {
  EXPECT_EQ(key_draw(0, "u1"), 8589144193723383892u);
}

TEST(WithWeight, AppendsOrMultipliesSampleRate) {
  EXPECT_EQ(with_weight(R"({"a":1})", nullptr, 100), R"({"a":1,"sample_rate":100})");
  EXPECT_EQ(with_weight("{}", nullptr, 2.5), R"({"sample_rate":2.5})");
  JsonValue earlier = JsonValue::number("10");
  EXPECT_EQ(with_weight(R"({"sample_rate":10,"b":2})", &earlier, 100),
            R"({"sample_rate":1000,"b":2})");
  JsonValue text = JsonValue::string("10");
  EXPECT_THROW(with_weight(R"({"sample_rate":"10"})", &text, 100), Error);
}

// A line sampled twice keeps its exact text but for the product: escapes, spacing, numbers as
// written, and a nested member of the same name.
TEST(WithWeight, MultipliesInPlaceLeavingTheRestOfTheLineAsWritten) {
  JsonValue earlier = JsonValue::number("10");
  EXPECT_EQ(with_weight(R"({ "b":"x\/y", "n":{"sample_rate":3}, "sample_rate" : 10 , "c":1.50 })",
                        &earlier, 2),
            R"({ "b":"x\/y", "n":{"sample_rate":3}, "sample_rate" : 20 , "c":1.50 })");
  EXPECT_EQ(with_weight(R"({"a":[1,"]"],"sample_\u0072ate":10})", &earlier, 3),
            R"({"a":[1,"]"],"sample_\u0072ate":30})");
}

// Each of 20 items should be in a reservoir of 5 in a quarter of 4,000 seeded runs; the
// chi-square statistic over the 20 counts (19 degrees of freedom) stays below 43.82, its 0.1%
// critical value. Seeded, so the figure is the same on every run.
TEST(Reservoir, KeepsEveryItemEquallyOften) {
  constexpr int items = 20, size = 5, trials = 4000;
  std::vector<int> counts(items);
  for (int trial = 0; trial < trials; ++trial) {
    Reservoir reservoir(size, static_cast<std::uint64_t>(trial));
    std::vector<int> slots(size, -1);
    for (int item = 0; item < items; ++item) {
      if (reservoir.offer()) slots[reservoir.slot()] = item;
    }
    for (int item : slots) ++counts[item];
  }
  double expected = static_cast<double>(trials) * size / items;
  double chi_square = 0;
  for (int count : counts) chi_square += (count - expected) * (count - expected) / expected;
  EXPECT_LT(chi_square, 43.82);
}

TEST(Reservoir, KeepsEverythingWhenFewerItemsCome) {
  Reservoir reservoir(10, 1);
  for (int item = 0; item < 3; ++item) {
    EXPECT_TRUE(reservoir.offer());
    EXPECT_EQ(reservoir.slot(), static_cast<std::size_t>(item));
  }
}

}  // namespace
}  // namespace sluice::sample
