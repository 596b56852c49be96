#include "sluice/timezone.hpp"

#include <gtest/gtest.h>

#include "sluice/timeutil.hpp"
#include "test_support.hpp"

namespace sluice {
namespace {

using namespace std::chrono;
using testing::error_message_of;
using testing::exit_status_of;

sys_days day(const char* text) {
  return sys_days(parse_date(text));
}

TEST(TimeZone, UtcDaysAreUtcDates) {
  TimeZone utc = TimeZone::utc();
  EXPECT_EQ(utc.local_day(parse_instant("2026-03-08T23:59:59.999Z")), day("2026-03-08"));
  EXPECT_EQ(utc.local_day(parse_instant("1969-12-31T23:59:59Z")), day("1969-12-31"));
  EXPECT_EQ(utc.start_of_day(day("2026-03-08")), parse_instant("2026-03-08T00:00:00Z"));
  EXPECT_TRUE(TimeZone::named("--tz", "UTC").is_utc());
}

// New York springs forward at 02:00 on 2026-03-08 (EST -5 to EDT -4) and falls back at 02:00
// on 2026-11-01: the local day boundaries move with the offset.
TEST(TimeZone, LocalDaysFollowDaylightSavingChanges) {
  TimeZone new_york = TimeZone::named("--tz", "America/New_York");
  EXPECT_EQ(new_york.local_day(parse_instant("2026-03-08T04:59:59Z")), day("2026-03-07"));
  EXPECT_EQ(new_york.local_day(parse_instant("2026-03-08T05:00:00Z")), day("2026-03-08"));
  EXPECT_EQ(new_york.local_day(parse_instant("2026-03-09T03:59:59Z")), day("2026-03-08"));
  EXPECT_EQ(new_york.local_day(parse_instant("2026-03-09T04:00:00Z")), day("2026-03-09"));
  EXPECT_EQ(new_york.start_of_day(day("2026-03-08")), parse_instant("2026-03-08T05:00:00Z"));
  EXPECT_EQ(new_york.start_of_day(day("2026-03-09")), parse_instant("2026-03-09T04:00:00Z"));
  EXPECT_EQ(new_york.start_of_day(day("2026-11-02")), parse_instant("2026-11-02T05:00:00Z"));
  // Back across a change after the cache was filled later in time.
  EXPECT_EQ(new_york.local_day(parse_instant("2026-01-01T04:59:59Z")), day("2025-12-31"));
}

// Local wall-clock times: 09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer.
TEST(TimeZone, LocalTimesShowTheWallClock) {
  TimeZone new_york = TimeZone::named("--tz", "America/New_York");
  EXPECT_EQ(new_york.local_time(parse_instant("2026-01-05T14:00:00Z")),
            parse_instant("2026-01-05T09:00:00Z"));
  EXPECT_EQ(new_york.local_time(parse_instant("2026-07-06T13:00:00Z")),
            parse_instant("2026-07-06T09:00:00Z"));
  EXPECT_EQ(TimeZone::utc().local_time(parse_instant("2026-07-06T13:00:00Z")),
            parse_instant("2026-07-06T13:00:00Z"));
}

// Chile moves its clocks from 00:00 to 01:00 on 2026-09-06: that day has no midnight, and it
// starts at 01:00 -03, which is 04:00 UTC.
TEST(TimeZone, ADayWithoutMidnightStartsWhenTheGapEnds) {
  TimeZone santiago = TimeZone::named("--tz", "America/Santiago");
  EXPECT_EQ(santiago.start_of_day(day("2026-09-06")), parse_instant("2026-09-06T04:00:00Z"));
  EXPECT_EQ(santiago.local_day(parse_instant("2026-09-06T03:59:59Z")), day("2026-09-05"));
  EXPECT_EQ(santiago.local_day(parse_instant("2026-09-06T04:00:00Z")), day("2026-09-06"));
}

TEST(TimeZone, UnknownNamesAreUsageErrorsNamingTheOption) {
  EXPECT_EQ(exit_status_of([] { TimeZone::named("--tz", "Mars/Olympus"); }), 2);
  EXPECT_NE(error_message_of([] { TimeZone::named("--tz", "Europe/Berln"); }).find("--tz"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice
