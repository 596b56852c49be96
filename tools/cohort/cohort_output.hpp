// cohort_output: the matrix as records (JSON Lines, CSV) or as the familiar triangle (table).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cohort_matrix.hpp"
#include "sluice/cli.hpp"
#include "sluice/fdio.hpp"

namespace sluice::cohort {

// What the cells were computed with, echoed in every record.
struct ReportSettings {
  const Calendar& calendar;
  MatrixOptions matrix;
  bool rolling = false;
  bool by = false;  // --by: every record and table row names its group
};

// The cells of one --by group (of every user without --by).
struct GroupCells {
  std::optional<std::string> value;  // nullopt: the users whose start event had no value
  std::vector<Cell> cells;
};

// retained / size with 4 decimals, half-even ("0.1702").
std::string rate_text(std::uint64_t retained, std::uint64_t size);

// jsonl and csv: one record per cell, group after group, then with `summary` one record per
// group and offset (in CSV a second table). table: one row per cohort with a column per
// offset (percentages, a '*' on incomplete cells), then with `summary` an "average" row, for
// each group in turn.
void print_matrix(OutputStream& out, Format format, const std::vector<GroupCells>& groups,
                  const ReportSettings& settings, bool summary);

}  // namespace sluice::cohort
