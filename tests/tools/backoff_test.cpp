#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "backoff_budget.hpp"
#include "backoff_output.hpp"
#include "backoff_run.hpp"
#include "backoff_schedule.hpp"
#include "backoff_simulate.hpp"
#include "test_support.hpp"

namespace sluice::backoff {
namespace {

using sluice::testing::exit_status_of;
using sluice::testing::TempDir;

ScheduleSettings settings_with(Jitter jitter) {
  ScheduleSettings settings;
  settings.base_ms = 100;
  settings.multiplier = 2.0;
  settings.cap_ms = 5000;
  settings.jitter = jitter;
  return settings;
}

TEST(BackoffSchedule, CeilingGrowsByTheMultiplierUpToTheCap) {
  ScheduleSettings settings = settings_with(Jitter::none);
  EXPECT_EQ(exponential_ceiling_ms(settings, 1), 100);
  EXPECT_EQ(exponential_ceiling_ms(settings, 2), 200);
  EXPECT_EQ(exponential_ceiling_ms(settings, 6), 3200);
  EXPECT_EQ(exponential_ceiling_ms(settings, 7), 5000);
  settings.multiplier = 1.5;
  EXPECT_EQ(exponential_ceiling_ms(settings, 3), 225);  // 100 * 1.5^2
}

TEST(BackoffSchedule, CapHoldsAtAttemptTenThousandWithoutOverflow) {
  for (Jitter jitter : {Jitter::none, Jitter::equal, Jitter::full, Jitter::decorrelated}) {
    Random random(5);
    ScheduleSettings settings = settings_with(jitter);
    settings.multiplier = 10.0;
    Schedule schedule(settings, random);
    for (int failure = 1; failure <= 10000; ++failure) {
      Delay delay = schedule.next();
      ASSERT_GE(delay.sleep_ms, 0) << jitter_name(jitter) << " failure " << failure;
      ASSERT_LE(delay.sleep_ms, 5000) << jitter_name(jitter) << " failure " << failure;
      if (jitter != Jitter::decorrelated && failure > 5) {
        ASSERT_EQ(delay.ceiling_ms, 5000);
      }
    }
  }
}

// Every sleep of every mode lies within the bounds the schedule states, and those bounds are
// the documented formulas, recomputed here independently.
TEST(BackoffSchedule, EverySleepLiesWithinItsDocumentedBounds) {
  for (Jitter jitter : {Jitter::none, Jitter::equal, Jitter::full, Jitter::decorrelated}) {
    for (std::uint64_t seed = 0; seed < 200; ++seed) {
      Random random(seed);
      ScheduleSettings settings = settings_with(jitter);
      settings.base_ms = 7;  // odd, so that halves round
      Schedule schedule(settings, random);
      std::int64_t previous = settings.base_ms;
      for (long long failures = 1; failures <= 12; ++failures) {
        Delay delay = schedule.next();
        ASSERT_EQ(delay.after_failures, failures);
        ASSERT_EQ(delay.attempt, failures + 1);
        std::int64_t ceiling = std::min<std::int64_t>(5000, 7LL << (failures - 1));
        std::int64_t low = 0, high = ceiling;
        if (jitter == Jitter::none) low = ceiling;
        if (jitter == Jitter::equal) low = (ceiling + 1) / 2;  // never under half the ceiling
        if (jitter == Jitter::decorrelated) {
          low = settings.base_ms;
          high = std::min<std::int64_t>(5000, 3 * previous);
        }
        ASSERT_EQ(delay.min_ms, low) << jitter_name(jitter);
        ASSERT_EQ(delay.max_ms, high) << jitter_name(jitter);
        ASSERT_GE(delay.sleep_ms, low) << jitter_name(jitter) << " seed " << seed;
        ASSERT_LE(delay.sleep_ms, high) << jitter_name(jitter) << " seed " << seed;
        previous = delay.sleep_ms;
      }
    }
  }
}

TEST(BackoffSchedule, MinDelayFloorsEverySleep) {
  Random random(1);
  ScheduleSettings settings = settings_with(Jitter::full);
  settings.min_delay_ms = 150;
  Schedule schedule(settings, random);
  for (int failure = 0; failure < 1000; ++failure) {
    Delay delay = schedule.next();
    ASSERT_GE(delay.sleep_ms, 150);
    ASSERT_GE(delay.min_ms, 150);
  }
}

TEST(BackoffSchedule, SeedReproducesTheSleepsExactly) {
  for (Jitter jitter : {Jitter::equal, Jitter::full, Jitter::decorrelated}) {
    Random first(99), second(99), other(100);
    Schedule a(settings_with(jitter), first), b(settings_with(jitter), second),
        c(settings_with(jitter), other);
    bool differs = false;
    for (int failure = 0; failure < 50; ++failure) {
      auto sleep = a.next().sleep_ms;
      ASSERT_EQ(sleep, b.next().sleep_ms);
      differs |= sleep != c.next().sleep_ms;
    }
    EXPECT_TRUE(differs) << jitter_name(jitter);
  }
}

double mean_sleep(Jitter jitter, std::int64_t ceiling, int draws) {
  Random random(2026);
  ScheduleSettings settings{ceiling, 1.0, ceiling, jitter, 0};  // multiplier 1: fixed ceiling
  Schedule schedule(settings, random);
  double sum = 0;
  for (int draw = 0; draw < draws; ++draw) sum += static_cast<double>(schedule.next().sleep_ms);
  return sum / draws;
}

TEST(BackoffSchedule, FullJitterMeanIsHalfTheCeiling) {
  EXPECT_NEAR(mean_sleep(Jitter::full, 10000, 100000), 5000.0, 50.0);
}

TEST(BackoffSchedule, EqualJitterMeanIsThreeQuartersOfTheCeiling) {
  EXPECT_NEAR(mean_sleep(Jitter::equal, 10000, 100000), 7500.0, 75.0);
}

TEST(BackoffSchedule, RejectsUnknownJitter) {
  EXPECT_EQ(exit_status_of([] { parse_jitter("random"); }), 2);
  EXPECT_EQ(parse_jitter("decorrelated"), Jitter::decorrelated);
}

TEST(BackoffSchedule, DelayListIsSleptInTurnAndItsLastDelayRepeats) {
  Random random(1);
  ScheduleSettings settings = settings_with(Jitter::none);
  settings.delays_ms = {1000, 5000, 30000};
  Schedule schedule(settings, random);
  std::vector<std::int64_t> sleeps;
  for (int failure = 0; failure < 5; ++failure) sleeps.push_back(schedule.next().sleep_ms);
  EXPECT_EQ(sleeps, (std::vector<std::int64_t>{1000, 5000, 30000, 30000, 30000}));
  // --base, --multiplier and --cap have no say: 30s stays above the 5s cap.
  EXPECT_EQ(ceiling_ms(settings, 10000), 30000);
  EXPECT_EQ(ceiling_ms(settings, 1), 1000);
}

TEST(BackoffSchedule, JitterOnADelayListDrawsBelowEachDelay) {
  for (Jitter jitter : {Jitter::equal, Jitter::full}) {
    Random random(8);
    ScheduleSettings settings = settings_with(jitter);
    settings.delays_ms = {101, 7};
    settings.min_delay_ms = 2;
    Schedule schedule(settings, random);
    Delay first = schedule.next();
    // equal: [101 - 50, 101]; full: [0, 101], floored at the 2 ms --min-delay.
    EXPECT_EQ(first.min_ms, jitter == Jitter::equal ? 51 : 2) << jitter_name(jitter);
    EXPECT_EQ(first.max_ms, 101);
    for (int failure = 0; failure < 100; ++failure) {
      Delay delay = schedule.next();
      ASSERT_EQ(delay.ceiling_ms, 7);
      ASSERT_GE(delay.sleep_ms, jitter == Jitter::equal ? 4 : 2);
      ASSERT_LE(delay.sleep_ms, 7);
    }
  }
}

// RETRY-AFTER in backoff(1): each accepted form, with values worked out by hand (the HTTP-date
// instants from Python's email.utils.parsedate and calendar.timegm).
TEST(BackoffRetryAfter, AcceptsSecondsDurationsAndInstants) {
  Instant now = Instant(std::chrono::seconds(784111777));  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(requested_delay_ms("30", now), 30000);
  EXPECT_EQ(requested_delay_ms("0\n", now), 0);
  EXPECT_EQ(requested_delay_ms(" 1.5 \r\n", now), 1500);
  EXPECT_EQ(requested_delay_ms("1.5s", now), 1500);
  EXPECT_EQ(requested_delay_ms("0.0001", now), 1);  // rounded up, never sooner than asked
  EXPECT_EQ(requested_delay_ms("1500ms", now), 1500);
  EXPECT_EQ(requested_delay_ms("2m", now), 120000);
  EXPECT_EQ(requested_delay_ms("1h30m", now), 5400000);
  EXPECT_EQ(requested_delay_ms("Sun, 06 Nov 1994 08:50:07 GMT", now), 30000);
  EXPECT_EQ(requested_delay_ms("Sun, 06 Nov 1994 08:49:07 GMT", now), 0);  // passed
  EXPECT_EQ(requested_delay_ms("1994-11-06T08:49:39.250Z", now), 2250);
  EXPECT_EQ(requested_delay_ms("1994-11-06T09:49:37+01:00", now), 0);  // the same instant
  EXPECT_EQ(requested_delay_ms("@784111787", now), 10000);
  Instant leap_day = Instant(std::chrono::seconds(1709251199 - 5));
  EXPECT_EQ(requested_delay_ms("Thu, 29 Feb 2024 23:59:59 GMT", leap_day), 5000);
}

TEST(BackoffRetryAfter, WhitespaceOnlyIsNoRequest) {
  EXPECT_EQ(requested_delay_ms("", Instant{}), std::nullopt);
  EXPECT_EQ(requested_delay_ms(" \n\t", Instant{}), std::nullopt);
}

TEST(BackoffRetryAfter, AnythingElseIsBadDataNamingTheText) {
  for (std::string_view text :
       {"soon", "-5", "1.5m", "1.1234567", "2.", "90x", "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
        "Sun, 06 Nov 1994 24:00:00 GMT", "1994-11-06T08:49:37", "99999999999", "36501d",
        "9999-12-31T23:59:59Z", "Fri, 31 Dec 9999 23:59:59 GMT"}) {
    try {
      (void)requested_delay_ms(text, Instant{});
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), exit_code::data) << text;
      EXPECT_NE(std::string(error.what()).find(text.substr(0, 4)), std::string::npos) << text;
    }
  }
  EXPECT_EQ(exit_status_of([] { (void)requested_delay_ms(std::string(1025, '1'), Instant{}); }),
            65);
}

