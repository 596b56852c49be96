#include "cohort_cli.hpp"

#include <unistd.h>

#include <climits>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include "cohort_alias.hpp"
#include "cohort_events.hpp"
#include "cohort_matrix.hpp"
#include "cohort_output.hpp"
#include "cohort_state.hpp"
#include "cohort_store.hpp"
#include "sluice/error.hpp"
#include "sluice/format.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::cohort {

namespace {

struct Settings {
  std::vector<std::string> inputs;
  EventFields fields;
  std::string start_event;
  std::vector<std::string> return_events;
  std::vector<std::string> start_where;
  std::vector<std::string> return_where;
  std::string by;
  std::string alias_file;
  std::vector<std::string> users;  // forget
  ProgressMode progress = ProgressMode::automatic;
  std::string period = "day";
  std::string tz = "UTC";
  std::string week_start = "monday";
  std::string windows = "calendar";
  std::string cohort = "first";
  std::string criterion = "on";
  int periods = 0;
  std::string as_of;
  std::string save_state;
  bool summary = false;
  InputOptions input;
  Format format = Format::jsonl;
  cli::StateOptions state;
};

void add_bucketing_options(CLI::App& command, Settings& settings) {
  command.add_option("--user-field", settings.fields.user, "Field holding the user id")
      ->capture_default_str();
  command.add_option("--time-field", settings.fields.time, "Field holding the event time")
      ->capture_default_str();
  command.add_option("--event-field", settings.fields.event, "Field holding the event name")
      ->capture_default_str();
  command.add_option("--start-event", settings.start_event,
                     "Event that puts a user in a cohort (default: any)");
  command
      .add_option("--return-event", settings.return_events,
                  "Events that count as a return: a comma list, or the option repeated (default: "
                  "any)")
      ->allow_extra_args(false)
      ->delimiter(',');
  command
      .add_option("--start-where", settings.start_where,
                  "Only start events whose FIELD (or path a.b) is VALUE: FIELD=VALUE, "
                  "repeatable (all must hold)")
      ->type_name("FIELD=VALUE")
      ->default_str("")
      ->allow_extra_args(false);
  command
      .add_option("--return-where", settings.return_where,
                  "Only return events whose FIELD is VALUE: FIELD=VALUE, repeatable")
      ->type_name("FIELD=VALUE")
      ->default_str("")
      ->allow_extra_args(false);
  cli::complete_with(
      command.add_option("--period", settings.period, "day, week or month")->capture_default_str(),
      {"day", "week", "month"});
  command.add_option("--tz", settings.tz, "IANA time zone of the calendar")->capture_default_str();
  cli::complete_with(
      command
          .add_option("--week-start", settings.week_start,
                      "First day of a week: monday, tuesday, wednesday, thursday, friday, saturday "
                      "or sunday")
          ->capture_default_str(),
      {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"});
  cli::complete_with(
      command.add_option("--windows", settings.windows, "calendar or rolling (24h, 7d, 30d)")
          ->capture_default_str(),
      {"calendar", "rolling"});
  cli::add_input_options(command, settings.input);
  cli::add_progress_option(command, settings.progress);
}

// Options of matrix alone: a saved state or a store keeps neither (see run_matrix).
void add_matrix_options(CLI::App& command, Settings& settings) {
  command
      .add_option("--by", settings.by,
                  "One matrix per value of FIELD (or path a.b) on each user's first start "
                  "event")
      ->type_name("FIELD");
  command
      .add_option("--alias-file", settings.alias_file,
                  "JSON Lines of {\"from\":ID,\"to\":ID}: count user from as user to")
      ->type_name("FILE");
}

void add_report_options(CLI::App& command, Settings& settings) {
  cli::complete_with(
      command.add_option("--cohort", settings.cohort, "first or recurring")->capture_default_str(),
      {"first", "recurring"});
  cli::complete_with(command.add_option("--criterion", settings.criterion, "on or on-or-after")
                         ->capture_default_str(),
                     {"on", "on-or-after"});
  command.add_option("--periods", settings.periods, "At most N periods per cohort (0 = all)")
      ->check(cli::whole_number(0, INT_MAX));
  command.add_option("--as-of", settings.as_of,
                     "Time that decides complete cells (default: the latest event)");
  command.add_flag("--summary", settings.summary, "Add the weighted average of each period");
  command.add_option("--save-state", settings.save_state,
                     "Also write the partial state to FILE (for cohort merge)");
  cli::add_format_option(command, settings.format);
}

// Sorted and distinct, so that the same conditions in any order are the same bucketing.
std::vector<Condition> conditions_of(std::string_view option,
                                     const std::vector<std::string>& texts) {
  std::vector<Condition> conditions;
  for (const std::string& text : texts) conditions.push_back(parse_condition(option, text));
  std::sort(conditions.begin(), conditions.end());
  conditions.erase(std::unique(conditions.begin(), conditions.end()), conditions.end());
  return conditions;
}

Bucketing bucketing_of(const Settings& settings) {
  const EventFields& fields = settings.fields;
  if (fields.user == fields.time || fields.user == fields.event || fields.time == fields.event) {
    throw Error(exit_code::usage,
                "--user-field, --time-field and --event-field must name three different fields");
  }
  Bucketing bucketing;
  bucketing.unit = parse_period_unit(settings.period);
  bucketing.tz = settings.tz;
  bucketing.week_start = parse_week_start(settings.week_start);
  if (settings.windows != "calendar" && settings.windows != "rolling") {
    throw Error(exit_code::usage,
                fmt::format("--windows: '{}' is not calendar or rolling", settings.windows));
  }
  bucketing.rolling = settings.windows == "rolling";
  if (!settings.start_event.empty()) bucketing.selection.start_event = settings.start_event;
  std::vector<std::string>& returns = bucketing.selection.return_events;
  returns = settings.return_events;
  if (std::find(returns.begin(), returns.end(), "") != returns.end()) {
    throw Error(exit_code::usage, "--return-event: an event name is empty");
  }
  std::sort(returns.begin(), returns.end());
  returns.erase(std::unique(returns.begin(), returns.end()), returns.end());
  bucketing.selection.start_where = conditions_of("--start-where", settings.start_where);
  bucketing.selection.return_where = conditions_of("--return-where", settings.return_where);
  return bucketing;
}

// The bucketing a store's ingest uses: the store's own, with the options given on this
// command line put over it (a store without one takes them all, defaults included).
Bucketing ingest_bucketing(const Settings& settings, const CLI::App& command,
                           const std::optional<Bucketing>& stored) {
  Bucketing given = bucketing_of(settings);
  if (!stored) return given;
  Bucketing bucketing = *stored;
  auto is_given = [&command](const char* name) { return command.count(name) > 0; };
  if (is_given("--period")) bucketing.unit = given.unit;
  if (is_given("--tz")) bucketing.tz = given.tz;
  if (is_given("--week-start")) bucketing.week_start = given.week_start;
  if (is_given("--windows")) bucketing.rolling = given.rolling;
  if (is_given("--start-event")) bucketing.selection.start_event = given.selection.start_event;
  if (is_given("--return-event")) bucketing.selection.return_events = given.selection.return_events;
  if (is_given("--start-where")) bucketing.selection.start_where = given.selection.start_where;
  if (is_given("--return-where")) bucketing.selection.return_where = given.selection.return_where;
  return bucketing;
}

// "--start-event signin: no event has this name (names seen: open, signup)" for the selected
// names no event had; "" when every one matched.
std::string unmatched_names(const ReadResult& read, const EventSelection& selection) {
  auto unmatched = [&read](const std::string& name) {
    return std::find(read.unmatched.begin(), read.unmatched.end(), name) != read.unmatched.end();
  };
  std::vector<std::string> options;
  if (selection.start_event && unmatched(*selection.start_event)) {
    options.push_back(fmt::format("--start-event {}", *selection.start_event));
  }
  for (const std::string& name : selection.return_events) {
    if (unmatched(name)) options.push_back(fmt::format("--return-event {}", name));
  }
  if (options.empty()) return {};
  std::string seen = fmt::format("{}", fmt::join(read.names_seen, ", "));
  if (read.names_seen.size() == ReadResult::max_names_seen) seen += ", ...";
  return fmt::format("{}: no event has {} (names seen: {})", fmt::join(options, ", "),
                     options.size() == 1 ? "this name" : "these names",
                     read.names_seen.empty() ? "none" : seen);
}

// "--start-where plan=gold: no event meets this condition" for the conditions no event met;
// "" when every one was.
std::string unmet_conditions(const ReadResult& read) {
  if (read.unmet.empty()) return {};
  return fmt::format("{}: no event meets {}", fmt::join(read.unmet, ", "),
                     read.unmet.size() == 1 ? "this condition" : "these conditions");
}

MatrixOptions matrix_options_of(const Settings& settings) {
  MatrixOptions options;
  options.type = parse_cohort_type(settings.cohort);
  options.criterion = parse_criterion(settings.criterion);
  if (settings.periods > 0) options.periods = settings.periods;
  return options;
}

std::optional<Instant> as_of_of(const Settings& settings) {
  if (settings.as_of.empty()) return std::nullopt;
  return cli::instant_option("--as-of", settings.as_of);
}

// The cells of every --by group with cells (of all users without `breakdown`).
std::vector<GroupCells> groups_of(const State& state, const Calendar& calendar,
                                  const MatrixOptions& matrix, Instant as_of,
                                  RollingEvents* rolling, const Breakdown* breakdown) {
  auto cells_of = [&](const Roaring* users) {
    return rolling != nullptr ? rolling->matrix(calendar, matrix, as_of, users)
                              : compute_matrix(state.activity, calendar, matrix, as_of, users);
  };
  if (breakdown == nullptr) return {{std::nullopt, cells_of(nullptr)}};
  std::vector<GroupCells> groups;
  for (Breakdown::Group& group : breakdown->groups()) {
    std::vector<Cell> cells = cells_of(&group.users);
    if (!cells.empty()) groups.push_back({std::move(group.value), std::move(cells)});
  }
  return groups;
}

// Saves the state when asked, then prints its matrix (from `rolling` for rolling windows; one
// per group with a `breakdown`).
void report(const Settings& settings, const State& state, OutputStream& out,
            RollingEvents* rolling = nullptr, const Breakdown* breakdown = nullptr) {
  MatrixOptions matrix = matrix_options_of(settings);
  std::optional<Instant> as_of = as_of_of(settings);
  if (!settings.save_state.empty()) write_state_file(settings.save_state, state);
  if (!as_of) as_of = state.activity.latest();
  Calendar calendar = state.bucketing.calendar();
  std::vector<GroupCells> groups;
  if (as_of) groups = groups_of(state, calendar, matrix, *as_of, rolling, breakdown);
  print_matrix(out, settings.format, groups,
               {calendar, matrix, state.bucketing.rolling, breakdown != nullptr}, settings.summary);
}

// Saved states and the store keep period bitmaps, which rolling windows cannot use.
void refuse_rolling_state(const Bucketing& bucketing, std::string_view what) {
  if (bucketing.rolling) {
    throw Error(exit_code::usage,
                fmt::format("--windows rolling needs every event's time, which {} does not "
                            "keep: use calendar windows",
                            what));
  }
}

// --by needs each user's first start event, which saved states keep no trace of: their
// bitmaps say who started in a period, not when or with what value.
std::optional<std::string> by_of(const Settings& settings) {
  if (settings.by.empty()) return std::nullopt;
  if (!settings.save_state.empty()) {
    throw Error(exit_code::usage,
                "--by needs each user's first start event and its value, which --save-state "
                "does not keep: run it on the events");
  }
  return settings.by;
}

int run_matrix(const Settings& settings, OutputStream& out) {
  // Every option is checked before any input is read.
  State state;
  state.bucketing = bucketing_of(settings);
  Calendar calendar = state.bucketing.calendar();
  matrix_options_of(settings);
  as_of_of(settings);
  if (!settings.save_state.empty()) refuse_rolling_state(state.bucketing, "--save-state");
  std::optional<std::string> by = by_of(settings);
  // The links are read whole before the events (a bad link is found before any event).
  std::optional<Aliases> aliases;
  if (!settings.alias_file.empty()) aliases = Aliases::load(settings.alias_file);
  ReadOptions options{settings.fields,
                      state.bucketing.selection,
                      settings.input,
                      by,
                      aliases ? &*aliases : nullptr,
                      settings.progress,
                      "cohort matrix"};
  RollingEvents rolling;
  RollingEvents* keep = state.bucketing.rolling ? &rolling : nullptr;
  Breakdown breakdown;
  ReadResult read = read_events(settings.inputs, options, calendar, state.users, state.activity,
                                keep, &breakdown);
  // A misspelt event name would give an empty matrix or 0% retention, plausible and wrong.
  // So would a misspelt field or value of a condition.
  for (const std::string& message :
       {unmatched_names(read, state.bucketing.selection), unmet_conditions(read)}) {
    if (!message.empty()) throw Error(exit_code::data, message);
  }
  report(settings, state, out, keep, options.by ? &breakdown : nullptr);
  return read.skipped > 0 ? exit_code::definite_no : 0;
}

Store open_store(const Settings& settings, cli::StateFile file) {
  return cli::open_state<Store>(settings.state, "cohort", file);
}

// Later ingests may leave the bucketing options out: the store's own apply. Given ones must
// match it (Store::ingest checks).
int run_ingest(const Settings& settings, const CLI::App& command, OutputStream& out) {
  State fresh;
  fresh.bucketing = bucketing_of(settings);
  refuse_rolling_state(fresh.bucketing, "the store");
  for (const std::string& path : settings.inputs) {
    if (path != "-") InputFile check(path);  // a missing input creates no state file (66)
  }
  Store store = open_store(settings, cli::StateFile::create);
  fresh.bucketing = ingest_bucketing(settings, command, store.bucketing());
  Calendar calendar = fresh.bucketing.calendar();
  ReadOptions options{settings.fields, fresh.bucketing.selection, settings.input};
  options.progress = settings.progress;
  options.progress_label = "cohort ingest";
  ReadResult read = read_events(settings.inputs, options, calendar, fresh.users, fresh.activity);
  // One file may lack an event others have (a day without signups): a note, not an error.
  for (const std::string& message :
       {unmatched_names(read, fresh.bucketing.selection), unmet_conditions(read)}) {
    if (!message.empty()) note(message);
  }
  IngestResult result = store.ingest(fresh);
  print_record(out, settings.format,
               JsonValue::object(
                   {{"events", JsonValue::integer(static_cast<long long>(read.events))},
                    {"skipped", JsonValue::integer(static_cast<long long>(read.skipped))},
                    {"users", JsonValue::integer(static_cast<long long>(result.users))},
                    {"new_users", JsonValue::integer(static_cast<long long>(result.new_users))},
                    {"bitmaps_changed",
                     JsonValue::integer(static_cast<long long>(result.bitmaps_changed))}}));
  return read.skipped > 0 ? exit_code::definite_no : 0;
}

int run_report(const Settings& settings, OutputStream& out) {
  matrix_options_of(settings);
  as_of_of(settings);
  Store store = open_store(settings, cli::StateFile::must_exist);
  report(settings, store.load(!settings.save_state.empty()), out);
  return 0;
}

// Takes the users out of the store, as if their events had never been ingested.
int run_forget(const Settings& settings, OutputStream& out) {
  if (std::find(settings.users.begin(), settings.users.end(), "") != settings.users.end()) {
    throw Error(exit_code::usage, "--user: a user id is empty");
  }
  Store store = open_store(settings, cli::StateFile::must_exist);
  ForgetResult result = store.forget(settings.users);
  auto count = [](std::uint64_t value) {
    return JsonValue::integer(static_cast<long long>(value));
  };
  print_record(out, settings.format,
               JsonValue::object({{"forgotten", count(result.forgotten)},
                                  {"unknown", count(result.unknown)},
                                  {"bitmaps_changed", count(result.bitmaps_changed)}}));
  return 0;
}

int run_merge(const Settings& settings, OutputStream& out) {
  matrix_options_of(settings);
  as_of_of(settings);
  State merged;
  for (std::size_t index = 0; index < settings.inputs.size(); ++index) {
    const std::string& path = settings.inputs[index];
    State state = read_state_file(path);
    if (index == 0) {
      merged.bucketing = state.bucketing;
    } else if (!(state.bucketing == merged.bucketing)) {
      throw Error(exit_code::data,
                  fmt::format("{}: bucketed as {}, but {} as {}: states merge only when built "
                              "with the same --period, --tz, --week-start, events and conditions",
                              path, state.bucketing.canonical(), settings.inputs.front(),
                              merged.bucketing.canonical()));
    }
    merge_into(merged, state);
  }
  report(settings, merged, out);
  return 0;
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  Settings& s = *settings;
  return cli::add_subcommands(
      app, {{"matrix", "Retention matrix of event files (the default)",
             [&s](CLI::App& command) {
               command.add_option("inputs", s.inputs, "Event files (default: stdin)");
               add_bucketing_options(command, s);
               add_matrix_options(command, s);
               add_report_options(command, s);
             },
             [settings] {
               return with_stdout([&](OutputStream& out) { return run_matrix(*settings, out); });
             }},
            {"merge", "Retention matrix of saved states, merged",
             [&s](CLI::App& command) {
               command.add_option("states", s.inputs, "State files from --save-state")->required();
               add_report_options(command, s);
             },
             [settings] {
               return with_stdout([&](OutputStream& out) { return run_merge(*settings, out); });
             }},
            {"ingest", "Add event files to a store (idempotent)",
             [&s](CLI::App& command) {
               command.add_option("inputs", s.inputs, "Event files (default: stdin)");
               add_bucketing_options(command, s);
               cli::add_format_option(command, s.format);
               cli::add_state_options(command, s.state, cli::WithNow::no);
             },
             [settings, &app] {
               return with_stdout([&](OutputStream& out) {
                 return run_ingest(*settings, *app.get_subcommand("ingest"), out);
               });
             }},
            {"report", "Retention matrix of a store",
             [&s](CLI::App& command) {
               add_report_options(command, s);
               cli::add_state_options(command, s.state, cli::WithNow::no);
             },
             [settings] {
               return with_stdout([&](OutputStream& out) { return run_report(*settings, out); });
             }},
            {"forget", "Take users out of a store (a data subject's erasure request)",
             [&s](CLI::App& command) {
               command
                   .add_option("--user", s.users,
                               "User id to forget (repeatable; the option once per id)")
                   ->type_name("ID")
                   ->allow_extra_args(false)
                   ->required();
               cli::add_format_option(command, s.format);
               cli::add_state_options(command, s.state, cli::WithNow::no);
             },
             [settings] {
               return with_stdout([&](OutputStream& out) { return run_forget(*settings, out); });
             }}});
}

}  // namespace sluice::cohort
