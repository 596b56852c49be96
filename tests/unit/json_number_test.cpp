#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "sluice/json.hpp"

namespace sluice {
namespace {

std::string written(double value) {
  std::string text;
  append_json_number(text, value);
  return text;
}

// The oracle: libstdc++'s own shortest round-trip formatting.
std::string standard(double value) {
  char text[64];
  auto [end, error] = std::to_chars(text, text + sizeof text, value);
  return std::string(text, end);
}

TEST(WriteJsonNumber, WritesHandPickedValuesAsToCharsDoes) {
  EXPECT_EQ(written(0.0), "0");
  EXPECT_EQ(written(-0.0), "-0");
  EXPECT_EQ(written(1.0), "1");
  EXPECT_EQ(written(-2.5), "-2.5");
  EXPECT_EQ(written(100.0), "100");
  EXPECT_EQ(written(100000.0), "1e+05");
  EXPECT_EQ(written(123456.0), "123456");
  EXPECT_EQ(written(0.1), "0.1");
  EXPECT_EQ(written(0.001), "0.001");
  EXPECT_EQ(written(0.0001), "1e-04");  // shorter than 0.0001
  EXPECT_EQ(written(0.00001), "1e-05");
  EXPECT_EQ(written(0.000123), "0.000123");
  EXPECT_EQ(written(1e100), "1e+100");
  EXPECT_EQ(written(1.5e-300), "1.5e-300");
  EXPECT_EQ(written(467.367), "467.367");
  EXPECT_EQ(written(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(written(5e-324), "5e-324");
  EXPECT_EQ(written(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
  EXPECT_EQ(written(9007199254740993.0), "9007199254740992");
  EXPECT_EQ(written(1e17 - 16), "99999999999999984");  // exact, not 99999999999999980
}

TEST(WriteJsonNumber, WritesNullForWhatJsonCannotHold) {
  EXPECT_EQ(written(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(written(-std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(written(std::numeric_limits<double>::quiet_NaN()), "null");
}

TEST(WriteJsonNumber, AgreesWithToCharsOnRandomBitPatterns) {
  std::mt19937_64 random(20261206);
  int compared = 0;
  while (compared < 1'000'000) {
    double value = std::bit_cast<double>(random());
    if (!std::isfinite(value)) continue;
    ASSERT_EQ(written(value), standard(value)) << std::bit_cast<std::uint64_t>(value);
    ++compared;
  }
}

// Metric values: short decimals, whole numbers, and the means and bounds computed from them.
TEST(WriteJsonNumber, AgreesWithToCharsOnMetricLikeValues) {
  std::mt19937_64 random(7);
  std::normal_distribution<double> noise(400, 30);
  for (int i = 0; i < 300'000; ++i) {
    double value = noise(random);
    for (double each : {value, std::round(value * 1000) / 1000, std::round(value), value / 7,
                        value * 1e-9, value * 1e12}) {
      ASSERT_EQ(written(each), standard(each)) << each;
    }
  }
}

TEST(WriteJsonNumber, AgreesWithToCharsAtEveryPowerOfTen) {
  for (int power = -325; power <= 308; ++power) {
    double value = std::pow(10.0, power);
    for (double each : {value, std::nextafter(value, 0.0),
                        std::nextafter(value, std::numeric_limits<double>::infinity()), -value,
                        3 * value, value / 3}) {
      if (!std::isfinite(each)) continue;  // 3e308 overflows
      ASSERT_EQ(written(each), standard(each)) << power;
    }
  }
}

TEST(WriteJsonNumber, WritesAtMostTheDeclaredLength) {
  std::mt19937_64 random(3);
  for (int i = 0; i < 200'000; ++i) {
    double value = std::bit_cast<double>(random());
    char text[max_json_number_length];
    EXPECT_LE(static_cast<std::size_t>(write_json_number(text, value) - text),
              max_json_number_length);
  }
}

}  // namespace
}  // namespace sluice
