// retry_schedule: how long to wait after the k-th failure, the exponential schedule with
// jitter that backoff sleeps by and jobq reschedules failed jobs by. Pure arithmetic over a
// Random, so a seed reproduces every draw. Every quantity is a whole number of milliseconds.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "sluice/names.hpp"
#include "sluice/random.hpp"

namespace sluice::retry {

enum class Jitter { none, equal, full, decorrelated };

inline constexpr NameTable<Jitter, 4> jitter_names({{{"none", Jitter::none},
                                                     {"equal", Jitter::equal},
                                                     {"full", Jitter::full},
                                                     {"decorrelated", Jitter::decorrelated}}});

struct ScheduleSettings {
  std::int64_t base_ms = 1000;
  double multiplier = 2.0;  // >= 1
  std::int64_t cap_ms = 60000;
  Jitter jitter = Jitter::equal;
  std::int64_t min_delay_ms = 0;  // a floor under every sleep, applied after the jitter
  // A list of ceilings (backoff --delays): the ceiling of the k-th retry is the k-th entry,
  // the last one repeated; empty: the exponential ceiling. (Decorrelated jitter ignores it.)
  std::vector<std::int64_t> delays_ms;
};

// One wait between attempts, with the bounds it was drawn from.
struct Delay {
  long long attempt = 0;         // the attempt that follows the wait (2 for the first retry)
  long long after_failures = 0;  // failures so far (attempt - 1)
  std::int64_t ceiling_ms = 0;   // s = min(cap, base * multiplier^(failures-1)); decorrelated:
                                 // min(cap, 3 * previous wait)
  std::int64_t min_ms = 0;       // the wait lies in [min_ms, max_ms]
  std::int64_t max_ms = 0;
  std::int64_t sleep_ms = 0;
};

// min(cap, base * multiplier^(failures-1)) for failures >= 1, without overflow for any count.
std::int64_t exponential_ceiling_ms(const ScheduleSettings& settings, long long failures);

// The ceiling after `failures` failures: the listed delay or the exponential one.
std::int64_t ceiling_ms(const ScheduleSettings& settings, long long failures);

// The wait after `failures` failures when nothing of the previous wait is kept (every jitter
// but decorrelated, which needs a Schedule): drawn from the bounds of Schedule::peek_bounds.
std::int64_t delay_after_failures_ms(const ScheduleSettings& settings, long long failures,
                                     Random& random);

// The waits after consecutive failures. Keeps the previous wait (decorrelated jitter).
class Schedule {
 public:
  Schedule(const ScheduleSettings& settings, Random& random);
  // The wait after one more failure.
  Delay next();
  // The bounds of next() without drawing (and without advancing).
  [[nodiscard]] Delay peek_bounds() const;

 private:
  ScheduleSettings settings_;
  Random& random_;
  long long failures_ = 0;
  std::int64_t previous_ms_;
};

}  // namespace sluice::retry
