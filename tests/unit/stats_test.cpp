#include "sluice/stats.hpp"

#include <algorithm>
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

TEST(OrderedWindow, MedianAndMadByHand) {
  OrderedWindow window(7);
  for (double value : {100, 1, 2, 3, 4, 5, 6, 9, 2}) window.add(value);
  // The last seven: 2 3 4 5 6 9 2 -> sorted 2 2 3 4 5 6 9, median 4;
  // deviations 2 2 1 0 1 2 5 -> sorted 0 1 1 2 2 2 5, MAD 2; mean deviation 13/7.
  EXPECT_EQ(window.values(), (std::vector<double>{2, 3, 4, 5, 6, 9, 2}));
  EXPECT_EQ(window.median(), 4);
  EXPECT_EQ(window.mad(), 2);
  EXPECT_DOUBLE_EQ(window.mean_absolute_deviation(), 13.0 / 7);
  EXPECT_EQ(window.select(0), 2);
  EXPECT_EQ(window.select(6), 9);
  EXPECT_EQ(window.count_below(4), 3u);
  EXPECT_EQ(window.sum_of_smallest(3), 7);
}

TEST(OrderedWindow, EvenCountsAverageTheMiddleTwo) {
  OrderedWindow window(4);
  for (double value : {1, 2, 4, 10}) window.add(value);
  // Median 3; deviations 2 1 1 7 -> 1 1 2 7, MAD 1.5.
  EXPECT_EQ(window.median(), 3);
  EXPECT_EQ(window.mad(), 1.5);
}

TEST(OrderedWindow, MostlyEqualValuesHaveAZeroMad) {
  OrderedWindow window(9);
  for (double value : {0, 0, 0, 0, 0, 0, 3, 0, 7}) window.add(value);
  EXPECT_EQ(window.median(), 0);
  EXPECT_EQ(window.mad(), 0);
  EXPECT_DOUBLE_EQ(window.mean_absolute_deviation(), 10.0 / 9);
}

// Against a sort of the window after additions, with many ties (small integers) and without
// (doubles), and a window larger than the stream at first; small windows (a sorted array) are
// checked after every addition, the tree (over sorted_array_limit) every 97th.
TEST(OrderedWindow, AgreesWithSortingTheWindow) {
  std::mt19937_64 random(11);
  const std::size_t tree_capacity = OrderedWindow::sorted_array_limit + 100;
  for (std::size_t capacity :
       {std::size_t{1}, std::size_t{2}, std::size_t{31}, std::size_t{200}, tree_capacity}) {
    OrderedWindow window(capacity);
    std::vector<double> all;
    int additions = capacity == tree_capacity ? 12000 : 3000;
    for (int i = 0; i < additions; ++i) {
      double value = i % 2 == 0 ? static_cast<double>(random() % 5)
                                : std::ldexp(static_cast<double>(random() % 100000), -7);
      window.add(value);
      all.push_back(value);
      if (capacity == tree_capacity && i % 97 != 0) continue;
      std::size_t first = all.size() > capacity ? all.size() - capacity : 0;
      std::vector<double> sorted(all.begin() + static_cast<std::ptrdiff_t>(first), all.end());
      ASSERT_EQ(window.values(), sorted);
      std::sort(sorted.begin(), sorted.end());
      std::size_t n = sorted.size();
      double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
      std::vector<double> deviations;
      double total = 0;
      for (double x : sorted) {
        deviations.push_back(std::fabs(x - median));
        total += std::fabs(x - median);
      }
      std::sort(deviations.begin(), deviations.end());
      double mad = n % 2 == 1 ? deviations[n / 2] : (deviations[n / 2 - 1] + deviations[n / 2]) / 2;
      ASSERT_EQ(window.median(), median) << "i=" << i;
      ASSERT_EQ(window.mad(), mad) << "i=" << i;
      ASSERT_NEAR(window.mean_absolute_deviation(), total / static_cast<double>(n), 1e-9);
      std::size_t k = static_cast<std::size_t>(random() % n);
      ASSERT_EQ(window.select(k), sorted[k]);
    }
  }
}

// A window restored from values() and added() answers bit for bit like the original.
void check_restore(std::size_t capacity) {
  std::mt19937_64 random(5);
  std::normal_distribution<double> noise(1e6, 3);
  OrderedWindow window(capacity);
  for (std::size_t i = 0; i < capacity * 3 / 2; ++i) window.add(noise(random));
  OrderedWindow copy(capacity);
  copy.restore(window.values(), window.added());
  for (int i = 0; i < 500; ++i) {
    double value = noise(random);
    window.add(value);
    copy.add(value);
    ASSERT_EQ(copy.mean_absolute_deviation(), window.mean_absolute_deviation());
    ASSERT_EQ(copy.mad(), window.mad());
  }
  EXPECT_EQ(copy.values(), window.values());
  EXPECT_EQ(copy.added(), window.added());
}

TEST(OrderedWindow, RestoreGivesBitIdenticalAnswers) {
  for (std::size_t capacity : {std::size_t{50}, OrderedWindow::sorted_array_limit + 10}) {
    check_restore(capacity);
  }
}

}  // namespace
}  // namespace sluice::stats
