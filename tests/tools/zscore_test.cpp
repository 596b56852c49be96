#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "sluice/error.hpp"
#include "sluice/timeutil.hpp"
#include "test_support.hpp"
#include "zscore_detector.hpp"
#include "zscore_series_table.hpp"
#include "zscore_state_buffer.hpp"
#include "zscore_stream.hpp"

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
  EXPECT_NEAR(*spike.score(), std::erf(4 / std::sqrt(2.0)), 1e-15);
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
  EXPECT_FALSE(same.score().has_value());
  EXPECT_EQ(same.anomaly, false);
  EXPECT_EQ(same.lower, 5);
  EXPECT_EQ(same.upper, 5);
  Verdict moved = detector.observe(6);
  EXPECT_FALSE(moved.z.has_value());
  EXPECT_FALSE(moved.score().has_value());
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

TEST(ZscoreDetector, RobustUsesTheModifiedZScore) {
  DetectorOptions options;
  options.method = MethodKind::robust;
  options.window = 5;
  options.threshold = 3.5;
  Detector detector(options);
  for (double value : {1, 2, 3, 4, 100}) detector.observe(value);
  // Median 3; deviations 2 1 0 1 97, MAD 1: modified z of 10 is 0.6745 * 7.
  Verdict verdict = detector.observe(10);
  EXPECT_EQ(verdict.expected, 3);
  EXPECT_NEAR(*verdict.z, 0.6745 * 7, 1e-12);
  EXPECT_NEAR(*verdict.upper, 3 + 3.5 / 0.6745, 1e-12);
  EXPECT_EQ(verdict.anomaly, true);
}

TEST(ZscoreDetector, RobustFallsBackToTheMeanDeviationWhenTheMadIsZero) {
  DetectorOptions options;
  options.method = MethodKind::robust;
  options.window = 5;
  options.threshold = 3.5;
  Detector detector(options);
  for (double value : {0, 0, 0, 5, 0}) detector.observe(value);
  // Median 0, MAD 0; mean absolute deviation 1: spread 1.253314, so 4 is z = 4 / 1.253314,
  // about 3.19, under the threshold.
  Verdict verdict = detector.observe(4);
  EXPECT_EQ(verdict.expected, 0);
  EXPECT_NEAR(*verdict.z, 4 / 1.253314, 1e-12);
  EXPECT_EQ(verdict.anomaly, false);
}

// Two phases (season 2h, hourly points), lookback 2. After 10, 20, 12, 22: phase 0 holds
// 10, 12 (mean 11, squares 2), phase 1 holds 20, 22 (mean 21, squares 2): pooled variance
// 4 / 2 = 2, widened by 1 + 1/2: spread sqrt 3.
TEST(ZscoreDetector, SeasonalComparesWithTheSamePhaseAndPoolsTheSpread) {
  DetectorOptions options;
  options.method = MethodKind::seasonal;
  options.seasonal.season = std::chrono::hours(2);
  options.seasonal.lookback = 2;
  Detector detector(options);
  Instant start = parse_instant("2026-01-01T00:00:00Z");
  auto hour = [&](int n) { return start + std::chrono::hours(n); };
  int index = 0;
  for (double value : {10, 20, 12, 22}) {
    EXPECT_FALSE(detector.observe(value, hour(index++)).anomaly.has_value());
  }
  Verdict verdict = detector.observe(17, hour(index++));
  EXPECT_EQ(verdict.expected, 11);
  EXPECT_NEAR(*verdict.z, 6 / std::sqrt(3.0), 1e-12);
  EXPECT_EQ(verdict.anomaly, true);
  // Phase 1 now compares with 20 and 22.
  Verdict next = detector.observe(21, hour(index++));
  EXPECT_EQ(next.expected, 21);
}

