#include "sluice/stats.hpp"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace sluice::stats {
namespace {

TEST(WindowMoments, KeepsTheLastValuesOnly) {
  WindowMoments window(6);
  for (double value : {2, 4, 4, 4, 5, 5, 7, 9}) window.add(value);
  EXPECT_EQ(window.count(), 6u);
  EXPECT_EQ(window.values(), (std::vector<double>{4, 4, 5, 5, 7, 9}));
  // By hand: mean 34/6; squared deviations 174/9, over 5.
  EXPECT_NEAR(window.mean(), 34.0 / 6, 1e-12);
  EXPECT_NEAR(window.variance(), 174.0 / 45, 1e-12);
}

TEST(WindowMoments, NeedsTwoValuesForAVariance) {
  WindowMoments window(3);
  EXPECT_EQ(window.variance(), 0);
  window.add(5);
  EXPECT_EQ(window.mean(), 5);
  EXPECT_EQ(window.variance(), 0);
}

// Values near 1e9 with a spread of about 1: a naive sum of squares loses every digit, and
// removal updates drift unless the window re-sums itself.
TEST(WindowMoments, StaysExactOnLargeValuesWithASmallSpread) {
  std::mt19937_64 random(7);
  std::normal_distribution<double> noise(0, 1);
  WindowMoments window(100);
  for (int i = 0; i < 1000000; ++i) window.add(1e9 + noise(random));
  std::vector<double> values = window.values();
  double mean = 0;
  for (double value : values) mean += value;
  mean /= static_cast<double>(values.size());
  double squares = 0;
  for (double value : values) squares += (value - mean) * (value - mean);
  double variance = squares / static_cast<double>(values.size() - 1);
  EXPECT_NEAR(window.mean(), mean, 1e-6);
  EXPECT_NEAR(window.variance(), variance, 1e-6 * variance);
  EXPECT_GT(variance, 0.5);
}

// Whole counts near 1e9 (found by the zscore oracle test: without a shift the window's mean
// was off by 1e-5 after a few dozen updates, and z in the sixth digit).
TEST(WindowMoments, KeepsWholeCountsNearOneBillionExact) {
  WindowMoments window(5);
  const double pattern[] = {0, 1, 0, 0, -1, 2, 1};
  for (int i = 0; i < 100003; ++i) window.add(1e9 + pattern[i % 7]);
  // The last five values: i = 99998 .. 100002, i % 7 = 3, 4, 5, 6, 0: 0, -1, 2, 1, 0.
  EXPECT_EQ(window.mean(), 1e9 + 0.4);
  // Squared deviations: 0.16 + 1.96 + 2.56 + 0.36 + 0.16 = 5.2, over 4.
  EXPECT_NEAR(window.variance(), 1.3, 1e-12);
}

TEST(Ewma, UpdatesMeanAndVarianceIncrementally) {
  Ewma ewma(0.5);
  ewma.add(10);
  EXPECT_EQ(ewma.mean(), 10);
  EXPECT_EQ(ewma.variance(), 0);
  ewma.add(20);  // delta 10, increment 5: mean 15, variance 0.5 * (0 + 50)
  EXPECT_EQ(ewma.mean(), 15);
  EXPECT_EQ(ewma.variance(), 25);
  ewma.add(10);  // delta -5, increment -2.5: mean 12.5, variance 0.5 * (25 + 12.5)
  EXPECT_EQ(ewma.mean(), 12.5);
  EXPECT_EQ(ewma.variance(), 18.75);
  EXPECT_EQ(ewma.count(), 3u);
}

TEST(TwoSidedScore, IsOneMinusTheNormalTailProbability) {
  EXPECT_EQ(two_sided_score(0), 0);
  EXPECT_NEAR(two_sided_score(3), 0.9973002039367398, 1e-15);  // Python math.erf(3 / sqrt(2))
  EXPECT_EQ(two_sided_score(-3), two_sided_score(3));
  EXPECT_EQ(two_sided_score(50), 1);
}

}  // namespace
}  // namespace sluice::stats
