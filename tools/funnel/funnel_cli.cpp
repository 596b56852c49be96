#include "funnel_cli.hpp"

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "funnel_run.hpp"
#include "sluice/error.hpp"
#include "sluice/fdio.hpp"
#include "sluice/format.hpp"

namespace sluice::funnel {

namespace {

struct Settings {
  std::vector<std::string> inputs;
  std::vector<std::string> steps;
  Duration window{0};
  Mode mode = Mode::standard;
  std::string by = "session";
  std::string time_field = "ts";
  std::string breakdown;
  std::string weight_field;
  InputOptions input;
  Format format = Format::jsonl;
};

FieldPath field_option(std::string_view option, const std::string& text) {
  return with_context(exit_code::usage, option, [&] { return parse_field_path(text); });
}

FunnelOptions options_of(const Settings& settings) {
  FunnelOptions options;
  options.steps = parse_steps(settings.steps);
  if (settings.window <= Duration::zero()) {
    throw Error(exit_code::usage, "--window: the window must be longer than 0");
  }
  options.window = settings.window.count();
  options.mode = settings.mode;
  options.entity = field_option("--by", settings.by);
  options.time = field_option("--time-field", settings.time_field);
  if (!settings.breakdown.empty())
    options.breakdown = field_option("--breakdown", settings.breakdown);
  if (!settings.weight_field.empty()) {
    options.weight = field_option("--weight-field", settings.weight_field);
  }
  options.input = settings.input;
  return options;
}

int run(const Settings& settings) {
  FunnelOptions options = options_of(settings);
  FunnelResult result = run_funnel(settings.inputs, options);
  return with_stdout([&](OutputStream& out) {
    RecordPrinter printer(out, settings.format);
    for (const JsonValue& row : report_rows(result.groups, options, settings.format)) {
      printer.print(row);
    }
    printer.finish();
    return result.skipped > 0 ? exit_code::definite_no : 0;
  });
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  Settings& s = *settings;
  app.add_option("inputs", s.inputs, "Event files (default: stdin)");
  app.add_option("--steps", s.steps,
                 "The steps in order, comma-separated conditions FIELD=VALUE (also !=, >, >=, <, "
                 "<=, and AND); repeatable")
      ->type_name("CONDITION,...")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->required();
  cli::add_duration_option(app, "--window", s.window,
                           "How long after its step-1 event a chain may reach a later step")
      ->required();
  cli::add_choice_option(app, "--mode", s.mode, mode_names,
                         "default, strict-order, strict-dedup or strict-increase");
  app.add_option("--by", s.by, "Field (or path a.b) naming the entity that goes through the funnel")
      ->type_name("FIELD")
      ->capture_default_str();
  app.add_option("--time-field", s.time_field, "Field holding the event time")
      ->type_name("FIELD")
      ->capture_default_str();
  app.add_option("--breakdown", s.breakdown,
                 "One funnel per value of FIELD on each entity's first step-1 event")
      ->type_name("FIELD");
  app.add_option("--weight-field", s.weight_field,
                 "Weight each entity by FIELD of its first step-1 event (sample's sample_rate): "
                 "Horvitz-Thompson estimates")
      ->type_name("FIELD");
  cli::add_input_options(app, s.input);
  cli::add_format_option(app, s.format);
  return [settings] { return run(*settings); };
}

}  // namespace sluice::funnel
