// The retry schedule: how long to sleep after the k-th failure. Pure arithmetic over a
// Random, so `backoff schedule` prints exactly what `backoff run` would sleep for a seed.
// Every quantity is a whole number of milliseconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "sluice/names.hpp"
#include "sluice/random.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::backoff {

enum class Jitter { none, equal, full, decorrelated };

inline constexpr NameTable<Jitter, 4> jitter_names({{{"none", Jitter::none},
                                                     {"equal", Jitter::equal},
                                                     {"full", Jitter::full},
                                                     {"decorrelated", Jitter::decorrelated}}});

// "none", "equal", "full", "decorrelated"; throws Error(2) for anything else.
Jitter parse_jitter(std::string_view text);
std::string_view jitter_name(Jitter jitter);

struct ScheduleSettings {
  std::int64_t base_ms = 1000;
  double multiplier = 2.0;  // >= 1
  std::int64_t cap_ms = 60000;
  Jitter jitter = Jitter::equal;
  std::int64_t min_delay_ms = 0;  // a floor under every sleep, applied after the jitter
  // --delays: the ceiling of the k-th retry is the k-th entry, the last one repeated; empty:
  // the exponential ceiling. (The CLI refuses decorrelated jitter with a list.)
  std::vector<std::int64_t> delays_ms;
};

// One sleep between attempts, with the bounds it was drawn from.
struct Delay {
  long long attempt = 0;         // the attempt that follows the sleep (2 for the first retry)
  long long after_failures = 0;  // failures so far (attempt - 1)
  std::int64_t ceiling_ms = 0;   // s = min(cap, base * multiplier^(failures-1)); decorrelated:
                                 // min(cap, 3 * previous sleep)
  std::int64_t min_ms = 0;       // the sleep lies in [min_ms, max_ms]
  std::int64_t max_ms = 0;
  std::int64_t sleep_ms = 0;
};

// min(cap, base * multiplier^(failures-1)) for failures >= 1, without overflow for any count.
std::int64_t exponential_ceiling_ms(const ScheduleSettings& settings, long long failures);

// The ceiling after `failures` failures: the listed delay (--delays) or the exponential one.
std::int64_t ceiling_ms(const ScheduleSettings& settings, long long failures);

// The largest text a command may leave in BACKOFF_RETRY_AFTER_FILE.
inline constexpr std::size_t max_requested_delay_bytes = 1024;

// The wait a command asked for in BACKOFF_RETRY_AFTER_FILE (see backoff(1), RETRY-AFTER), in
// whole milliseconds rounded up (so that backoff never comes back before the time asked
// for): seconds ("30", "1.5", "1.5s"), a duration ("1500ms", "2m", "1h30m"), an HTTP-date
// ("Sun, 06 Nov 1994 08:49:37 GMT") or an RFC 3339 / @EPOCH instant, which is counted from
// `now` (0 when it has passed). Surrounding whitespace is ignored; nothing but whitespace is
// no request (nullopt). Throws Error(65) saying what is wrong with any other text.
std::optional<std::int64_t> requested_delay_ms(std::string_view text, Instant now);

// The sleeps after consecutive failures. Keeps the previous sleep (decorrelated jitter).
class Schedule {
 public:
  Schedule(const ScheduleSettings& settings, Random& random);
  // The sleep after one more failure.
  Delay next();
  // The bounds of next() without drawing (and without advancing).
  [[nodiscard]] Delay peek_bounds() const;

 private:
  ScheduleSettings settings_;
  Random& random_;
  long long failures_ = 0;
  std::int64_t previous_ms_;
};

}  // namespace sluice::backoff
