#include "sluice/retry_schedule.hpp"

#include <algorithm>
#include <cmath>

namespace sluice::retry {

std::int64_t ceiling_ms(const ScheduleSettings& settings, long long failures) {
  if (settings.delays_ms.empty()) return exponential_ceiling_ms(settings, failures);
  auto last = static_cast<long long>(settings.delays_ms.size()) - 1;
  return settings.delays_ms[static_cast<std::size_t>(std::clamp(failures - 1, 0LL, last))];
}

std::int64_t exponential_ceiling_ms(const ScheduleSettings& settings, long long failures) {
  if (settings.base_ms <= 0) return 0;
  // In long double the power saturates to infinity instead of wrapping, and min() with the
  // cap then brings it back: attempt 10,000 sleeps the cap, not zero or a negative number.
  long double grown = static_cast<long double>(settings.base_ms) *
                      std::pow(static_cast<long double>(settings.multiplier),
                               static_cast<long double>(std::max(0LL, failures - 1)));
  long double capped = std::min(grown, static_cast<long double>(settings.cap_ms));
  return static_cast<std::int64_t>(std::floor(capped));
}

std::int64_t delay_after_failures_ms(const ScheduleSettings& settings, long long failures,
                                     Random& random) {
  std::int64_t ceiling = ceiling_ms(settings, failures);
  std::int64_t drawn = 0;
  switch (settings.jitter) {
    case Jitter::none:
      drawn = ceiling;
      break;
    case Jitter::equal:
      drawn = ceiling - ceiling / 2 + random.uniform_int(0, ceiling / 2);
      break;
    case Jitter::full:
    case Jitter::decorrelated:  // without a previous wait: full jitter under the ceiling
      drawn = random.uniform_int(0, ceiling);
      break;
  }
  return std::max(drawn, settings.min_delay_ms);
}

Schedule::Schedule(const ScheduleSettings& settings, Random& random)
    : settings_(settings), random_(random), previous_ms_(settings.base_ms) {}

Delay Schedule::peek_bounds() const {
  Delay delay;
  delay.after_failures = failures_ + 1;
  delay.attempt = delay.after_failures + 1;
  if (settings_.jitter == Jitter::decorrelated) {
    // min(cap, U(base, 3 * previous)): the draw's range, then the cap over both ends.
    delay.ceiling_ms = std::min(settings_.cap_ms, 3 * previous_ms_);
    delay.min_ms = std::min(settings_.cap_ms, settings_.base_ms);
    delay.max_ms = delay.ceiling_ms;
  } else {
    std::int64_t ceiling = ceiling_ms(settings_, delay.after_failures);
    delay.ceiling_ms = ceiling;
    delay.max_ms = ceiling;
    delay.min_ms = settings_.jitter == Jitter::none    ? ceiling
                   : settings_.jitter == Jitter::equal ? ceiling - ceiling / 2
                                                       : 0;
  }
  delay.min_ms = std::max(delay.min_ms, settings_.min_delay_ms);
  delay.max_ms = std::max(delay.max_ms, settings_.min_delay_ms);
  return delay;
}

Delay Schedule::next() {
  Delay delay = peek_bounds();
  std::int64_t drawn = 0;
  switch (settings_.jitter) {
    case Jitter::none:
      drawn = delay.ceiling_ms;
      break;
    case Jitter::equal:
      // s/2 + U(0, s/2), in whole milliseconds: never below half the ceiling.
      drawn =
          delay.ceiling_ms - delay.ceiling_ms / 2 + random_.uniform_int(0, delay.ceiling_ms / 2);
      break;
    case Jitter::full:
      drawn = random_.uniform_int(0, delay.ceiling_ms);
      break;
    case Jitter::decorrelated:
      drawn = std::min(settings_.cap_ms,
                       random_.uniform_int(std::min(settings_.base_ms, 3 * previous_ms_),
                                           std::max(settings_.base_ms, 3 * previous_ms_)));
      break;
  }
  delay.sleep_ms = std::max(drawn, settings_.min_delay_ms);
  previous_ms_ = delay.sleep_ms;
  ++failures_;
  return delay;
}

}  // namespace sluice::retry
