#include "cohort_cli.hpp"

#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cohort_events.hpp"
#include "cohort_matrix.hpp"
#include "cohort_output.hpp"
#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::cohort {

namespace {

struct Settings {
  std::vector<std::string> inputs;
  EventFields fields;
  std::string start_event;
  std::string return_event;
  std::string period = "day";
  std::string tz = "UTC";
  std::string week_start = "monday";
  std::string cohort = "first";
  std::string criterion = "on";
  int periods = 0;
  std::string as_of;
  bool summary = false;
  bool skip_invalid = false;
  cli::Format format = cli::Format::jsonl;
};

void add_event_options(CLI::App& command, Settings& settings) {
  command.add_option("--user-field", settings.fields.user, "Field holding the user id")
      ->capture_default_str();
  command.add_option("--time-field", settings.fields.time, "Field holding the event time")
      ->capture_default_str();
  command.add_option("--event-field", settings.fields.event, "Field holding the event name")
      ->capture_default_str();
  command.add_option("--start-event", settings.start_event,
                     "Event that puts a user in a cohort (default: any)");
  command.add_option("--return-event", settings.return_event,
                     "Event that counts as a return (default: any)");
  command.add_option("--period", settings.period, "day, week or month")->capture_default_str();
  command.add_option("--tz", settings.tz, "IANA time zone of the calendar")->capture_default_str();
  command.add_option("--week-start", settings.week_start, "First day of a week")
      ->capture_default_str();
  command.add_flag("--skip-invalid", settings.skip_invalid, "Report bad lines, go on, exit 1");
}

void add_report_options(CLI::App& command, Settings& settings) {
  command.add_option("--cohort", settings.cohort, "first or recurring")->capture_default_str();
  command.add_option("--criterion", settings.criterion, "on or on-or-after")->capture_default_str();
  command.add_option("--periods", settings.periods, "At most N periods per cohort (0 = all)")
      ->check(CLI::NonNegativeNumber);
  command.add_option("--as-of", settings.as_of,
                     "Time that decides complete cells (default: the latest event)");
  command.add_flag("--summary", settings.summary, "Add the weighted average of each period");
  cli::add_format_option(command, settings.format);
}

Calendar calendar_of(const Settings& settings) {
  return Calendar(parse_period_unit(settings.period), TimeZone::named("--tz", settings.tz),
                  parse_week_start(settings.week_start));
}

ReadOptions read_options_of(const Settings& settings) {
  ReadOptions options;
  options.fields = settings.fields;
  if (!settings.start_event.empty()) options.selection.start_event = settings.start_event;
  if (!settings.return_event.empty()) options.selection.return_event = settings.return_event;
  options.skip_invalid = settings.skip_invalid;
  return options;
}

MatrixOptions matrix_options_of(const Settings& settings) {
  MatrixOptions options;
  options.type = parse_cohort_type(settings.cohort);
  options.criterion = parse_criterion(settings.criterion);
  if (settings.periods > 0) options.periods = settings.periods;
  return options;
}

int run_matrix(const Settings& settings, OutputStream& out) {
  // Every option is checked before any input is read.
  Calendar calendar = calendar_of(settings);
  MatrixOptions matrix = matrix_options_of(settings);
  std::optional<Instant> as_of;
  if (!settings.as_of.empty()) as_of = cli::instant_option("--as-of", settings.as_of);
  UserDictionary users;
  Activity activity;
  ReadResult read =
      read_events(settings.inputs, read_options_of(settings), calendar, users, activity);
  if (!as_of) as_of = activity.latest();
  std::vector<Cell> cells;
  if (as_of) cells = compute_matrix(activity, calendar, matrix, *as_of);
  print_matrix(out, settings.format, cells, {calendar, matrix}, settings.summary);
  return read.skipped > 0 ? exit_code::definite_no : 0;
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  app.require_subcommand(1);
  auto* matrix = app.add_subcommand("matrix", "Retention matrix of event files (the default)");
  matrix->add_option("inputs", settings->inputs, "Event files (default: stdin)");
  add_event_options(*matrix, *settings);
  add_report_options(*matrix, *settings);
  return [settings]() -> int {
    OutputStream out(STDOUT_FILENO);
    int status = run_matrix(*settings, out);
    out.flush();
    return status;
  };
}

}  // namespace sluice::cohort
