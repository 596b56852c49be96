#include <gtest/gtest.h>

#include <fmt/format.h>

#include "cohort_activity.hpp"
#include "cohort_alias.hpp"
#include "cohort_matrix.hpp"
#include "cohort_period.hpp"
#include "sluice/error.hpp"
#include "sluice/timeutil.hpp"
#include "test_support.hpp"

namespace sluice::cohort {
namespace {

using namespace std::chrono;

Calendar calendar(PeriodUnit unit, const char* zone = "UTC", weekday start = Monday) {
  return Calendar(unit, TimeZone::named("--tz", zone), start);
}

std::string label_of(const Calendar& calendar, const char* instant) {
  return calendar.label(calendar.period_of(parse_instant(instant)));
}

TEST(CohortCalendar, WeeksStartOnTheChosenDayAcrossTheYearBoundary) {
  Calendar monday = calendar(PeriodUnit::week);
  EXPECT_EQ(label_of(monday, "2024-12-30T00:00:00Z"), "2024-12-30");
  EXPECT_EQ(label_of(monday, "2025-01-05T23:59:59Z"), "2024-12-30");
  EXPECT_EQ(label_of(monday, "2025-01-06T00:00:00Z"), "2025-01-06");
  EXPECT_EQ(label_of(monday, "1969-12-29T00:00:00Z"), "1969-12-29");
  EXPECT_EQ(label_of(monday, "1969-12-28T23:59:59Z"), "1969-12-22");
  Calendar sunday = calendar(PeriodUnit::week, "UTC", Sunday);
  EXPECT_EQ(label_of(sunday, "2025-01-04T12:00:00Z"), "2024-12-29");
  EXPECT_EQ(sunday.period_of(parse_instant("2025-01-05T00:00:00Z")),
            sunday.period_of(parse_instant("2025-01-04T00:00:00Z")) + 1);
}

TEST(CohortCalendar, MonthsAreCalendarMonthsAlsoBefore1970) {
  Calendar months = calendar(PeriodUnit::month);
  EXPECT_EQ(label_of(months, "2026-02-28T23:59:59Z"), "2026-02-01");
  EXPECT_EQ(label_of(months, "1969-12-31T23:59:59Z"), "1969-12-01");
  int january = months.period_of(parse_instant("2026-01-15T00:00:00Z"));
  EXPECT_EQ(months.label(january + 11), "2026-12-01");
  EXPECT_EQ(months.label(january + 12), "2027-01-01");
  EXPECT_EQ(months.label(-1), "1969-12-01");
}

TEST(CohortCalendar, LocalMidnightDecidesTheDayInAZone) {
  Calendar berlin = calendar(PeriodUnit::day, "Europe/Berlin");
  EXPECT_EQ(label_of(berlin, "2026-03-28T23:30:00Z"), "2026-03-29");  // 00:30 CET
  int day = berlin.period_of(parse_instant("2026-03-29T12:00:00Z"));
  // Berlin springs forward on 2026-03-29: that day lasts 23 hours.
  EXPECT_EQ(berlin.start_of(day), parse_instant("2026-03-28T23:00:00Z"));
  EXPECT_EQ(berlin.start_of(day + 1), parse_instant("2026-03-29T22:00:00Z"));
}

TEST(CohortMatrix, FirstCohortsTakeEachUsersEarliestStartWhateverTheOrder) {
  Calendar days = calendar(PeriodUnit::day);
  Activity activity;
  // User 1 is seen on day 12 first, then (late data) on day 10.
  activity.add_start(12, 1);
  activity.add_return(12, 1);
  activity.add_start(10, 1);
  activity.add_return(10, 1);
  activity.add_start(11, 2);
  activity.add_return(11, 2);
  // As of the first instant of day 13: day 13 has begun, so it is shown, incomplete.
  Instant as_of = days.start_of(13);
  std::vector<Cell> cells = compute_matrix(activity, days, {}, as_of);
  ASSERT_EQ(cells.size(), 7u);  // cohort 10: offsets 0..3; cohort 11: offsets 0..2
  EXPECT_EQ(cells[0].cohort, 10);
  EXPECT_EQ(cells[0].size, 1u);
  EXPECT_EQ(cells[1].retained, 0u);  // user 1 not active on day 11
  EXPECT_EQ(cells[2].retained, 1u);  // but on day 12
  EXPECT_TRUE(cells[2].complete);
  EXPECT_FALSE(cells[3].complete);
  EXPECT_EQ(cells[4].cohort, 11);
  EXPECT_EQ(cells[4].size, 1u);
  EXPECT_EQ(cells[5].retained, 0u);
  MatrixOptions later{CohortType::first, Criterion::on_or_after, std::nullopt};
  EXPECT_EQ(compute_matrix(activity, days, later, as_of)[1].retained, 1u);
}

TEST(CohortMatrix, AveragesWeighBySizeAndSkipIncompleteCells) {
  std::vector<Cell> cells = {
      {1, 0, 10, 10, true}, {1, 1, 10, 4, true}, {2, 0, 30, 30, true}, {2, 1, 30, 3, false}};
  std::vector<Average> averages = average_by_offset(cells);
  ASSERT_EQ(averages.size(), 2u);
  EXPECT_EQ(averages[0].size, 40u);
  EXPECT_EQ(averages[1].cohorts, 1u);
  EXPECT_EQ(averages[1].retained, 4u);
}

TEST(CohortBreakdown, EachUserTakesTheValueOfTheirEarliestStartWhateverTheOrder) {
  Breakdown breakdown;
  std::uint32_t de = breakdown.value_id("DE");
  std::uint32_t at = breakdown.value_id("AT");
  EXPECT_EQ(breakdown.value_id("DE"), de);
  breakdown.add_start(0, parse_instant("2026-01-06T00:00:00Z"), at);
  breakdown.add_start(0, parse_instant("2026-01-05T00:00:00Z"), de);  // earlier: DE
  // At one instant the smaller value wins, and any value wins over none.
  breakdown.add_start(1, parse_instant("2026-01-05T00:00:00Z"), de);
  breakdown.add_start(1, parse_instant("2026-01-05T00:00:00Z"), Breakdown::no_value);
  breakdown.add_start(1, parse_instant("2026-01-05T00:00:00Z"), at);
  breakdown.add_start(3, parse_instant("2026-01-07T00:00:00Z"), Breakdown::no_value);
  std::vector<Breakdown::Group> groups = breakdown.groups();
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].value, "AT");
  EXPECT_EQ(groups[0].users.toString(), "{1}");
  EXPECT_EQ(groups[1].value, "DE");
  EXPECT_EQ(groups[1].users.toString(), "{0}");
  EXPECT_EQ(groups[2].value, std::nullopt);  // user 2 did no start event: in no group
  EXPECT_EQ(groups[2].users.toString(), "{3}");
}

