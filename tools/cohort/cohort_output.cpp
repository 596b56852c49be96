#include "cohort_output.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "sluice/decimal.hpp"
#include "sluice/format.hpp"

namespace sluice::cohort {

namespace {

using decimal::Int128;

// retained / size in units of 10^-places, half-even.
std::string ratio_text(std::uint64_t retained, std::uint64_t size, int places) {
  Int128 scaled = static_cast<Int128>(retained) * decimal::power_of_ten(places);
  Int128 rounded = decimal::divide(scaled, static_cast<Int128>(size), decimal::Rounding::half_even);
  return decimal::format_amount(rounded, places);
}

void add_settings(std::vector<JsonValue::Member>& members, const ReportSettings& settings) {
  members.emplace_back("period_unit",
                       JsonValue::string(std::string(period_unit_name(settings.calendar.unit()))));
  members.emplace_back("tz", JsonValue::string(settings.calendar.zone().name()));
  members.emplace_back("windows", JsonValue::string(settings.rolling ? "rolling" : "calendar"));
  members.emplace_back("cohort_type",
                       JsonValue::string(std::string(cohort_type_name(settings.matrix.type))));
  members.emplace_back("criterion",
                       JsonValue::string(std::string(criterion_name(settings.matrix.criterion))));
}

// "by" first in every record of a breakdown: null for the users without a value.
std::vector<JsonValue::Member> group_members(const GroupCells& group,
                                             const ReportSettings& settings) {
  if (!settings.by) return {};
  return {{"by", group.value ? JsonValue::string(*group.value) : JsonValue::null()}};
}

JsonValue cell_record(const GroupCells& group, const Cell& cell, const ReportSettings& settings) {
  std::vector<JsonValue::Member> members = group_members(group, settings);
  members.insert(members.end(),
                 {{"cohort", JsonValue::string(settings.calendar.label(cell.cohort))},
                  {"period", JsonValue::integer(cell.offset)},
                  {"size", JsonValue::integer(static_cast<long long>(cell.size))},
                  {"retained", JsonValue::integer(static_cast<long long>(cell.retained))},
                  {"rate", JsonValue::string(rate_text(cell.retained, cell.size))},
                  {"complete", JsonValue::boolean(cell.complete)}});
  add_settings(members, settings);
  return JsonValue::object(std::move(members));
}

JsonValue average_record(const GroupCells& group, const Average& average,
                         const ReportSettings& settings) {
  std::vector<JsonValue::Member> members = group_members(group, settings);
  members.insert(members.end(),
                 {{"summary", JsonValue::string("average")},
                  {"period", JsonValue::integer(average.offset)},
                  {"cohorts", JsonValue::integer(static_cast<long long>(average.cohorts))},
                  {"size", JsonValue::integer(static_cast<long long>(average.size))},
                  {"retained", JsonValue::integer(static_cast<long long>(average.retained))},
                  {"rate", JsonValue::string(rate_text(average.retained, average.size))}});
  add_settings(members, settings);
  return JsonValue::object(std::move(members));
}

std::string percent_text(std::uint64_t retained, std::uint64_t size) {
  return ratio_text(retained * 100, size, 1) + "%";
}

// One table row per cohort: (the group,) cohort, size, then one column per offset up to the
// widest of any group.
void print_triangle(OutputStream& out, const std::vector<GroupCells>& groups,
                    const ReportSettings& settings, bool summary) {
  int width = 0;
  for (const GroupCells& group : groups) {
    for (const Cell& cell : group.cells) width = std::max(width, cell.offset + 1);
  }
  const std::size_t first_offset = settings.by ? 3 : 2;  // the column of offset 0
  RecordPrinter printer(out, Format::table);
  auto row_of = [&settings, width](const GroupCells& group, std::string first, std::string size) {
    std::vector<JsonValue::Member> row;
    if (settings.by) row.emplace_back("by", JsonValue::string(group.value.value_or("(none)")));
    row.emplace_back("cohort", JsonValue::string(std::move(first)));
    row.emplace_back("size", JsonValue::string(std::move(size)));
    for (int offset = 0; offset < width; ++offset) {
      row.emplace_back(std::to_string(offset), JsonValue::string(""));
    }
    return row;
  };
  for (const GroupCells& group : groups) {
    const std::vector<Cell>& cells = group.cells;
    std::vector<JsonValue::Member> row;
    for (std::size_t index = 0; index < cells.size(); ++index) {
      const Cell& cell = cells[index];
      if (cell.offset == 0)
        row = row_of(group, settings.calendar.label(cell.cohort), std::to_string(cell.size));
      row[static_cast<std::size_t>(cell.offset) + first_offset].second =
          JsonValue::string(percent_text(cell.retained, cell.size) + (cell.complete ? "" : "*"));
      if (index + 1 == cells.size() || cells[index + 1].offset == 0) {
        printer.print(JsonValue::object(std::exchange(row, {})));
      }
    }
    if (!summary) continue;
    std::vector<Average> averages = average_by_offset(cells);
    row = row_of(group, "average", "");
    for (const Average& average : averages) {
      row[static_cast<std::size_t>(average.offset) + first_offset].second =
          JsonValue::string(percent_text(average.retained, average.size));
    }
    if (!averages.empty()) printer.print(JsonValue::object(std::move(row)));
  }
  printer.finish();
}

}  // namespace

std::string rate_text(std::uint64_t retained, std::uint64_t size) {
  return ratio_text(retained, size, 4);
}

void print_matrix(OutputStream& out, Format format, const std::vector<GroupCells>& groups,
                  const ReportSettings& settings, bool summary) {
  if (format == Format::table) {
    print_triangle(out, groups, settings, summary);
    return;
  }
  RecordPrinter printer(out, format);
  for (const GroupCells& group : groups) {
    for (const Cell& cell : group.cells) printer.print(cell_record(group, cell, settings));
  }
  printer.finish();
  if (!summary) return;
  RecordPrinter averages(out, format);
  for (const GroupCells& group : groups) {
    for (const Average& average : average_by_offset(group.cells)) {
      averages.print(average_record(group, average, settings));
    }
  }
  averages.finish();
}

}  // namespace sluice::cohort
