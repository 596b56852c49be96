#include "cohort_rolling.hpp"

#include <algorithm>
#include <map>
#include <span>

namespace sluice::cohort {

using namespace std::chrono;

namespace {

struct CohortTotals {
  std::uint64_t size = 0;
  std::int64_t first_anchor = INT64_MAX;
  std::int64_t last_anchor = INT64_MIN;
  std::vector<std::uint64_t> retained;  // by offset: users retained at exactly k (or k+ later)
};

void count(std::vector<std::uint64_t>& retained, std::size_t offset) {
  if (retained.size() <= offset) retained.resize(offset + 1, 0);
  ++retained[offset];
}

// One anchor of one user: which offsets their returns fall in, counted once each.
void add_member(CohortTotals& totals, std::int64_t anchor, std::span<const std::int64_t> returns,
                std::int64_t length, Criterion criterion) {
  ++totals.size;
  totals.first_anchor = std::min(totals.first_anchor, anchor);
  totals.last_anchor = std::max(totals.last_anchor, anchor);
  std::int64_t last_offset = -1;
  for (std::int64_t time : returns) {  // sorted, so offsets come in order
    if (time < anchor) continue;
    std::int64_t offset = (time - anchor) / length;
    if (offset == last_offset) continue;
    last_offset = offset;
    if (criterion == Criterion::on) count(totals.retained, static_cast<std::size_t>(offset));
  }
  if (criterion == Criterion::on_or_after) {
    for (std::int64_t offset = 0; offset <= last_offset; ++offset) {
      count(totals.retained, static_cast<std::size_t>(offset));
    }
  }
}

}  // namespace

Duration rolling_length(PeriodUnit unit) {
  switch (unit) {
    case PeriodUnit::day:
      return hours(24);
    case PeriodUnit::week:
      return days(7);
    case PeriodUnit::month:
      return days(30);
  }
  return hours(24);
}

std::vector<Cell> RollingEvents::matrix(const Calendar& calendar, const MatrixOptions& options,
                                        Instant as_of, const Roaring* users) {
  const int last_period = calendar.period_of(as_of);
  const std::int64_t length = rolling_length(calendar.unit()).count();
  std::sort(events_.begin(), events_.end(), [](const Event& a, const Event& b) {
    return a.user != b.user ? a.user < b.user : a.time < b.time;
  });
  std::map<int, CohortTotals> cohorts;
  std::vector<std::int64_t> returns;
  std::vector<std::pair<int, std::int64_t>> anchors;  // (calendar period, first start in it)
  for (std::size_t begin = 0; begin < events_.size();) {
    std::size_t end = begin;
    returns.clear();
    anchors.clear();
    const bool counted = users == nullptr || users->contains(events_[begin].user);
    for (; end < events_.size() && events_[end].user == events_[begin].user; ++end) {
      const Event& event = events_[end];
      if (!counted) continue;
      int period = calendar.period_of(Instant(Duration(event.time)));
      if (period > last_period) continue;
      if (event.returns) returns.push_back(event.time);
      bool new_period = anchors.empty() || anchors.back().first != period;
      if (event.starts && new_period &&
          (options.type == CohortType::recurring || anchors.empty())) {
        anchors.emplace_back(period, event.time);
      }
    }
    for (const auto& [period, anchor] : anchors) {
      add_member(cohorts[period], anchor, returns, length, options.criterion);
    }
    begin = end;
  }
  std::vector<Cell> cells;
  const std::int64_t as_of_time = as_of.time_since_epoch().count();
  for (const auto& [cohort, totals] : cohorts) {
    // Offset 0 always; then every window that has begun by as-of.
    std::int64_t width =
        as_of_time >= totals.first_anchor ? (as_of_time - totals.first_anchor) / length + 1 : 1;
    if (options.periods) width = std::min<std::int64_t>(width, *options.periods);
    for (std::int64_t offset = 0; offset < width; ++offset) {
      auto index = static_cast<std::size_t>(offset);
      std::uint64_t retained = index < totals.retained.size() ? totals.retained[index] : 0;
      bool complete = totals.last_anchor + (offset + 1) * length <= as_of_time;
      cells.push_back({cohort, static_cast<int>(offset), totals.size, retained, complete});
    }
  }
  return cells;
}

}  // namespace sluice::cohort
