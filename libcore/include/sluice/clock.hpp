// clock: the one source of "now". Every time-dependent behaviour takes a Clock so that tests
// can fix the time with --now instead of sleeping.
#pragma once

#include <optional>

#include "sluice/timeutil.hpp"

namespace sluice {

class Clock {
 public:
  // The system clock.
  Clock() = default;
  // A clock frozen at `fixed` (what --now sets).
  explicit Clock(Instant fixed) : fixed_(fixed) {}

  [[nodiscard]] Instant now() const;

 private:
  std::optional<Instant> fixed_;
};

}  // namespace sluice