std::vector<std::string> lines_of(const std::vector<std::string_view>& chunks,
                                  std::size_t max_line_bytes = 64) {
  std::vector<std::string> lines;
  LineSplitter splitter(max_line_bytes,
                        [&lines](std::string_view line) { lines.emplace_back(line); });
  for (std::string_view chunk : chunks) splitter.feed(chunk);
  splitter.finish();
  return lines;
}

TEST(BackoffOutput, LinesAreWholeWhateverTheChunksAndLoseTheirLineEnds) {
  using Lines = std::vector<std::string>;
  EXPECT_EQ(lines_of({"rate li", "mit\nnext\r\n", "\nlast"}),
            (Lines{"rate limit", "next", "", "last"}));
  EXPECT_EQ(lines_of({"a\nb\n"}), (Lines{"a", "b"}));
  EXPECT_EQ(lines_of({}), Lines{});
  EXPECT_EQ(lines_of({std::string_view("nul\0byte\n", 9)}), Lines{std::string("nul\0byte", 8)});
}

TEST(BackoffOutput, ALongLineIsCutIntoPiecesOfTheLimitSoMemoryStaysBounded) {
  std::string megabyte(1 << 20, 'x');
  std::vector<std::size_t> sizes;
  LineSplitter splitter(1000, [&sizes](std::string_view line) { sizes.push_back(line.size()); });
  for (std::size_t at = 0; at < megabyte.size(); at += 4096) {
    splitter.feed(std::string_view(megabyte).substr(at, 4096));
    // Never more than one piece held back: every full piece has been passed on already.
    ASSERT_EQ(sizes.size(), (at + 4096) / 1000);
  }
  splitter.finish();
  EXPECT_EQ(sizes.size(), 1049u);  // 1048576 = 1048 * 1000 + 576
  EXPECT_EQ(sizes.back(), 576u);
  // A line that ends exactly at a cut gives no extra empty line.
  using Lines = std::vector<std::string>;
  EXPECT_EQ(lines_of({"abcd\nefgh", "ij\n"}, 4), (Lines{"abcd", "efgh", "ij"}));
}

