// clock: the one source of "now". Every time-dependent behaviour takes a Clock so that tests
// can fix the time with --now instead of sleeping.
#pragma once

#include <functional>
#include <optional>

#include "sluice/timeutil.hpp"

namespace sluice {

class Clock {
 public:
  // The system clock.
  Clock() = default;
  // A clock frozen at `fixed` (what --now sets).
  explicit Clock(Instant fixed) : fixed_(fixed) {}
  // A clock read from `source` (a state server's clock).
  explicit Clock(std::function<Instant()> source) : source_(std::move(source)) {}

  [[nodiscard]] Instant now() const;
  // Whether --now fixed it.
  [[nodiscard]] bool is_fixed() const { return fixed_.has_value(); }

 private:
  std::optional<Instant> fixed_;
  std::function<Instant()> source_;
};

}  // namespace sluice
