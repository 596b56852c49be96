// funnel_run: reading events into per-entity hits and writing the per-step report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "funnel_engine.hpp"
#include "sluice/format.hpp"
#include "sluice/jsonl.hpp"
#include "sluice/record_condition.hpp"

namespace sluice::funnel {

struct FunnelOptions {
  std::vector<RecordCondition> steps;
  std::int64_t window = 0;  // microseconds
  Mode mode = Mode::standard;
  FieldPath entity;
  FieldPath time;
  std::optional<FieldPath> breakdown;
  std::optional<FieldPath> weight;
  InputOptions input;
};

// Parses the --steps words: one condition each (Error(2) naming --steps and the step).
std::vector<RecordCondition> parse_steps(const std::vector<std::string>& words);

// One entity's events, as read.
struct Entity {
  std::vector<Hit> hits;
  std::optional<std::int64_t> first_start;  // the earliest step-1 event's time
  std::optional<std::string> breakdown;     // that event's --breakdown value
  double weight = 1;                        // that event's --weight-field value
};

// The per-step totals of each breakdown group (one group, keyed nullopt, without
// --breakdown), in the order the report prints them.
struct Group {
  std::optional<std::string> breakdown;
  FunnelTotals totals;
};

struct FunnelResult {
  std::vector<Group> groups;
  std::uint64_t skipped = 0;  // bad lines skipped under --skip-invalid
};

// Reads every input (none or "-" is stdin) and walks each entity's funnel.
FunnelResult run_funnel(const std::vector<std::string>& inputs, const FunnelOptions& options);

// The report: one record per step of each group.
std::vector<JsonValue> report_rows(std::vector<Group>& groups, const FunnelOptions& options,
                                   Format format);

}  // namespace sluice::funnel