TEST(BackoffOutput, PatternsAreExtendedRegularExpressionsMatchedAnywhere) {
  OutputPattern pattern("--retry-on-output", "rate limit|HTTP/[0-9.]+ 5[0-9]{2}");
  EXPECT_TRUE(pattern.matches("error: rate limit exceeded"));
  EXPECT_TRUE(pattern.matches("< HTTP/1.1 503 Service Unavailable"));
  EXPECT_FALSE(pattern.matches("< HTTP/1.1 200 OK"));
  EXPECT_FALSE(pattern.matches("Rate Limit"));  // case matters
  OutputPattern anchored("--stop-on-output", "^done$");
  EXPECT_TRUE(anchored.matches("done"));
  EXPECT_FALSE(anchored.matches("not done"));
  // The whole line is matched, past a NUL byte.
  EXPECT_TRUE(pattern.matches(std::string_view("\0rate limit", 11)));
  EXPECT_EQ(exit_status_of([] { OutputPattern bad("--retry-on-output", "a{2"); }), 2);
}

// The budget's rules on each backend (the PostgreSQL instances skip without a test server).
class BackoffBudget : public ::testing::TestWithParam<db::Backend> {
 protected:
  void SetUp() override {
    if (!state_.available()) GTEST_SKIP() << "SLUICE_TEST_PG_URL is not set (scripts/test sets it)";
  }
  Budget open(const std::string& key, Duration busy_timeout = std::chrono::seconds(5)) {
    db::OpenOptions options;
    options.busy_timeout = busy_timeout;
    return Budget(state_.location(), options, key);
  }
  sluice::testing::StateLocation state_{GetParam()};
};

