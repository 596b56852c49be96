// cohort_matrix: the retention matrix from an Activity.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "cohort_activity.hpp"
#include "cohort_period.hpp"

namespace sluice::cohort {

// first: a user belongs to the cohort of the period of their first start event.
// recurring: a user belongs to the cohort of every period in which they did a start event.
enum class CohortType { first, recurring };
// on: active in exactly period k of the cohort; on_or_after: in period k or any later one
// (up to the as-of period).
enum class Criterion { on, on_or_after };

CohortType parse_cohort_type(std::string_view text);
std::string_view cohort_type_name(CohortType type);
Criterion parse_criterion(std::string_view text);
std::string_view criterion_name(Criterion criterion);

struct MatrixOptions {
  CohortType type = CohortType::first;
  Criterion criterion = Criterion::on;
  std::optional<int> periods;  // at most this many offsets (0 .. periods-1) per cohort
};

struct Cell {
  int cohort = 0;  // the cohort's period number
  int offset = 0;  // k: the cell is about period cohort + k
  std::uint64_t size = 0;
  std::uint64_t retained = 0;
  bool complete = false;  // period cohort + k ended at or before as-of
};

// The cells of every non-empty cohort up to the as-of period, by cohort then offset. Periods
// after the one holding `as_of` are left out; starts in them make no cohort. With `users`,
// cohorts hold only those users (one group of a --by breakdown).
std::vector<Cell> compute_matrix(const Activity& activity, const Calendar& calendar,
                                 const MatrixOptions& options, Instant as_of,
                                 const Roaring* users = nullptr);

// The size-weighted average retention of each offset over the complete cells.
struct Average {
  int offset = 0;
  std::uint64_t cohorts = 0;
  std::uint64_t size = 0;
  std::uint64_t retained = 0;
};
std::vector<Average> average_by_offset(const std::vector<Cell>& cells);

}  // namespace sluice::cohort
