#include "rollup_cli.hpp"

#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "rollup_engine.hpp"
#include "sluice/atomic_file.hpp"
#include "sluice/error.hpp"
#include "sluice/fdio.hpp"
#include "sluice/format.hpp"

namespace sluice::rollup {

namespace {

// The largest saved state `rollup merge` reads.
constexpr std::uint64_t max_state_bytes = std::uint64_t{16} << 30;

struct Settings {
  std::vector<std::string> inputs;
  std::vector<std::string> by;
  std::string every = "1m";
  std::string time_field = "ts";
  std::string tz = "UTC";
  std::vector<std::string> aggregates;
  InputOptions input;
  Format format = Format::jsonl;
  std::string save_state;
};

Spec spec_of(const Settings& settings) {
  Spec spec;
  spec.every = parse_every(settings.every);
  TimeZone::named("--tz", settings.tz);  // an unknown zone is a usage error before any input
  spec.tz = settings.tz;
  if (settings.time_field.empty())
    throw Error(exit_code::usage, "--time-field: the field name is empty");
  spec.time_field = settings.time_field;
  for (const std::string& field : settings.by) {
    if (field.empty()) throw Error(exit_code::usage, "--by: a field name is empty");
    spec.by.push_back(field);
  }
  for (const std::string& word : settings.aggregates)
    spec.aggregates.push_back(parse_aggregate(word));
  spec.check();
  return spec;
}

// Prints the rows, and writes the state when --save-state asks (its file was created before
// any input was read, so that an unwritable path fails first).
int report(const Settings& settings, const Rollup& rollup, std::unique_ptr<AtomicFile> state,
           std::uint64_t skipped) {
  if (state) state->commit(rollup.state_text());
  return with_stdout([&](OutputStream& out) {
    RecordPrinter printer(out, settings.format);
    for (const JsonValue& row : rollup.rows()) printer.print(row);
    printer.finish();
    return skipped > 0 ? exit_code::definite_no : 0;
  });
}

std::unique_ptr<AtomicFile> state_file(const Settings& settings) {
  if (settings.save_state.empty()) return nullptr;
  return std::make_unique<AtomicFile>(settings.save_state);
}

int run_aggregate(const Settings& settings) {
  Rollup rollup(spec_of(settings));
  std::unique_ptr<AtomicFile> state = state_file(settings);
  ReadSummary summary = rollup.read(settings.inputs, settings.input);
  return report(settings, rollup, std::move(state), summary.skipped);
}

Rollup read_state(const std::string& path) {
  InputFile input(path);
  return Rollup::from_state(input.name(), read_all(input.fd(), input.name(), max_state_bytes));
}

int run_merge(const Settings& settings) {
  for (const std::string& path : settings.inputs) InputFile check(path);  // 66 before any work
  std::unique_ptr<AtomicFile> state = state_file(settings);
  Rollup merged = read_state(settings.inputs.front());
  for (std::size_t i = 1; i < settings.inputs.size(); ++i) {
    Rollup next = read_state(settings.inputs[i]);
    if (next.spec().canonical() != merged.spec().canonical()) {
      throw Error(exit_code::data,
                  fmt::format("{}: rolled up as {}, but {} as {}: states merge only when built "
                              "with the same --by, --every, --tz, --time-field and --agg",
                              settings.inputs[i], next.spec().canonical(), settings.inputs.front(),
                              merged.spec().canonical()));
    }
    merged.merge(next);
  }
  return report(settings, merged, std::move(state), 0);
}

void add_output_options(CLI::App& command, Settings& settings) {
  command
      .add_option("--save-state", settings.save_state,
                  "Also write the partial aggregates to FILE (for rollup merge)")
      ->type_name("FILE");
  cli::add_format_option(command, settings.format);
}

void add_aggregate_options(CLI::App& command, Settings& settings) {
  command.add_option("inputs", settings.inputs, "Event files (default: stdin)");
  command
      .add_option("--agg", settings.aggregates,
                  "Aggregates, comma-separated: count, sum:FIELD, min:FIELD, max:FIELD, "
                  "avg:FIELD, stddev:FIELD, last:FIELD, distinct:FIELD, pNN:FIELD (p50, p99, "
                  "p99.9); repeatable")
      ->type_name("AGG,...")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->required();
  command
      .add_option("--by", settings.by,
                  "Group by these fields (or paths a.b), comma-separated; repeatable")
      ->type_name("FIELD,...")
      ->delimiter(',')
      ->allow_extra_args(false);
  cli::complete_with(
      command
          .add_option("--every", settings.every,
                      "Bucket width: a duration under a day (UTC, from the epoch), or day, week "
                      "(ISO, from Monday) or month in --tz")
          ->type_name("DURATION|day|week|month")
          ->capture_default_str(),
      {"day", "week", "month"});
  command
      .add_option("--time-field", settings.time_field, "Field (or path a.b) holding the event time")
      ->type_name("FIELD")
      ->capture_default_str();
  command.add_option("--tz", settings.tz, "IANA time zone of day, week and month buckets")
      ->type_name("ZONE")
      ->capture_default_str();
  cli::add_input_options(command, settings.input);
  add_output_options(command, settings);
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  Settings& s = *settings;
  return cli::add_subcommands(
      app, {{"aggregate", "Roll event files up into (bucket, group) rows (the default)",
             [&s](CLI::App& command) { add_aggregate_options(command, s); },
             [settings] { return run_aggregate(*settings); }},
            {"merge", "Rows of saved states (--save-state), merged",
             [&s](CLI::App& command) {
               command.add_option("states", s.inputs, "State files from --save-state")->required();
               add_output_options(command, s);
             },
             [settings] { return run_merge(*settings); }}});
}

}  // namespace sluice::rollup