// State saved after some points and loaded into a fresh detector gives bit for bit the
// verdicts the original gives, for every method.
TEST(ZscoreDetector, SavedStateContinuesExactly) {
  for (auto method : {MethodKind::zscore, MethodKind::ewma, MethodKind::robust,
                      MethodKind::seasonal, MethodKind::holt_winters}) {
    DetectorOptions options;
    options.method = method;
    options.window = 7;
    options.seasonal.season = std::chrono::hours(24);
    options.seasonal.lookback = 2;
    options.holt_winters.season_length = 24;
    options.trigger_count = 2;
    options.trigger_of = 3;
    Detector original(options);
    Instant start = parse_instant("2026-01-01T00:00:00Z");
    auto value_at = [](int i) { return 1e6 + 50 * std::sin(i / 3.8) + (i % 17 == 0 ? 90 : 0); };
    for (int i = 0; i < 100; ++i) original.observe(value_at(i), start + std::chrono::hours(i));
    StateWriter writer;
    original.save(writer);
    Detector restored(options);
    StateReader reader(writer.bytes());
    restored.load(reader);
    for (int i = 100; i < 200; ++i) {
      Instant time = start + std::chrono::hours(i);
      Verdict want = original.observe(value_at(i), time);
      Verdict got = restored.observe(value_at(i), time);
      ASSERT_EQ(got.expected, want.expected) << method_name(method) << " " << i;
      ASSERT_EQ(got.z, want.z) << method_name(method) << " " << i;
      ASSERT_EQ(got.anomaly, want.anomaly) << method_name(method) << " " << i;
      ASSERT_TRUE(want.expected.has_value()) << method_name(method) << " " << i;
    }
  }
}

TEST(ZscoreDetector, DamagedStateIsBadData) {
  DetectorOptions options;
  Detector detector(options);
  StateReader reader(std::string_view("\x01\x02", 2));
  EXPECT_THROW(detector.load(reader), Error);
}

// A series made by the recursion itself with alpha 0.6, beta 0.1, gamma 0.3 plus noise: the
// fitted parameters must do at least as well in sample as those and as the defaults, and
// better than a poor choice.
TEST(ZscoreHoltWinters, FitDoesAtLeastAsWellAsAnyGridPoint) {
  const std::size_t m = 12;
  std::mt19937_64 random(3);
  std::normal_distribution<double> noise(0, 1);
  std::vector<double> points;
  for (std::size_t i = 0; i < 2 * m; ++i) {
    points.push_back(50 + 10 * std::sin(2 * M_PI * static_cast<double>(i) / m) + noise(random));
  }
  Smoother truth(points, m, Seasonality::additive);
  Smoothing true_smoothing{0.6, 0.1, 0.3};
  for (std::size_t i = 2 * m; i < 20 * m; ++i) {
    double value = truth.forecast() + 3 * noise(random);
    truth.step(value, true_smoothing);
    points.push_back(value);
  }
  Smoothing fitted = fit_smoothing(points, m, Seasonality::additive);
  double best = squared_errors(points, m, Seasonality::additive, fitted);
  EXPECT_LE(best, squared_errors(points, m, Seasonality::additive, true_smoothing));
  EXPECT_LE(best, squared_errors(points, m, Seasonality::additive, Smoothing{0.1, 0.05, 0.1}));
  EXPECT_LT(best,
            0.9 * squared_errors(points, m, Seasonality::additive, Smoothing{0.05, 0.5, 0.9}));
  for (double value : {fitted.alpha, fitted.beta, fitted.gamma}) {
    EXPECT_GE(value, 0);
    EXPECT_LE(value, 1);
  }
}

