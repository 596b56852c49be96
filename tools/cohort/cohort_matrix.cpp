#include "cohort_matrix.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice::cohort {

namespace {

// Each cohort's members (of `users` when given), by cohort period, up to `last_period`.
std::map<int, Roaring> cohorts_of(const Activity& activity, CohortType type, int last_period,
                                  const Roaring* users) {
  std::map<int, Roaring> cohorts;
  Roaring seen;  // users with a start in an earlier period
  for (const auto& [period, started] : activity.started()) {
    if (period > last_period) break;
    Roaring members = type == CohortType::first ? started - seen : started;
    if (type == CohortType::first) seen |= started;
    if (users != nullptr) members &= *users;
    if (!members.isEmpty()) cohorts.emplace(period, std::move(members));
  }
  return cohorts;
}

// For on-or-after: at each period with activity, the users active in it or any later period
// up to `last_period`.
std::map<int, Roaring> active_from(const Activity& activity, int last_period) {
  std::map<int, Roaring> suffixes;
  Roaring later;
  const PeriodBitmaps& active = activity.active();
  for (auto it = active.rbegin(); it != active.rend(); ++it) {
    if (it->first > last_period) continue;
    later |= it->second;
    suffixes.emplace(it->first, later);
  }
  return suffixes;
}

// The bitmap at period `period` in `bitmaps`, or, with `at_or_after`, at the first period
// on or after it; nullptr when there is none.
const Roaring* bitmap_at(const std::map<int, Roaring>& bitmaps, int period, bool at_or_after) {
  auto found = bitmaps.lower_bound(period);
  if (found == bitmaps.end() || (!at_or_after && found->first != period)) return nullptr;
  return &found->second;
}

}  // namespace

CohortType parse_cohort_type(std::string_view text) {
  if (text == "first") return CohortType::first;
  if (text == "recurring") return CohortType::recurring;
  throw Error(exit_code::usage, fmt::format("--cohort: '{}' is not first or recurring", text));
}

std::string_view cohort_type_name(CohortType type) {
  return type == CohortType::first ? "first" : "recurring";
}

Criterion parse_criterion(std::string_view text) {
  if (text == "on") return Criterion::on;
  if (text == "on-or-after") return Criterion::on_or_after;
  throw Error(exit_code::usage, fmt::format("--criterion: '{}' is not on or on-or-after", text));
}

std::string_view criterion_name(Criterion criterion) {
  return criterion == Criterion::on ? "on" : "on-or-after";
}

std::vector<Cell> compute_matrix(const Activity& activity, const Calendar& calendar,
                                 const MatrixOptions& options, Instant as_of,
                                 const Roaring* users) {
  const int last_period = calendar.period_of(as_of);
  const bool on_or_after = options.criterion == Criterion::on_or_after;
  std::map<int, Roaring> suffixes;
  if (on_or_after) suffixes = active_from(activity, last_period);
  const std::map<int, Roaring>& returns = on_or_after ? suffixes : activity.active();
  std::vector<Cell> cells;
  for (const auto& [cohort, members] : cohorts_of(activity, options.type, last_period, users)) {
    int width = last_period - cohort + 1;
    if (options.periods) width = std::min(width, *options.periods);
    std::uint64_t size = members.cardinality();
    for (int offset = 0; offset < width; ++offset) {
      const Roaring* active = bitmap_at(returns, cohort + offset, on_or_after);
      Cell cell{cohort, offset, size, active == nullptr ? 0 : members.and_cardinality(*active),
                calendar.start_of(cohort + offset + 1) <= as_of};
      cells.push_back(cell);
    }
  }
  return cells;
}

std::vector<Average> average_by_offset(const std::vector<Cell>& cells) {
  std::vector<Average> averages;
  for (const Cell& cell : cells) {
    if (!cell.complete) continue;
    if (averages.size() <= static_cast<std::size_t>(cell.offset)) {
      for (int offset = static_cast<int>(averages.size()); offset <= cell.offset; ++offset) {
        averages.push_back({offset, 0, 0, 0});
      }
    }
    Average& average = averages[static_cast<std::size_t>(cell.offset)];
    ++average.cohorts;
    average.size += cell.size;
    average.retained += cell.retained;
  }
  return averages;
}

}  // namespace sluice::cohort
