#include <gtest/gtest.h>

#include <cmath>

#include "zscore_detector.hpp"

namespace sluice::zscore {
namespace {

TEST(ZscoreDetector, JudgesAPointByTheWindowBeforeIt) {
  DetectorOptions options;
  options.window = 3;
  options.threshold = 2;
  Detector detector(options);
  for (double value : {10, 12, 14}) {
    Verdict verdict = detector.observe(value);
    EXPECT_FALSE(verdict.anomaly.has_value());
    EXPECT_EQ(verdict.reason, "warming_up");
    EXPECT_FALSE(verdict.expected.has_value());
  }
  // The window 10, 12, 14: mean 12, sample sd 2, so 20 is z = 4.
  Verdict spike = detector.observe(20);
  EXPECT_EQ(spike.expected, 12);
  EXPECT_EQ(spike.lower, 8);
  EXPECT_EQ(spike.upper, 16);
  EXPECT_EQ(spike.z, 4);
  EXPECT_NEAR(*spike.score, std::erf(4 / std::sqrt(2.0)), 1e-15);
  EXPECT_EQ(spike.anomaly, true);
  EXPECT_EQ(spike.reason, "");
  // The window 12, 14, 20: mean 46/3, variance (100/9 + 16/9 + 196/9) / 2 = 52/3.
  Verdict calm = detector.observe(14);
  EXPECT_NEAR(*calm.expected, 46.0 / 3, 1e-12);
  EXPECT_NEAR(*calm.z, (14 - 46.0 / 3) / std::sqrt(52.0 / 3), 1e-12);
  EXPECT_EQ(calm.anomaly, false);
}

TEST(ZscoreDetector, FlagsAnyChangeOfAConstantSeries) {
  DetectorOptions options;
  options.window = 2;
  Detector detector(options);
  detector.observe(5);
  detector.observe(5);
  Verdict same = detector.observe(5);
  EXPECT_FALSE(same.z.has_value());
  EXPECT_EQ(same.score, 0);
  EXPECT_EQ(same.anomaly, false);
  EXPECT_EQ(same.lower, 5);
  EXPECT_EQ(same.upper, 5);
  Verdict moved = detector.observe(6);
  EXPECT_FALSE(moved.z.has_value());
  EXPECT_EQ(moved.score, 1);
  EXPECT_EQ(moved.anomaly, true);
}

TEST(ZscoreDetector, WatchesOnlyTheChosenDirection) {
  DetectorOptions options;
  options.window = 3;
  options.direction = Direction::up;
  Detector detector(options);
  for (double value : {10, 12, 14}) detector.observe(value);
  Verdict drop = detector.observe(-100);
  EXPECT_LT(*drop.z, -3);
  EXPECT_EQ(drop.anomaly, false);
}

TEST(ZscoreDetector, EwmaWarmsUpForCeilOneOverAlphaPoints) {
  DetectorOptions options;
  options.method = MethodKind::ewma;
  options.alpha = 0.5;  // two points of warm-up
  Detector detector(options);
  EXPECT_FALSE(detector.observe(10).anomaly.has_value());
  EXPECT_FALSE(detector.observe(20).anomaly.has_value());
  // After 10 and 20: mean 15, variance 25 (see the stats unit test).
  Verdict verdict = detector.observe(10);
  EXPECT_EQ(verdict.expected, 15);
  EXPECT_EQ(verdict.z, -1);
  EXPECT_EQ(verdict.anomaly, false);
}

}  // namespace
}  // namespace sluice::zscore
