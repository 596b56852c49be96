#include "funnel_run.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/record_reader.hpp"
#include "sluice/signals.hpp"

namespace sluice::funnel {

namespace {

// A value found in a record as the field readers take it.
FieldView view_of(const JsonValue* value) {
  if (value == nullptr) return {};
  FieldView view{true, value->kind(), value->text()};
  if (value->kind() == JsonValue::Kind::boolean) view.text = value->as_boolean() ? "true" : "false";
  return view;
}

struct EventFacts {
  std::string entity;
  std::int64_t time = 0;
};

EventFacts facts_of(const JsonValue& record, const FunnelOptions& options) {
  EventFacts facts;
  facts.entity =
      std::string(key_in_field(view_of(find_field(record, options.entity)), options.entity.name));
  Instant instant = instant_in_field(view_of(find_field(record, options.time)), options.time.name);
  facts.time = instant.time_since_epoch().count();
  return facts;
}

// A step-1 event's --breakdown and --weight-field values.
struct StartFacts {
  std::optional<std::string> breakdown;
  double weight = 1;
};

// Read (and checked) before anything is recorded, so that a bad line skipped under
// --skip-invalid leaves no trace.
StartFacts start_facts_of(const JsonValue& record, const FunnelOptions& options) {
  StartFacts facts;
  if (options.breakdown) {
    const JsonValue* value = find_field(record, *options.breakdown);
    std::optional<std::string_view> text = scalar_text(value);
    if (value != nullptr && value->kind() != JsonValue::Kind::null && !text) {
      throw Error(exit_code::data,
                  fmt::format("field '{}' must be a string, a number or a boolean for --breakdown",
                              options.breakdown->name));
    }
    if (text) facts.breakdown = std::string(*text);
  }
  if (options.weight) {
    FieldView view = view_of(find_field(record, *options.weight));
    if (view.present && view.kind != JsonValue::Kind::null) {
      facts.weight = number_in_field(view, options.weight->name);
      if (!(facts.weight >= 1)) {
        throw Error(exit_code::data,
                    fmt::format("field '{}' must be at least 1 (the inverse of a sampling "
                                "probability), not {}",
                                options.weight->name, view.text));
      }
    }
  }
  return facts;
}

// The entity's start: its earliest step-1 event (the first read among equal times).
void note_start(Entity& entity, std::int64_t time, StartFacts facts) {
  if (entity.first_start && *entity.first_start <= time) return;
  entity.first_start = time;
  entity.breakdown = std::move(facts.breakdown);
  entity.weight = facts.weight;
}

void read_record(const JsonValue& record, const FunnelOptions& options,
                 std::unordered_map<std::string, Entity>& entities) {
  EventFacts facts = facts_of(record, options);
  std::optional<StartFacts> start;
  if (options.steps.front().matches(record)) start = start_facts_of(record, options);
  Entity* entity = nullptr;
  bool any = false;
  for (std::size_t step = options.steps.size(); step > 0; --step) {
    if (step == 1 ? !start : !options.steps[step - 1].matches(record)) continue;
    if (entity == nullptr) entity = &entities[facts.entity];
    entity->hits.push_back({facts.time, static_cast<std::uint32_t>(step)});
    if (step == 1) note_start(*entity, facts.time, std::move(*start));
    any = true;
  }
  if (!any && options.mode == Mode::strict_order) {
    entities[facts.entity].hits.push_back({facts.time, 0});
  }
}

JsonValue number(double value) {
  std::string text;
  append_json_number(text, value);
  return text == "null" ? JsonValue::null() : JsonValue::number(text);
}

JsonValue seconds(std::optional<std::int64_t> microseconds) {
  if (!microseconds) return JsonValue::null();
  return number(static_cast<double>(*microseconds) / 1e6);
}

// A conversion: a fraction in JSON Lines and CSV, a percentage with one decimal in a table.
JsonValue conversion(double part, double whole, Format format) {
  if (whole <= 0) return JsonValue::null();
  double value = part / whole;
  if (format == Format::table) return JsonValue::string(fmt::format("{:.1f}%", value * 100));
  return number(value);
}

// Every field a line is read for.
std::vector<FieldPath> fields_read(const FunnelOptions& options) {
  std::vector<FieldPath> fields{options.entity, options.time};
  for (const std::optional<FieldPath>& field : {options.breakdown, options.weight}) {
    if (field) fields.push_back(*field);
  }
  for (const RecordCondition& step : options.steps) {
    for (const ConditionTerm& term : step.terms()) fields.push_back(term.field);
  }
  return fields;
}

}  // namespace

std::vector<RecordCondition> parse_steps(const std::vector<std::string>& words) {
  std::vector<RecordCondition> steps;
  for (const std::string& word : words) {
    steps.push_back(with_context(exit_code::usage,
                                 fmt::format("--steps: step {} '{}'", steps.size() + 1, word),
                                 [&] { return RecordCondition::parse(word); }));
  }
  if (steps.empty()) throw Error(exit_code::usage, "--steps: at least one step is needed");
  if (steps.size() > 64) throw Error(exit_code::usage, "--steps: at most 64 steps");
  return steps;
}

FunnelResult run_funnel(const std::vector<std::string>& inputs, const FunnelOptions& options) {
  RecordReader reader(inputs, options.input, fields_read(options));
  std::unordered_map<std::string, Entity> entities;
  while (const JsonValue* record = reader.next()) {
    throw_if_interrupted();
    try {
      read_record(*record, options, entities);
    } catch (const Error& error) {
      if (error.code() != exit_code::data) throw;
      reader.reject(error.what());
    }
  }
  std::map<std::optional<std::string>, FunnelTotals> totals;
  if (!options.breakdown) totals.emplace(std::nullopt, FunnelTotals(options.steps.size()));
  for (auto& [key, entity] : entities) {
    Progress progress =
        walk_funnel(entity.hits, options.steps.size(), options.window, options.mode);
    if (progress.level == 0) continue;
    auto group = totals.try_emplace(entity.breakdown, options.steps.size()).first;
    group->second.add(progress, entity.weight);
  }
  FunnelResult result;
  result.skipped = reader.skipped();
  std::vector<Group>& groups = result.groups;
  for (auto& [breakdown, group_totals] : totals)
    groups.push_back({breakdown, std::move(group_totals)});
  return result;
}

std::vector<JsonValue> report_rows(std::vector<Group>& groups, const FunnelOptions& options,
                                   Format format) {
  std::vector<JsonValue> rows;
  for (Group& group : groups) {
    std::vector<StepTotals>& steps = group.totals.steps();
    auto count = [&](std::size_t step) {
      return options.weight ? steps[step].weight : static_cast<double>(steps[step].entities);
    };
    for (std::size_t step = 0; step < steps.size(); ++step) {
      std::vector<JsonValue::Member> row;
      if (options.breakdown) {
        row.emplace_back("breakdown",
                         group.breakdown ? JsonValue::string(*group.breakdown) : JsonValue::null());
      }
      row.emplace_back("step", JsonValue::integer(static_cast<long long>(step + 1)));
      row.emplace_back("condition", JsonValue::string(options.steps[step].text()));
      row.emplace_back("entities",
                       JsonValue::integer(static_cast<long long>(steps[step].entities)));
      if (options.weight) {
        row.emplace_back("weighted_entities", number(steps[step].weight));
        row.emplace_back("weighted_stderr", number(std::sqrt(steps[step].weight_variance)));
      }
      row.emplace_back("from_previous",
                       conversion(count(step), step == 0 ? count(0) : count(step - 1), format));
      row.emplace_back("from_first", conversion(count(step), count(0), format));
      row.emplace_back("median_seconds", seconds(nearest_rank(steps[step].times, 0.5)));
      row.emplace_back("p90_seconds", seconds(nearest_rank(steps[step].times, 0.9)));
      rows.push_back(JsonValue::object(std::move(row)));
    }
  }
  return rows;
}

}  // namespace sluice::funnel