TEST_P(BackoffBudget, NewKeyStartsFullAndRetriesDrainIt) {
  Budget budget = open("api");
  EXPECT_EQ(budget.tokens(), 500);
  for (int retry = 0; retry < 100; ++retry) ASSERT_TRUE(budget.take(5)) << retry;
  EXPECT_EQ(budget.tokens(), 0);
  EXPECT_FALSE(budget.take(5));
  EXPECT_EQ(budget.tokens(), 0);
}

TEST_P(BackoffBudget, ACostAboveTheCapacityIsNeverPaidAndTakesNothing) {
  Budget budget = open("api");
  EXPECT_FALSE(budget.take(501));
  EXPECT_TRUE(budget.take(500));
  EXPECT_EQ(budget.tokens(), 0);
}

TEST_P(BackoffBudget, RefundsNeverExceedTheCapacity) {
  Budget budget = open("api");
  ASSERT_TRUE(budget.take(10));
  budget.refund(3);
  EXPECT_EQ(budget.tokens(), 493);
  budget.refund(100);
  EXPECT_EQ(budget.tokens(), 500);
}

TEST_P(BackoffBudget, KeysAreIndependentAndSharedThroughTheState) {
  Budget first = open("a");
  Budget second = open("a");
  Budget other = open("b");
  ASSERT_TRUE(first.take(200));
  ASSERT_TRUE(second.take(200));
  EXPECT_FALSE(first.take(200));
  EXPECT_EQ(second.tokens(), 100);
  EXPECT_EQ(other.tokens(), 500);
}

