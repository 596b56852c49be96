#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "rollup_engine.hpp"
#include "rollup_spec.hpp"
#include "rollup_store.hpp"
#include "sluice/error.hpp"
#include "sluice/timeutil.hpp"
#include "test_support.hpp"

namespace sluice::rollup {
namespace {

std::int64_t at(std::string_view text) {
  return micros(parse_instant(text));
}

std::string write_file(const testing::TempDir& dir, const std::string& name,
                       const std::string& text) {
  std::ofstream(dir.file(name)) << text;
  return dir.file(name);
}

int error_code(const std::function<void()>& work) {
  try {
    work();
  } catch (const Error& error) {
    return error.code();
  }
  return 0;
}

TEST(RollupSpec, ParsesAggregatesAndNamesTheirColumns) {
  Aggregate p999 = parse_aggregate("p99.9:props.latency");
  EXPECT_EQ(p999.kind, AggregateKind::quantile);
  EXPECT_DOUBLE_EQ(p999.quantile, 0.999);
  EXPECT_EQ(p999.quantile_numerator, 999U);
  EXPECT_EQ(p999.quantile_denominator, 1000U);
  Aggregate p29 = parse_aggregate("p29:x");
  EXPECT_EQ(p29.quantile_numerator, 29U);
  EXPECT_EQ(p29.quantile_denominator, 100U);
  EXPECT_EQ(p999.column, "p99.9_props.latency");
  EXPECT_EQ(parse_aggregate("count").column, "count");
  EXPECT_EQ(parse_aggregate("sum:cost").column, "sum_cost");
  for (const char* bad : {"sum", "sum:", "median:x", "p0:x", "p100:x", "p:x", "p9.:x", "count:x",
                          "p99.99999999999999:x"}) {
    EXPECT_EQ(error_code([&] { parse_aggregate(bad); }), exit_code::usage) << bad;
  }
}

TEST(RollupSpec, BucketsInUtcAndInTheZoneAcrossDst) {
  Bucketer minutes(parse_every("1m"), TimeZone::utc());
  EXPECT_EQ(minutes.start_of(at("2026-03-01T10:05:59.999Z")), at("2026-03-01T10:05:00Z"));
  EXPECT_EQ(minutes.start_of(at("1969-12-31T23:59:30Z")), at("1969-12-31T23:59:00Z"));
  Bucketer days(parse_every("day"), TimeZone::named("--tz", "Europe/Berlin"));
  std::int64_t spring = days.start_of(at("2026-03-29T12:00:00Z"));
  EXPECT_EQ(spring, at("2026-03-28T23:00:00Z"));
  EXPECT_EQ(days.end_of(spring) - spring, 23 * 3'600'000'000LL);
  std::int64_t autumn = days.start_of(at("2026-10-25T12:00:00Z"));
  EXPECT_EQ(days.end_of(autumn) - autumn, 25 * 3'600'000'000LL);
  Bucketer weeks(parse_every("week"), TimeZone::named("--tz", "America/New_York"));
  EXPECT_EQ(weeks.start_of(at("2026-03-08T12:00:00Z")), at("2026-03-02T05:00:00Z"));  // Monday
  Bucketer months(parse_every("month"), TimeZone::named("--tz", "Asia/Kolkata"));
  EXPECT_EQ(months.start_of(at("2026-02-28T19:00:00Z")), at("2026-02-28T18:30:00Z"));
  for (const char* bad : {"2d", "0s", "25h", "fortnight"}) {
    EXPECT_EQ(error_code([&] { parse_every(bad); }), exit_code::usage) << bad;
  }
}

TEST(RollupEngine, ReadsDecimalsExactly) {
  auto value = parse_exact_decimal("-12.50");
  ASSERT_TRUE(value);
  EXPECT_EQ(value->units, -1250);
  EXPECT_EQ(value->scale, 2);
  value = parse_exact_decimal("4999e-2");
  ASSERT_TRUE(value);
  EXPECT_EQ(value->units, 4999);
  EXPECT_EQ(value->scale, 2);
  value = parse_exact_decimal("1.5E3");
  ASSERT_TRUE(value);
  EXPECT_EQ(value->units, 1500);
  EXPECT_EQ(value->scale, 0);
  for (const char* bad : {"", "-", "1.", ".5", "1e", "NaN", "Infinity", "+1", "1 ", "0x10",
                          "1.0000000000000000001"}) {
    EXPECT_FALSE(parse_exact_decimal(bad)) << bad;
  }
}

TEST(RollupEngine, MergedShardsEqualOneRun) {
  testing::TempDir dir;
  std::string all = write_file(dir, "all.jsonl",
                               "{\"ts\":\"2026-03-01T10:00:01Z\",\"g\":\"a\",\"v\":\"1.5\"}\n"
                               "{\"ts\":\"2026-03-01T10:00:02Z\",\"g\":\"a\",\"v\":2}\n"
                               "{\"ts\":\"2026-03-01T10:01:00Z\",\"g\":\"b\",\"v\":\"-0.25\"}\n");
  std::string first =
      write_file(dir, "first.jsonl", "{\"ts\":\"2026-03-01T10:00:02Z\",\"g\":\"a\",\"v\":2}\n");
  std::string second =
      write_file(dir, "second.jsonl",
                 "{\"ts\":\"2026-03-01T10:00:01Z\",\"g\":\"a\",\"v\":\"1.5\"}\n"
                 "{\"ts\":\"2026-03-01T10:01:00Z\",\"g\":\"b\",\"v\":\"-0.25\"}\n");
  Spec spec;
  spec.by = {"g"};
  for (const char* word : {"count", "sum:v", "stddev:v", "last:v", "p50:v", "distinct:v"}) {
    spec.aggregates.push_back(parse_aggregate(word));
  }
  Rollup whole(spec), left(spec), right(spec);
  whole.read({all}, {});
  left.read({first}, {});
  right.read({second}, {});
  left.merge(right);
  EXPECT_EQ(left.state_text(), whole.state_text());
  Rollup reread = Rollup::from_state("whole", whole.state_text());
  EXPECT_EQ(reread.state_text(), whole.state_text());
  // By hand: stddev of 1.5 and 2 is sqrt(0.125); p50 is rank 0, 1.5, whose DDSketch bucket
  // ceil(ln 1.5 / ln(1.01 / 0.99)) = 21 is represented by 2 gamma^21 / (gamma + 1) = 1.50676.
  std::vector<JsonValue> rows = whole.rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(to_json(rows[0]),
            "{\"bucket\":\"2026-03-01T10:00:00Z\",\"g\":\"a\",\"count\":2,\"sum_v\":\"3.5\","
            "\"stddev_v\":0.3535533905932738,\"last_v\":2,\"p50_v\":1.5067630358630386,"
            "\"distinct_v\":2}");
}

TEST(RollupStore, TiersMustNestAndOutliveTheLateness) {
  StoreSettings settings;
  settings.tiers = {parse_tier("10s:7d"), parse_tier("1h:1y"), parse_tier("day:forever")};
  EXPECT_NO_THROW(settings.check());
  EXPECT_EQ(settings.tiers[1].text(), "1h:365d");
  settings.allowed_lateness_micros = 8 * 86'400'000'000LL;
  EXPECT_EQ(error_code([&] { settings.check(); }), exit_code::usage);
  settings.allowed_lateness_micros = 0;
  settings.tiers = {parse_tier("7m:1d"), parse_tier("1h:1y")};
  EXPECT_EQ(error_code([&] { settings.check(); }), exit_code::usage);
  settings.tiers = {parse_tier("day:30d"), parse_tier("week:1y"), parse_tier("month:forever")};
  EXPECT_EQ(error_code([&] { settings.check(); }), exit_code::usage);  // weeks straddle months
  for (const char* bad : {"10s", "10s:", "10s:0y", "2d:forever", "10s:5s"}) {
    EXPECT_EQ(error_code([&] {
                StoreSettings one;
                one.tiers = {parse_tier(bad)};
                one.check();
              }),
              exit_code::usage)
        << bad;
  }
}

}  // namespace
}  // namespace sluice::rollup
