#include "cohort_output.hpp"

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

JsonValue cell_record(const Cell& cell, const ReportSettings& settings) {
  std::vector<JsonValue::Member> members = {
      {"cohort", JsonValue::string(settings.calendar.label(cell.cohort))},
      {"period", JsonValue::integer(cell.offset)},
      {"size", JsonValue::integer(static_cast<long long>(cell.size))},
      {"retained", JsonValue::integer(static_cast<long long>(cell.retained))},
      {"rate", JsonValue::string(rate_text(cell.retained, cell.size))},
      {"complete", JsonValue::boolean(cell.complete)}};
  add_settings(members, settings);
  return JsonValue::object(std::move(members));
}

JsonValue average_record(const Average& average, const ReportSettings& settings) {
  std::vector<JsonValue::Member> members = {
      {"summary", JsonValue::string("average")},
      {"period", JsonValue::integer(average.offset)},
      {"cohorts", JsonValue::integer(static_cast<long long>(average.cohorts))},
      {"size", JsonValue::integer(static_cast<long long>(average.size))},
      {"retained", JsonValue::integer(static_cast<long long>(average.retained))},
      {"rate", JsonValue::string(rate_text(average.retained, average.size))}};
  add_settings(members, settings);
  return JsonValue::object(std::move(members));
}

std::string percent_text(std::uint64_t retained, std::uint64_t size) {
  return ratio_text(retained * 100, size, 1) + "%";
}

// One table row per cohort: cohort, size, then one column per offset up to the widest.
void print_triangle(OutputStream& out, const std::vector<Cell>& cells,
                    const ReportSettings& settings, bool summary) {
  int width = 0;
  for (const Cell& cell : cells) width = std::max(width, cell.offset + 1);
  RecordPrinter printer(out, Format::table);
  auto row_of = [width](std::string first, std::string size) {
    std::vector<JsonValue::Member> row = {{"cohort", JsonValue::string(std::move(first))},
                                          {"size", JsonValue::string(std::move(size))}};
    for (int offset = 0; offset < width; ++offset) {
      row.emplace_back(std::to_string(offset), JsonValue::string(""));
    }
    return row;
  };
  std::vector<JsonValue::Member> row;
  for (std::size_t index = 0; index < cells.size(); ++index) {
    const Cell& cell = cells[index];
    if (cell.offset == 0)
      row = row_of(settings.calendar.label(cell.cohort), std::to_string(cell.size));
    row[static_cast<std::size_t>(cell.offset) + 2].second =
        JsonValue::string(percent_text(cell.retained, cell.size) + (cell.complete ? "" : "*"));
    if (index + 1 == cells.size() || cells[index + 1].offset == 0) {
      printer.print(JsonValue::object(std::exchange(row, {})));
    }
  }
  if (summary) {
    std::vector<Average> averages = average_by_offset(cells);
    row = row_of("average", "");
    for (const Average& average : averages) {
      row[static_cast<std::size_t>(average.offset) + 2].second =
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

void print_matrix(OutputStream& out, Format format, const std::vector<Cell>& cells,
                  const ReportSettings& settings, bool summary) {
  if (format == Format::table) {
    print_triangle(out, cells, settings, summary);
    return;
  }
  RecordPrinter printer(out, format);
  for (const Cell& cell : cells) printer.print(cell_record(cell, settings));
  printer.finish();
  if (!summary) return;
  RecordPrinter averages(out, format);
  for (const Average& average : average_by_offset(cells)) {
    averages.print(average_record(average, settings));
  }
  averages.finish();
}

}  // namespace sluice::cohort