// Two seasons of two points, alpha = beta = gamma = 1/2, worked by hand from the recurrences
// of zscore_methods.hpp: L0 = 15, B0 = (18 - 15) / 2 = 1.5, S0 = 10/15, 20/15.
TEST(ZscoreHoltWinters, MultiplicativeSeasonScalesTheLevel) {
  Smoother smoother({10, 20, 12, 24}, 2, Seasonality::multiplicative);
  Smoothing half{0.5, 0.5, 0.5};
  EXPECT_DOUBLE_EQ(smoother.forecast(), 16.5 * 2 / 3);  // 11
  EXPECT_DOUBLE_EQ(smoother.step(10, half), -1);
  // level 10 / (2/3) / 2 + 16.5 / 2 = 15.75; trend 0.75 / 2 + 1.5 / 2 = 1.125;
  // season 10 / 16.5 / 2 + (2/3) / 2 = 7/11.
  EXPECT_DOUBLE_EQ(smoother.level, 15.75);
  EXPECT_DOUBLE_EQ(smoother.trend, 1.125);
  EXPECT_NEAR(smoother.season[0], 7.0 / 11, 1e-15);
  EXPECT_DOUBLE_EQ(smoother.forecast(), 16.875 * 4 / 3);  // 22.5
  EXPECT_DOUBLE_EQ(smoother.step(20, half), -2.5);
  // level 20 / (4/3) / 2 + 16.875 / 2 = 15.9375; trend 0.1875 / 2 + 1.125 / 2 = 0.65625;
  // season 20 / 16.875 / 2 + (4/3) / 2 = 34/27.
  EXPECT_DOUBLE_EQ(smoother.level, 15.9375);
  EXPECT_DOUBLE_EQ(smoother.trend, 0.65625);
  EXPECT_NEAR(smoother.season[1], 34.0 / 27, 1e-15);
  EXPECT_NEAR(smoother.forecast(), 16.59375 * 7 / 11, 1e-12);
}

TEST(ZscoreDetector, ATransformJudgesOnItsScaleAndPrintsTheBandInValues) {
  DetectorOptions options;
  options.window = 3;
  options.transform = Transform::sqrt;
  Detector detector(options);
  for (double value : {4, 16, 36}) detector.observe(value);
  // sqrt: 2, 4, 6 (mean 4, sd 2); 100 is 10 there, z = 3; the band 4 -+ 6 is -2 (no count
  // is below it: 0) to 10, that is 0 to 100.
  Verdict verdict = detector.observe(100);
  EXPECT_EQ(verdict.z, 3);
  EXPECT_EQ(verdict.expected, 16);
  EXPECT_EQ(verdict.lower, 0);
  EXPECT_EQ(verdict.upper, 100);
  EXPECT_EQ(verdict.anomaly, false);
}

// run_stream over `input` (JSON Lines): what it printed, and its result.
std::pair<std::string, StreamResult> stream_of(const std::string& input, StreamOptions options) {
  testing::TempDir dir;
  options.inputs = {dir.file("in.jsonl")};
  testing::write_text(options.inputs[0], input);
  std::string output = dir.file("out.jsonl");
  StreamResult result;
  FILE* file = std::fopen(output.c_str(), "w");
  {
    OutputStream out(fileno(file));
    result = run_stream(options, out);
  }
  std::fclose(file);
  return {testing::read_text(output), result};
}

TEST(ZscoreStream, DroppedPointsAreRepeatsOrOutOfOrder) {
  StreamOptions options;
  options.keys = {"k"};
  auto [output, result] = stream_of(
      "{\"ts\":10,\"k\":\"a\",\"value\":1}\n{\"ts\":10,\"k\":\"a\",\"value\":1}\n"
      "{\"ts\":20,\"k\":\"a\",\"value\":2}\n{\"ts\":15,\"k\":\"a\",\"value\":9}\n"
      "{\"ts\":5,\"k\":\"b\",\"value\":3}\n",
      options);
  EXPECT_EQ(result.points, 5U);
  EXPECT_EQ(result.repeated, 1U);
  EXPECT_EQ(result.out_of_order, 1U);
  EXPECT_EQ(result.seen_before, 0U);
  EXPECT_TRUE(result.absent_keys.empty());
  EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 3);
}

TEST(ZscoreStream, AReorderWindowJudgesHeldPointsInTimeOrder) {
  StreamOptions options;
  options.reorder_window = std::chrono::seconds(10);
  auto [output, result] = stream_of(
      "{\"ts\":20,\"value\":2}\n{\"ts\":10,\"value\":1}\n{\"ts\":30,\"value\":3}\n"
      "{\"ts\":5,\"value\":0}\n",  // 25 s before the latest: outside the window
      options);
  EXPECT_EQ(result.out_of_order, 1U);
  EXPECT_TRUE(output.starts_with("{\"ts\":10,")) << output;
  EXPECT_LT(output.find("\"ts\":10"), output.find("\"ts\":20"));
  EXPECT_LT(output.find("\"ts\":20"), output.find("\"ts\":30"));
  EXPECT_EQ(output.find("\"ts\":5,"), std::string::npos);
}

