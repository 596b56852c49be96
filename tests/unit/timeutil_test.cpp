#include "sluice/timeutil.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

#include "sluice/error.hpp"

namespace sluice {
namespace {

using namespace std::chrono;

TEST(Duration, ParsesSimpleUnits) {
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("90s"), seconds(90));
  EXPECT_EQ(parse_duration("10m"), minutes(10));
  EXPECT_EQ(parse_duration("24h"), hours(24));
  EXPECT_EQ(parse_duration("7d"), hours(24 * 7));
  EXPECT_EQ(parse_duration("0"), Duration::zero());
}

TEST(Duration, ParsesCompounds) {
  EXPECT_EQ(parse_duration("1h30m"), minutes(90));
  EXPECT_EQ(parse_duration("1d12h"), hours(36));
  EXPECT_EQ(parse_duration("1s500ms"), milliseconds(1500));
}

TEST(Duration, RejectsBadText) {
  for (const char* text : {"", "10", "-5s", "5x", "s", "1h30", "99999999999999999999d", "1.5s"}) {
    EXPECT_THROW(parse_duration(text), Error) << text;
  }
}

TEST(Duration, RefusesMoreThan36500Days) {
  EXPECT_EQ(parse_duration("36500d"), hours(24 * 36500));
  EXPECT_THROW(parse_duration("36501d"), Error);
}

TEST(Duration, FormatsInLargestExactUnits) {
  EXPECT_EQ(format_duration(minutes(90)), "1h30m");
  EXPECT_EQ(format_duration(milliseconds(250)), "250ms");
  EXPECT_EQ(format_duration(Duration::zero()), "0s");
  EXPECT_EQ(format_duration(hours(48)), "2d");
}

TEST(Instant, ParsesRfc3339Utc) {
  EXPECT_EQ(format_instant(parse_instant("2026-03-01T12:00:00Z")), "2026-03-01T12:00:00Z");
  EXPECT_EQ(parse_instant("1970-01-01T00:00:01Z").time_since_epoch(), seconds(1));
}

TEST(Instant, AppliesOffsets) {
  EXPECT_EQ(format_instant(parse_instant("2026-03-01T12:00:00+05:30")), "2026-03-01T06:30:00Z");
  EXPECT_EQ(format_instant(parse_instant("2026-03-01T00:00:00-01:00")), "2026-03-01T01:00:00Z");
}

TEST(Instant, KeepsFractions) {
  EXPECT_EQ(format_instant(parse_instant("2026-03-01T12:00:00.25Z")), "2026-03-01T12:00:00.250Z");
  EXPECT_EQ(format_instant(parse_instant("2026-03-01T12:00:00.000001Z")),
            "2026-03-01T12:00:00.000001Z");
}

// parse_instant remembers the last date it parsed: times that share a date, and times that
// follow one another with another date, good or bad, must each be read on their own.
TEST(Instant, ConsecutiveTimesAreEachReadWhole) {
  EXPECT_EQ(parse_instant("2026-03-01T23:59:59Z").time_since_epoch(), seconds(1772409599));
  EXPECT_EQ(parse_instant("2026-03-01T00:00:01Z").time_since_epoch(), seconds(1772323201));
  EXPECT_EQ(parse_instant("2026-03-02T00:00:00Z").time_since_epoch(), seconds(1772409600));
  EXPECT_THROW(parse_instant("2026-02-30T00:00:00Z"), Error);
  EXPECT_THROW(parse_instant("2026-02-30T00:00:00Z"), Error);
  EXPECT_EQ(parse_instant("2026-03-02T00:00:00Z").time_since_epoch(), seconds(1772409600));
  EXPECT_EQ(format_instant(parse_instant("2026-03-02T00:00:00+01:00")), "2026-03-01T23:00:00Z");
}

TEST(Instant, ParsesEpochSeconds) {
  EXPECT_EQ(format_instant(parse_instant("@1700000000")), "2023-11-14T22:13:20Z");
}

TEST(Instant, RejectsImpossibleDatesAndBadSyntax) {
  for (const char* text : {"2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-03-01T24:00:00Z",
                           "2026-03-01T12:00:00", "2026-03-01", "@", "@12x",
                           "2026-03-01T12:00:00.1234567Z", "2026-03-01T12:00:60Z"}) {
    EXPECT_THROW(parse_instant(text), Error) << text;
  }
}

TEST(Instant, EpochNumberRuleSeparatesSecondsFromMilliseconds) {
  EXPECT_EQ(format_instant(instant_from_epoch_number(1700000000)), "2023-11-14T22:13:20Z");
  EXPECT_EQ(format_instant(instant_from_epoch_number(1700000000123)), "2023-11-14T22:13:20.123Z");
}

// Found by fuzz/time_fuzz: "@2127236836800" was read as the year 69,379 and printed as a time
// no RFC 3339 reader (this one included) accepts.
TEST(Instant, AcceptsOnlyYearsThatRfc3339CanWrite) {
  EXPECT_EQ(format_instant(parse_instant("@253402300799")), "9999-12-31T23:59:59Z");
  EXPECT_EQ(format_instant(parse_instant("@-62167219200")), "0000-01-01T00:00:00Z");
  for (const char* text : {"@253402300800", "@-62167219201", "@2127236836800",
                           "0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-00:01"}) {
    EXPECT_EQ(sluice::testing::exit_status_of([&] { (void)parse_instant(text); }), exit_code::usage)
        << text;
  }
  EXPECT_EQ(format_instant(instant_from_epoch_number(253402300799999)),
            "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(sluice::testing::exit_status_of([&] { (void)instant_from_epoch_number(253402300800000); }),
            exit_code::data);
}

TEST(Date, ParsesAndValidates) {
  auto date = parse_date("2024-02-29");
  EXPECT_EQ(static_cast<int>(date.year()), 2024);
  EXPECT_THROW(parse_date("2026-02-29"), Error);
  EXPECT_THROW(parse_date("2026-2-01"), Error);
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

using std::chrono::year_month_day;

std::string plus_months(const char* anchor, int months, bool end_of_month = false) {
  return format_date(add_months(parse_date(anchor), months, end_of_month));
}

TEST(Calendar, AddMonthsClampsFromTheAnchorWithoutDrift) {
  EXPECT_EQ(plus_months("2026-01-31", 1), "2026-02-28");
  EXPECT_EQ(plus_months("2026-01-31", 2), "2026-03-31");  // not 28 Mar: no drift
  EXPECT_EQ(plus_months("2026-01-31", 3), "2026-04-30");
  EXPECT_EQ(plus_months("2028-01-31", 1), "2028-02-29");  // leap year
  EXPECT_EQ(plus_months("2026-01-29", 1), "2026-02-28");
  EXPECT_EQ(plus_months("2028-01-29", 1), "2028-02-29");
  EXPECT_EQ(plus_months("2026-01-30", 13), "2027-02-28");
  EXPECT_EQ(plus_months("2026-11-15", 2), "2027-01-15");
  EXPECT_EQ(plus_months("2026-03-31", -1), "2026-02-28");
}

TEST(Calendar, EndOfMonthKeepsMonthEndsOnMonthEnds) {
  EXPECT_EQ(plus_months("2026-02-28", 1, true), "2026-03-31");
  EXPECT_EQ(plus_months("2026-02-28", 1, false), "2026-03-28");
  EXPECT_EQ(plus_months("2026-04-30", 1, true), "2026-05-31");
  EXPECT_EQ(plus_months("2027-11-30", 3, true), "2028-02-29");
  EXPECT_EQ(plus_months("2026-04-29", 1, true), "2026-05-29");  // not a month end
}

TEST(Calendar, DaysBetweenCountsLeapDays) {
  EXPECT_EQ(days_between(parse_date("2028-02-01"), parse_date("2028-03-01")), 29);
  EXPECT_EQ(days_between(parse_date("2026-03-01"), parse_date("2026-02-01")), -28);
  EXPECT_EQ(days_between(parse_date("2026-01-01"), parse_date("2027-01-01")), 365);
}

TEST(InstantFromField, StringsAreRfc3339AndNumbersEpochSecondsOrMilliseconds) {
  EXPECT_EQ(instant_from_field("2026-03-01T12:00:00+01:00", false),
            parse_instant("2026-03-01T11:00:00Z"));
  EXPECT_EQ(instant_from_field("1772366400", true), parse_instant("2026-03-01T12:00:00Z"));
  EXPECT_EQ(instant_from_field("1772366400250", true), parse_instant("2026-03-01T12:00:00.250Z"));
}

TEST(InstantFromField, BadTextIsBadData) {
  for (auto [text, number] : {std::pair{"2026-02-30T00:00:00Z", false},
                              {"yesterday", false},
                              {"1.5", true},
                              {"1e9", true},
                              {"99999999999999999999", true}}) {
    try {
      instant_from_field(text, number);
      ADD_FAILURE() << text;
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), exit_code::data) << text;
    }
  }
}

}  // namespace
}  // namespace sluice
