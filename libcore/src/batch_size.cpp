#include "sluice/batch_size.hpp"

#include <algorithm>
#include <cmath>

namespace sluice {

namespace {

constexpr double new_rate_weight = 0.25;

}  // namespace

BatchSizer::BatchSizer(std::int64_t initial, Duration target)
    : target_(target),
      size_(target.count() > 0 ? std::clamp(initial, minimum, maximum) : initial) {}

void BatchSizer::record(std::int64_t rows, Duration elapsed) {
  if (target_.count() <= 0 || rows <= 0) return;
  // A batch faster than the clock's resolution counts as one microsecond.
  double seconds = std::max(std::chrono::duration<double>(elapsed).count(), 1e-6);
  double rate = static_cast<double>(rows) / seconds;
  rows_per_second_ = rows_per_second_ == 0
                         ? rate
                         : new_rate_weight * rate + (1 - new_rate_weight) * rows_per_second_;
  double wanted = std::round(rows_per_second_ * std::chrono::duration<double>(target_).count());
  double bounded = std::clamp(wanted, static_cast<double>(minimum),
                              static_cast<double>(std::min(maximum, 2 * size_)));
  size_ = static_cast<std::int64_t>(bounded);
}

}  // namespace sluice
