#include "rollup_cli.hpp"

#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "rollup_commands.hpp"
#include "rollup_engine.hpp"
#include "rollup_store.hpp"
#include "sluice/atomic_file.hpp"
#include "sluice/error.hpp"
#include "sluice/fdio.hpp"
#include "sluice/format.hpp"
#include "sluice/names.hpp"

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
  std::string weight_field;
  InputOptions input;
  Format format = Format::jsonl;
  std::string save_state;
  // The store's subcommands.
  cli::StateOptions state;
  std::vector<std::string> tiers;
  Duration allowed_lateness{0};
  LatePolicy late_policy = LatePolicy::merge;
  std::string reject_file;
  std::string tier;
  std::string from;
  std::string to;
  std::vector<std::string> query_by;
  std::optional<double> xff;
  std::uint64_t batch_size = 1000;
};

constexpr NameTable<LatePolicy, 2> late_policy_names{{{
    {"merge", LatePolicy::merge},
    {"reject", LatePolicy::reject},
}}};

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
  spec.weight_field = settings.weight_field;
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

std::int64_t now_of(const Settings& settings) {
  return micros(cli::make_clock(settings.state).now());
}

int run_ingest(const Settings& settings) {
  IngestRequest request;
  request.settings.spec = spec_of(settings);
  for (const std::string& text : settings.tiers) request.settings.tiers.push_back(parse_tier(text));
  request.settings.allowed_lateness_micros = settings.allowed_lateness.count();
  request.settings.check();
  request.settings.spec.every = request.settings.tiers[0].every;
  if (settings.inputs.empty() ||
      std::find(settings.inputs.begin(), settings.inputs.end(), "-") != settings.inputs.end()) {
    throw Error(exit_code::usage,
                "ingest reads files, not standard input: each file is a batch, known by its "
                "contents");
  }
  if (settings.late_policy == LatePolicy::reject && settings.reject_file.empty()) {
    throw Error(exit_code::usage, "--late-policy reject needs --reject-file FILE");
  }
  request.files = settings.inputs;
  request.input = settings.input;
  request.late_policy = settings.late_policy;
  request.reject_file = settings.reject_file;
  request.now = now_of(settings);
  for (const std::string& file : settings.inputs) InputFile check(file);  // 66 before the store
  auto store = cli::open_state<Store>(settings.state, "rollup", cli::StateFile::create,
                                      cli::Backends::sqlite_or_postgresql);
  return with_stdout([&](OutputStream& out) {
    RecordPrinter printer(out, settings.format);
    int status = ingest_files(store, request, printer);
    printer.finish();
    return status;
  });
}

std::int64_t instant_or(const std::string& text, std::string_view option, std::int64_t otherwise) {
  return text.empty() ? otherwise : micros(cli::instant_option(option, text));
}

int run_query(const Settings& settings) {
  QueryRequest request;
  request.tier = settings.tier;
  request.from = instant_or(settings.from, "--from", INT64_MIN);
  request.to = instant_or(settings.to, "--to", INT64_MAX);
  if (!settings.query_by.empty()) request.by = settings.query_by;
  request.xff = settings.xff;
  auto store = cli::open_state<Store>(settings.state, "rollup", cli::StateFile::must_exist,
                                      cli::Backends::sqlite_or_postgresql);
  return with_stdout([&](OutputStream& out) {
    RecordPrinter printer(out, settings.format);
    int status = query_store(store, request, printer);
    printer.finish();
    return status;
  });
}

StoreSettings stored_settings(Store& store) {
  std::optional<std::string> text = store.settings_text();
  if (!text) throw Error(exit_code::no_input, "the store holds nothing yet (run rollup ingest)");
  return settings_from_text(*text);
}

int print_count(const Settings& settings, std::string_view name, std::uint64_t count) {
  return with_stdout([&](OutputStream& out) {
    print_record(
        out, settings.format,
        JsonValue::object({{std::string(name), JsonValue::number(std::to_string(count))}}));
    return 0;
  });
}

int run_compact(const Settings& settings) {
  std::int64_t now = now_of(settings);
  auto store = cli::open_state<Store>(settings.state, "rollup", cli::StateFile::must_exist,
                                      cli::Backends::sqlite_or_postgresql);
  StoreSettings stored = stored_settings(store);
  return print_count(settings, "deleted", store.compact(stored, now, settings.batch_size));
}

int run_rebuild(const Settings& settings) {
  std::int64_t now = now_of(settings);
  std::int64_t from = instant_or(settings.from, "--from", INT64_MIN);
  std::int64_t to = instant_or(settings.to, "--to", INT64_MAX);
  auto store = cli::open_state<Store>(settings.state, "rollup", cli::StateFile::must_exist,
                                      cli::Backends::sqlite_or_postgresql);
  StoreSettings stored = stored_settings(store);
  return print_count(settings, "rebuilt", store.rebuild(stored, from, to, now));
}