// An incident can start at a slot --missing zero fills: its alert_start follows the filled
// record, and the next point, calm, ends it. By hand: before 00:04 the window is 12, 14, 13
// (mean 13, sd 1), so the filled 0 is z = -13.
TEST(ZscoreStream, IncidentRecordsFollowThePointsThatStartAndEndThem) {
  StreamOptions options;
  options.detector.window = 3;
  options.interval = std::chrono::seconds(60);
  options.missing_as_zero = true;
  options.records = RecordKinds::both;
  const std::string input =
      "{\"ts\":0,\"value\":10}\n{\"ts\":60,\"value\":12}\n{\"ts\":120,\"value\":14}\n"
      "{\"ts\":180,\"value\":13}\n{\"ts\":300,\"value\":13}\n";
  auto [output, result] = stream_of(input, options);
  std::vector<std::string> lines;
  for (std::size_t start = 0, end; (end = output.find('\n', start)) != std::string::npos;
       start = end + 1) {
    lines.push_back(output.substr(start, end - start));
  }
  ASSERT_EQ(lines.size(), 8U) << output;
  EXPECT_EQ(lines[4],
            "{\"ts\":\"1970-01-01T00:04:00Z\",\"value\":0,\"filled\":true,\"expected\":13,"
            "\"lower\":10,\"upper\":16,\"z\":-13,\"score\":1,\"anomaly\":true,\"method\":"
            "\"zscore\"}");
  EXPECT_EQ(lines[5],
            "{\"ts\":\"1970-01-01T00:04:00Z\",\"event\":\"alert_start\",\"reason\":\"anomaly\","
            "\"value\":0,\"z\":-13,\"method\":\"zscore\"}");
  EXPECT_TRUE(lines[6].starts_with("{\"ts\":300,\"value\":13,")) << lines[6];
  EXPECT_EQ(lines[7],
            "{\"ts\":\"1970-01-01T00:05:00Z\",\"event\":\"alert_end\",\"reason\":\"anomaly\","
            "\"started\":\"1970-01-01T00:04:00Z\",\"method\":\"zscore\"}");
  EXPECT_EQ(result.incidents_started, 1U);
  options.records = RecordKinds::incidents;
  EXPECT_EQ(stream_of(input, options).first, lines[5] + "\n" + lines[7] + "\n");
}

TEST(ZscoreStream, AKeyFieldNoPointHasIsReported) {
  StreamOptions options;
  options.keys = {"host", "hots"};
  auto [output, result] = stream_of("{\"ts\":1,\"host\":\"a\",\"value\":1}\n", options);
  EXPECT_EQ(result.absent_keys, std::vector<std::string>{"hots"});
}

}  // namespace
}  // namespace sluice::zscore

namespace sluice::zscore {

TEST(ZscoreSeriesTable, FindsEveryKeyAtTheAddressItWasStoredAt) {
  SeriesTable<int> table;
  std::vector<int*> addresses;
  for (int i = 0; i < 10'000; ++i) {
    EXPECT_EQ(table.find("series " + std::to_string(i)), nullptr);
    addresses.push_back(&table.insert("series " + std::to_string(i), i));
  }
  ASSERT_EQ(table.size(), 10'000u);
  for (int i = 0; i < 10'000; ++i) {
    int* found = table.find("series " + std::to_string(i));
    ASSERT_EQ(found, addresses[static_cast<std::size_t>(i)]);
    EXPECT_EQ(*found, i);
  }
  EXPECT_EQ(table.find(""), nullptr);
  EXPECT_EQ(table.find("series 10000"), nullptr);
  EXPECT_EQ(table.entries()[7].key, "series 7");
  EXPECT_EQ(table.entries()[7].value, 7);
}

TEST(ZscoreSeriesTable, KeysAreComparedWholeWithTheirZeroBytes) {
  SeriesTable<int> table;
  table.insert("", 1);
  table.insert(std::string("a\0b", 3), 2);
  EXPECT_EQ(*table.find(""), 1);
  EXPECT_EQ(*table.find(std::string("a\0b", 3)), 2);
  EXPECT_EQ(table.find("a"), nullptr);
}

}  // namespace sluice::zscore
