// cohort_rolling: retention in rolling windows, as Amplitude and Mixpanel count it: a user's
// period k is [anchor + k*P, anchor + (k+1)*P) with P = 24h, 7d or 30d, the anchor being the
// user's first start event (first cohorts) or their first start event in each calendar
// period (recurring cohorts). Windows depend on each user's exact anchor, so this keeps every
// event's time instead of period bitmaps.
#pragma once

#include <cstdint>
#include <vector>

#include "cohort_matrix.hpp"
#include "cohort_period.hpp"

namespace sluice::cohort {

// 24h, 7d or 30d.
Duration rolling_length(PeriodUnit unit);

class RollingEvents {
 public:
  void add(std::uint32_t user, Instant time, bool starts, bool returns) {
    if (starts || returns)
      events_.push_back({user, time.time_since_epoch().count(), starts, returns});
  }

  // The cells of every cohort (labelled by the calendar period of its members' anchors).
  // Offsets run while the cohort's earliest anchor + k*P is at or before as-of; a cell is
  // complete when its latest member's window k ended at or before as-of. Events in calendar
  // periods after the one holding as-of are left out, as in calendar windows. With `users`,
  // only those users count (one group of a --by breakdown).
  [[nodiscard]] std::vector<Cell> matrix(const Calendar& calendar, const MatrixOptions& options,
                                         Instant as_of, const Roaring* users = nullptr);

 private:
  struct Event {
    std::uint32_t user;
    std::int64_t time;  // microseconds since the epoch
    bool starts;
    bool returns;
  };
  std::vector<Event> events_;
};

}  // namespace sluice::cohort
