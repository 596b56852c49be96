#include "sluice/sketch.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sluice/error.hpp"
#include "sluice/random.hpp"

namespace sluice {
namespace {

std::vector<double> lognormal_values(std::size_t count, std::uint64_t seed) {
  Random random(seed);
  std::vector<double> values;
  for (std::size_t i = 0; i < count; ++i) {
    double u1 = (static_cast<double>(random.next() >> 11) + 0.5) / 9007199254740992.0;
    double u2 = (static_cast<double>(random.next() >> 11) + 0.5) / 9007199254740992.0;
    double normal = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
    values.push_back(std::exp(3 + 1.5 * normal));
  }
  return values;
}

std::vector<double> pareto_values(std::size_t count, std::uint64_t seed) {
  Random random(seed);
  std::vector<double> values;
  for (std::size_t i = 0; i < count; ++i) {
    double u = (static_cast<double>(random.next() >> 11) + 0.5) / 9007199254740992.0;
    values.push_back(1.0 / std::pow(u, 1.0 / 1.2));  // alpha 1.2: a heavy tail
  }
  return values;
}

void expect_quantiles_within_error(std::vector<double> values) {
  QuantileSketch sketch;
  for (double value : values) sketch.add(value);
  std::sort(values.begin(), values.end());
  for (double q : {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    double exact = values[static_cast<std::size_t>(std::floor(q * (values.size() - 1)))];
    EXPECT_LE(std::fabs(sketch.quantile(q) - exact),
              QuantileSketch::relative_accuracy * std::fabs(exact) * (1 + 1e-12))
        << "q=" << q;
  }
}

TEST(QuantileSketch, LognormalWithinRelativeError) {
  expect_quantiles_within_error(lognormal_values(20000, 7));
}

TEST(QuantileSketch, ParetoWithinRelativeError) {
  expect_quantiles_within_error(pareto_values(20000, 8));
}

TEST(QuantileSketch, NegativeAndZeroValues) {
  std::vector<double> values;
  for (int i = -500; i <= 500; ++i) values.push_back(i * 0.37);
  expect_quantiles_within_error(values);
  QuantileSketch sketch;
  sketch.add(0);
  sketch.add(-2);
  EXPECT_EQ(sketch.quantile(1.0), 0.0);
  EXPECT_NEAR(sketch.quantile(0.0), -2.0, 0.02);
}

TEST(QuantileSketch, MergeEqualsOneSketch) {
  std::vector<double> values = lognormal_values(3000, 9);
  QuantileSketch whole, first, second;
  for (std::size_t i = 0; i < values.size(); ++i) {
    whole.add(values[i]);
    (i % 3 == 0 ? first : second).add(values[i]);
  }
  second.merge(first);
  EXPECT_EQ(second, whole);
  EXPECT_EQ(QuantileSketch::from_parts(whole.zero_count(), whole.positive(), whole.negative()),
            whole);
}

TEST(QuantileSketch, MalformedPartsAreRefused) {
  EXPECT_THROW(QuantileSketch::from_parts(0, {0, {0, 1}}, {}), Error);
  EXPECT_THROW(QuantileSketch::from_parts(0, {90000, {1}}, {}), Error);
}

TEST(HyperLogLog, WithinThreeStandardErrors) {
  for (std::uint64_t count : {2000ULL, 20000ULL, 200000ULL}) {
    HyperLogLog sketch;
    for (std::uint64_t i = 0; i < count; ++i) sketch.add(spread_hash("user-" + std::to_string(i)));
    double error =
        std::fabs(sketch.estimate() - static_cast<double>(count)) / static_cast<double>(count);
    EXPECT_LE(error, 3 * HyperLogLog::standard_error) << count;
  }
}

TEST(DistinctCounter, ExactUpToTheLimitThenSketched) {
  DistinctCounter counter;
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < DistinctCounter::exact_limit; ++i)
      counter.add(spread_hash(std::to_string(i)));
  }
  EXPECT_TRUE(counter.exact());
  EXPECT_EQ(counter.count(), DistinctCounter::exact_limit);
  counter.add(spread_hash("one more"));
  EXPECT_FALSE(counter.exact());
  EXPECT_NEAR(static_cast<double>(counter.count()), 1025.0, 1025 * 3 * HyperLogLog::standard_error);
}

TEST(DistinctCounter, MergeEqualsOneCounterWhateverTheSplit) {
  DistinctCounter whole, left, right;
  for (int i = 0; i < 1500; ++i) {
    std::uint64_t hash = spread_hash(std::to_string(i % 1200));
    whole.add(hash);
    (i % 2 == 0 ? left : right).add(hash);
  }
  left.merge(right);
  ASSERT_FALSE(whole.exact());
  ASSERT_FALSE(left.exact());
  EXPECT_EQ(*left.sketch(), *whole.sketch());
  DistinctCounter small_left, small_right;
  small_left.add(1);
  small_right.add(1);
  small_right.add(2);
  small_left.merge(small_right);
  EXPECT_EQ(small_left.hashes(), (std::vector<std::uint64_t>{1, 2}));
}

TEST(HyperLogLog, MalformedRegistersAreRefused) {
  EXPECT_THROW(HyperLogLog::from_registers(std::vector<std::uint8_t>(10, 0)), Error);
  EXPECT_THROW(
      HyperLogLog::from_registers(std::vector<std::uint8_t>(HyperLogLog::register_count, 60)),
      Error);
}

}  // namespace
}  // namespace sluice

TEST(QuantileSketch, ValueAtRankReadsTheRankGiven) {
  // 0.29 x 100 is 28.999999999999996 in doubles: quantile(0.29) reads rank 28 (the value 29),
  // value_at_rank(29) the value 30, within 1%.
  sluice::QuantileSketch sketch;
  for (int value = 1; value <= 101; ++value) sketch.add(value);
  EXPECT_NEAR(sketch.value_at_rank(29), 30.0, 0.3);
  EXPECT_NEAR(sketch.value_at_rank(0), 1.0, 0.01);
  EXPECT_NEAR(sketch.value_at_rank(100), 101.0, 1.01);
}
