// The retry schedule: how long to sleep after the k-th failure (libcore's retry_schedule), so
// `backoff schedule` prints exactly what `backoff run` would sleep for a seed; and the waits a
// command may ask for. Every quantity is a whole number of milliseconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "sluice/retry_schedule.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::backoff {

// The schedule itself lives in libcore (retry_schedule), shared with jobq.
using retry::ceiling_ms;
using retry::Delay;
using retry::exponential_ceiling_ms;
using retry::Jitter;
using retry::jitter_names;
using retry::Schedule;
using retry::ScheduleSettings;

// "none", "equal", "full", "decorrelated"; throws Error(2) for anything else.
Jitter parse_jitter(std::string_view text);
std::string_view jitter_name(Jitter jitter);

// The largest text a command may leave in BACKOFF_RETRY_AFTER_FILE.
inline constexpr std::size_t max_requested_delay_bytes = 1024;

// The wait a command asked for in BACKOFF_RETRY_AFTER_FILE (see backoff(1), RETRY-AFTER), in
// whole milliseconds rounded up (so that backoff never comes back before the time asked
// for): seconds ("30", "1.5", "1.5s"), a duration ("1500ms", "2m", "1h30m"), an HTTP-date
// ("Sun, 06 Nov 1994 08:49:37 GMT") or an RFC 3339 / @EPOCH instant, which is counted from
// `now` (0 when it has passed). Surrounding whitespace is ignored; nothing but whitespace is
// no request (nullopt). Throws Error(65) saying what is wrong with any other text.
std::optional<std::int64_t> requested_delay_ms(std::string_view text, Instant now);

}  // namespace sluice::backoff