void add_output_options(CLI::App& command, Settings& settings) {
  command
      .add_option("--save-state", settings.save_state,
                  "Also write the partial aggregates to FILE (for rollup merge)")
      ->type_name("FILE");
  cli::add_format_option(command, settings.format);
}

void add_grouping_options(CLI::App& command, Settings& settings) {
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
  command
      .add_option("--time-field", settings.time_field, "Field (or path a.b) holding the event time")
      ->type_name("FIELD")
      ->capture_default_str();
  command.add_option("--tz", settings.tz, "IANA time zone of day, week and month buckets")
      ->type_name("ZONE")
      ->capture_default_str();
  cli::add_input_options(command, settings.input);
}

void add_aggregate_options(CLI::App& command, Settings& settings) {
  command.add_option("inputs", settings.inputs, "Event files (default: stdin)");
  add_grouping_options(command, settings);
  cli::complete_with(
      command
          .add_option("--every", settings.every,
                      "Bucket width: a duration under a day (UTC, from the epoch), or day, week "
                      "(ISO, from Monday) or month in --tz")
          ->type_name("DURATION|day|week|month")
          ->capture_default_str(),
      {"day", "week", "month"});
  command
      .add_option("--weight-field", settings.weight_field,
                  "Each event stands for FIELD events (sample's sample_rate): count, sum and avg "
                  "become Horvitz-Thompson estimates with a _stderr column")
      ->type_name("FIELD");
  add_output_options(command, settings);
}

void add_ingest_options(CLI::App& command, Settings& settings) {
  command.add_option("inputs", settings.inputs, "Event files, one batch each");
  command
      .add_option("--tier", settings.tiers,
                  "A tier WIDTH:RETENTION (10s:7d, 1h:1y, day:forever), finest first; "
                  "repeatable")
      ->type_name("WIDTH:RETENTION")
      ->allow_extra_args(false)
      ->required();
  add_grouping_options(command, settings);
  cli::add_duration_option(command, "--allowed-lateness", settings.allowed_lateness,
                           "How late an event may come and still count as on time");
  cli::add_choice_option(command, "--late-policy", settings.late_policy, late_policy_names,
                         "Events older than the raw tier's retention: merge or reject");
  command
      .add_option("--reject-file", settings.reject_file,
                  "JSON Lines file the rejected events are appended to")
      ->type_name("FILE");
  cli::add_format_option(command, settings.format);
  cli::add_state_options(command, settings.state, cli::WithNow::yes);
}

void add_query_options(CLI::App& command, Settings& settings) {
  command.add_option("--tier", settings.tier, "The tier to read, by its width (10s, 1h, day)")
      ->type_name("WIDTH")
      ->required();
  command.add_option("--from", settings.from, "First bucket start to read (default: the first)")
      ->type_name("TIME");
  command.add_option("--to", settings.to, "Read buckets starting before TIME (default: all)")
      ->type_name("TIME");
  command
      .add_option("--by", settings.query_by,
                  "Merge the groups into these of the store's --by fields (default: all)")
      ->type_name("FIELD,...")
      ->delimiter(',')
      ->allow_extra_args(false);
  command
      .add_option("--xff", settings.xff,
                  "Graphite's xFilesFactor: rows whose coverage of finer buckets is below X "
                  "have null aggregates (adds a coverage column)")
      ->type_name("X")
      ->check(CLI::Range(0.0, 1.0));
  cli::add_format_option(command, settings.format);
  cli::add_state_options(command, settings.state, cli::WithNow::no);
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
             [settings] { return run_merge(*settings); }},
            {"ingest", "Add event files to a store of tiers (each file once)",
             [&s](CLI::App& command) { add_ingest_options(command, s); },
             [settings] { return run_ingest(*settings); }},
            {"query", "Rows of one tier of a store",
             [&s](CLI::App& command) { add_query_options(command, s); },
             [settings] { return run_query(*settings); }},
            {"compact", "Delete the buckets past their tier's retention, in batches",
             [&s](CLI::App& command) {
               command.add_option("--batch-size", s.batch_size, "Cells deleted per transaction")
                   ->check(cli::whole_number(1, 1000000))
                   ->capture_default_str();
               cli::add_format_option(command, s.format);
               cli::add_state_options(command, s.state, cli::WithNow::yes);
             },
             [settings] { return run_compact(*settings); }},
            {"rebuild", "Recompute the coarser tiers' buckets in a time range from the finer",
             [&s](CLI::App& command) {
               command.add_option("--from", s.from, "First bucket start to rebuild")
                   ->type_name("TIME")
                   ->required();
               command.add_option("--to", s.to, "Rebuild buckets ending by TIME")
                   ->type_name("TIME")
                   ->required();
               cli::add_format_option(command, s.format);
               cli::add_state_options(command, s.state, cli::WithNow::yes);
             },
             [settings] { return run_rebuild(*settings); }}});
}

}  // namespace sluice::rollup
