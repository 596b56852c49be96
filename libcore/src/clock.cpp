#include "sluice/clock.hpp"

namespace sluice {

Instant Clock::now() const {
  if (fixed_) return *fixed_;
  if (source_) return source_();
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

}  // namespace sluice