TEST_P(BackoffBudget, ConcurrentTakersNeverOverdraw) {
  { Budget create = open("k"); }
  std::vector<int> granted(4, 0);
  std::vector<std::thread> threads;
  for (int worker = 0; worker < 4; ++worker) {
    threads.emplace_back([&, worker] {
      Budget budget = open("k", std::chrono::seconds(30));
      while (budget.take(5)) ++granted[static_cast<std::size_t>(worker)];
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(granted[0] + granted[1] + granted[2] + granted[3], 100);
}

INSTANTIATE_TEST_SUITE_P(Backends, BackoffBudget,
                         ::testing::Values(db::Backend::sqlite, db::Backend::postgresql),
                         [](const auto& info) {
                           return sluice::testing::backend_name(info.param);
                         });

TEST(BackoffRun, ValidateRejectsContradictions) {
  RunSettings settings;
  EXPECT_EQ(exit_status_of([&] { validate(settings); }), 2);  // no command
  settings.command = {"true"};
  settings.attempts = 0;
  EXPECT_EQ(exit_status_of([&] { validate(settings); }), 2);  // unlimited without a deadline
  settings.max_time = std::chrono::seconds(1);
  EXPECT_EQ(exit_status_of([&] { validate(settings); }), 0);
}

TEST(BackoffSimulate, IsDeterministicForASeed) {
  SimulationSettings settings;
  settings.clients = 20;
  settings.runs = 5;
  settings.seed = 3;
  auto first = simulate(settings, "full");
  auto second = simulate(settings, "full");
  EXPECT_EQ(first.mean_calls, second.mean_calls);
  EXPECT_EQ(first.mean_completion_ms, second.mean_completion_ms);
}

TEST(BackoffSimulate, OneClientWritesOnceAfterThreeNetworkDelays) {
  SimulationSettings settings;
  settings.clients = 1;
  settings.runs = 50;
  settings.network_deviation_ms = 0.0;  // every delay exactly 10 ms
  auto result = simulate(settings, "none");
  EXPECT_EQ(result.mean_calls, 1.0);
  EXPECT_EQ(result.mean_completion_ms, 40.0);  // read, response, write, response
}

// The blog post's qualitative result: jitter cuts the work a contended resource sees.
TEST(BackoffSimulate, JitterNeedsFewerCallsThanNoBackoffOrPlainExponential) {
  SimulationSettings settings;
  settings.clients = 50;
  settings.runs = 20;
  settings.seed = 1;
  double none = simulate(settings, "none").mean_calls;
  double expo = simulate(settings, "expo").mean_calls;
  double full = simulate(settings, "full").mean_calls;
  EXPECT_LT(expo, none);
  EXPECT_LT(full, expo);
  EXPECT_GE(full, 50.0);  // every client writes at least once
}

TEST(BackoffSimulate, StrategiesExpandAndUnknownOnesAreRejected) {
  EXPECT_EQ(simulation_strategies("all").size(), 5u);
  EXPECT_EQ(simulation_strategies("expo"), std::vector<std::string>{"expo"});
  EXPECT_EQ(exit_status_of([] { simulation_strategies("linear"); }), 2);
}

}  // namespace
}  // namespace sluice::backoff