TEST(CohortMatrix, AGroupsCohortsHoldItsUsersOnly) {
  Calendar days = calendar(PeriodUnit::day);
  Activity activity;
  activity.add_start(10, 1);
  activity.add_start(10, 2);
  activity.add_start(9, 2);  // user 2's first cohort is day 9
  activity.add_return(11, 1);
  Roaring group;
  group.add(2);
  group.add(1);
  std::vector<Cell> all = compute_matrix(activity, days, {}, days.start_of(12));
  Roaring only_one;
  only_one.add(1);
  std::vector<Cell> one = compute_matrix(activity, days, {}, days.start_of(12), &only_one);
  ASSERT_EQ(one.size(), 3u);  // cohort 10 alone: offsets 0..2
  EXPECT_EQ(one[0].cohort, 10);
  EXPECT_EQ(one[0].size, 1u);
  EXPECT_EQ(one[1].retained, 1u);
  EXPECT_EQ(compute_matrix(activity, days, {}, days.start_of(12), &group).size(), all.size());
}

TEST(CohortAliases, ChainsResolveToTheirEndAndACycleNamesItsClosingLine) {
  testing::TempDir directory;
  std::string path = directory.file("aliases.jsonl");
  // A long chain written from its end: each id must still reach "root".
  std::string text;
  for (int i = 1; i <= 200; ++i) {
    text += fmt::format("{{\"from\":\"id{}\",\"to\":\"{}\"}}\n", i,
                        i == 1 ? "root" : fmt::format("id{}", i - 1));
  }
  testing::write_text(path, text + "{\"from\":7,\"to\":\"id3\"}\n");
  Aliases aliases = Aliases::load(path);
  EXPECT_EQ(aliases.resolve("id200"), "root");
  EXPECT_EQ(aliases.resolve("7"), "root");
  EXPECT_EQ(aliases.resolve("root"), "root");
  EXPECT_EQ(aliases.resolve("stranger"), "stranger");
  EXPECT_EQ(aliases.size(), 201u);
  testing::write_text(path, text + "{\"from\":\"root\",\"to\":\"id150\"}\n");
  try {
    Aliases::load(path);
    FAIL() << "a cycle was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), exit_code::data);
    EXPECT_EQ(error.location(), path + ":201");
    EXPECT_TRUE(std::string(error.what()).starts_with("alias cycle: root -> id150 -> id149"))
        << error.what();
  }
}

TEST(CohortUsers, IdsAreDenseInFirstSeenOrder) {
  UserDictionary users;
  EXPECT_EQ(users.intern("b"), 0u);
  EXPECT_EQ(users.intern("a"), 1u);
  EXPECT_EQ(users.intern("b"), 0u);
  for (int i = 0; i < 1000; ++i) users.intern("user" + std::to_string(i));
  EXPECT_EQ(users.intern("a"), 1u);  // views into the dictionary survive its growth
  EXPECT_EQ(users.key_of(1001), "user999");
}

}  // namespace
}  // namespace sluice::cohort
