#include "sluice/random.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace sluice {
namespace {

TEST(Random, MatchesTheReferenceSequence) {
  // xoshiro256** seeded by splitmix64(42), computed independently in Python.
  Random random(42);
  EXPECT_EQ(random.next(), 1546998764402558742ULL);
  EXPECT_EQ(random.next(), 6990951692964543102ULL);
  EXPECT_EQ(random.next(), 12544586762248559009ULL);
}

TEST(Random, SameSeedSameDraws) {
  Random first(7), second(7), other(8);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    auto value = first.uniform_int(0, 1000);
    EXPECT_EQ(value, second.uniform_int(0, 1000));
    differs |= value != other.uniform_int(0, 1000);
  }
  EXPECT_TRUE(differs);
}

TEST(Random, UniformIntCoversExactlyItsInclusiveRange) {
  Random random(1);
  std::set<std::int64_t> seen;
  for (int i = 0; i < 10000; ++i) {
    auto value = random.uniform_int(-2, 3);
    ASSERT_GE(value, -2);
    ASSERT_LE(value, 3);
    seen.insert(value);
  }
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_EQ(random.uniform_int(5, 5), 5);
}

TEST(Random, UniformAndNormalHaveTheirMoments) {
  Random random(3);
  double sum = 0, normal_sum = 0, normal_squares = 0;
  constexpr int draws = 200000;
  for (int i = 0; i < draws; ++i) {
    double value = random.uniform();
    ASSERT_GE(value, 0.0);
    ASSERT_LT(value, 1.0);
    sum += value;
    double normal = random.normal(10.0, 2.0);
    normal_sum += normal;
    normal_squares += normal * normal;
  }
  EXPECT_NEAR(sum / draws, 0.5, 0.005);
  double mean = normal_sum / draws;
  EXPECT_NEAR(mean, 10.0, 0.02);
  EXPECT_NEAR(std::sqrt(normal_squares / draws - mean * mean), 2.0, 0.02);
}

TEST(Random, OsSeedsDiffer) {
  EXPECT_NE(Random::os_seed(), Random::os_seed());
}

}  // namespace
}  // namespace sluice
