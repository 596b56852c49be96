#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "funnel_engine.hpp"
#include "funnel_run.hpp"
#include "sluice/error.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::funnel {
namespace {

std::int64_t at(std::string_view text) {
  return parse_instant(text).time_since_epoch().count();
}
constexpr std::int64_t second = 1'000'000;

std::size_t level(std::vector<Hit> hits, std::size_t steps, std::int64_t window,
                  Mode mode = Mode::standard) {
  return walk_funnel(hits, steps, window, mode).level;
}

// ClickHouse's documentation of windowFunnel: user 1's events 1003, 1007, 1009 and 1010 (out of
// order in the table), steps eventID = 1003, 1009, 1007, 1010: level 4.
TEST(WindowFunnel, ClickHouseDocumentationExampleReachesLevelFour) {
  std::vector<Hit> hits{{at("2019-01-29T10:00:00Z"), 1},
                        {at("2019-01-31T09:00:00Z"), 3},
                        {at("2019-01-30T08:00:00Z"), 2},
                        {at("2019-02-01T08:00:00Z"), 4}};
  EXPECT_EQ(level(hits, 4, parse_duration("36500d").count()), 4u);
  // With a one-day window only 1003 -> 1009 (22 h) fits.
  EXPECT_EQ(level(hits, 4, parse_duration("1d").count()), 2u);
}

// The documentation of strict_order: "in the case of A->B->D->C, it stops finding A->B->C at
// the D and the max event level is 2"; without it the level is 3.
TEST(WindowFunnel, StrictOrderStopsAtAnInterveningEvent) {
  std::vector<Hit> hits{{1 * second, 1}, {2 * second, 2}, {3 * second, 0}, {4 * second, 3}};
  EXPECT_EQ(level(hits, 3, 3600 * second, Mode::strict_order), 2u);
  std::vector<Hit> without_other{{1 * second, 1}, {2 * second, 2}, {4 * second, 3}};
  EXPECT_EQ(level(without_other, 3, 3600 * second), 3u);
}

// ClickHouse's test 01646_fix_window_funnel_inconistency: steps 1004, 1003, 1002; 1004 and 1003
// at the same second, 1002 a day earlier: level 2 whichever was inserted first (equal times
// are taken in step order).
TEST(WindowFunnel, EqualTimesCountInStepOrderWhateverTheInputOrder) {
  std::int64_t day = 86400 * second;
  std::vector<Hit> first{{day, 1}, {day, 2}, {0, 3}};
  std::vector<Hit> second_order{{day, 2}, {day, 1}, {0, 3}};
  EXPECT_EQ(level(first, 3, 36500 * day), 2u);
  EXPECT_EQ(level(second_order, 3, 36500 * day), 2u);
}

TEST(WindowFunnel, TheWindowIsInclusiveAndStartsAtTheChainsStepOne) {
  std::vector<Hit> hits{{0, 1}, {5 * second, 2}, {10 * second, 3}};
  EXPECT_EQ(level(hits, 3, 10 * second), 3u);
  EXPECT_EQ(level(hits, 3, 10 * second - 1), 2u);
  // A later step-1 event starts a new chain that can go on where the first ran out of time.
  std::vector<Hit> restart{{0, 1}, {20 * second, 1}, {25 * second, 2}, {29 * second, 3}};
  Progress progress = walk_funnel(restart, 3, 10 * second, Mode::standard);
  EXPECT_EQ(progress.level, 3u);
  EXPECT_EQ(progress.time_to_step[2], 9 * second);
}

TEST(WindowFunnel, ASkippedStepStopsTheChainThere) {
  std::vector<Hit> hits{{0, 1}, {1 * second, 3}, {2 * second, 4}};
  EXPECT_EQ(level(hits, 4, 3600 * second), 1u);
}

TEST(WindowFunnel, StrictIncreaseNeedsALaterTimeThanThePreviousStep) {
  std::vector<Hit> hits{{0, 1}, {0, 2}, {1 * second, 3}};
  EXPECT_EQ(level(hits, 3, 3600 * second), 3u);
  EXPECT_EQ(level(hits, 3, 3600 * second, Mode::strict_increase), 1u);
}

TEST(WindowFunnel, StrictDedupStopsAtARepeatedStep) {
  std::vector<Hit> hits{{0, 1}, {1 * second, 2}, {2 * second, 2}, {3 * second, 3}};
  EXPECT_EQ(level(hits, 3, 3600 * second), 3u);
  EXPECT_EQ(level(hits, 3, 3600 * second, Mode::strict_dedup), 2u);
  // A repeated step 1 starts a new chain in every mode.
  std::vector<Hit> again{{0, 1}, {1 * second, 1}, {2 * second, 2}};
  EXPECT_EQ(level(again, 2, 3600 * second, Mode::strict_dedup), 2u);
}

TEST(WindowFunnel, TimeToAStepIsFromTheFirstChainThatReachedIt) {
  std::vector<Hit> hits{
      {0, 1}, {7 * second, 2}, {8 * second, 1}, {9 * second, 2}, {30 * second, 3}};
  Progress progress = walk_funnel(hits, 3, 60 * second, Mode::standard);
  EXPECT_EQ(progress.level, 3u);
  EXPECT_EQ(progress.time_to_step[0], 0);
  EXPECT_EQ(progress.time_to_step[1], 7 * second);
  EXPECT_EQ(progress.time_to_step[2], 22 * second);  // the chain started at 8 s
}

TEST(NearestRank, TakesTheCeilingRank) {
  std::vector<std::int64_t> values{5, 1, 4, 2, 3};
  EXPECT_EQ(nearest_rank(values, 0.5), 3);
  EXPECT_EQ(nearest_rank(values, 0.9), 5);
  std::vector<std::int64_t> four{1, 2, 3, 4};
  EXPECT_EQ(nearest_rank(four, 0.5), 2);
  std::vector<std::int64_t> none;
  EXPECT_EQ(nearest_rank(none, 0.5), std::nullopt);
}

TEST(ParseSteps, NamesTheStepThatDoesNotParse) {
  try {
    parse_steps({"event=home", "event"});
    ADD_FAILURE();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), exit_code::usage);
    EXPECT_EQ(std::string(error.what()),
              "--steps: step 2 'event': 'event' has no operator (=, !=, >, >=, <, <=)");
  }
}

}  // namespace
}  // namespace sluice::funnel
