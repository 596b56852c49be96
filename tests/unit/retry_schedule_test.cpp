#include "sluice/retry_schedule.hpp"

#include <gtest/gtest.h>

namespace sluice::retry {
namespace {

ScheduleSettings full_jitter(std::int64_t base_ms, std::int64_t cap_ms) {
  ScheduleSettings settings;
  settings.base_ms = base_ms;
  settings.cap_ms = cap_ms;
  settings.jitter = Jitter::full;
  return settings;
}

TEST(RetrySchedule, ExponentialCeilingDoublesUpToTheCap) {
  ScheduleSettings settings = full_jitter(15000, 6 * 3600 * 1000);
  EXPECT_EQ(exponential_ceiling_ms(settings, 1), 15000);
  EXPECT_EQ(exponential_ceiling_ms(settings, 2), 30000);
  EXPECT_EQ(exponential_ceiling_ms(settings, 10), 15000LL * 512);
  // The cap, 21,600 s, lies between 15 s * 2^10 = 15,360 s and 15 s * 2^11 = 30,720 s.
  EXPECT_EQ(exponential_ceiling_ms(settings, 11), 15000LL * 1024);
  EXPECT_EQ(exponential_ceiling_ms(settings, 12), 6LL * 3600 * 1000);
  EXPECT_EQ(exponential_ceiling_ms(settings, 10000), 6LL * 3600 * 1000);
}

TEST(RetrySchedule, ListedDelaysRepeatTheLast) {
  ScheduleSettings settings = full_jitter(1000, 60000);
  settings.delays_ms = {5, 7};
  EXPECT_EQ(ceiling_ms(settings, 1), 5);
  EXPECT_EQ(ceiling_ms(settings, 2), 7);
  EXPECT_EQ(ceiling_ms(settings, 9), 7);
}

TEST(RetrySchedule, FullJitterStaysWithinZeroAndTheCeiling) {
  ScheduleSettings settings = full_jitter(100, 1000);
  Random random(7);
  std::int64_t largest = 0;
  for (int draw = 0; draw < 2000; ++draw) {
    std::int64_t wait = delay_after_failures_ms(settings, 3, random);  // ceiling 400
    ASSERT_GE(wait, 0);
    ASSERT_LE(wait, 400);
    largest = std::max(largest, wait);
  }
  EXPECT_GT(largest, 300);  // the draws cover the range, not only its bottom
}

TEST(RetrySchedule, ScheduleAndSingleDrawsAgreeForASeed) {
  ScheduleSettings settings = full_jitter(100, 1000);
  Random first(42), second(42);
  Schedule schedule(settings, first);
  for (long long failures = 1; failures <= 8; ++failures) {
    EXPECT_EQ(schedule.next().sleep_ms, delay_after_failures_ms(settings, failures, second));
  }
}

TEST(RetrySchedule, EqualJitterNeverBelowHalfTheCeiling) {
  ScheduleSettings settings = full_jitter(1000, 60000);
  settings.jitter = Jitter::equal;
  Random random(1);
  Schedule schedule(settings, random);
  Delay delay = schedule.next();
  EXPECT_EQ(delay.min_ms, 500);
  EXPECT_EQ(delay.max_ms, 1000);
  EXPECT_GE(delay.sleep_ms, 500);
  EXPECT_LE(delay.sleep_ms, 1000);
}

}  // namespace
}  // namespace sluice::retry
