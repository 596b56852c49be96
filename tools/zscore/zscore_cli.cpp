#include "zscore_cli.hpp"

#include <unistd.h>

#include <charconv>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"
#include "zscore_stream.hpp"

namespace sluice::zscore {

namespace {

struct Settings {
  StreamOptions stream;
  std::string method = "zscore";
  std::string direction = "both";
  std::string trigger = "1/1";
  double threshold = 3;
  bool fail_on_anomaly = false;
  bool quiet = false;
};

MethodKind parse_method(const std::string& text) {
  if (text == "zscore") return MethodKind::zscore;
  if (text == "ewma") return MethodKind::ewma;
  throw Error(exit_code::usage, fmt::format("--method: '{}' is not zscore or ewma", text));
}

Direction parse_direction(const std::string& text) {
  if (text == "both") return Direction::both;
  if (text == "up") return Direction::up;
  if (text == "down") return Direction::down;
  throw Error(exit_code::usage, fmt::format("--direction: '{}' is not both, up or down", text));
}

// "K/N" with 1 <= K <= N.
void parse_trigger(const std::string& text, DetectorOptions& options) {
  std::size_t slash = text.find('/');
  auto number = [&](std::string_view part, std::size_t& out) {
    auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), out);
    return error == std::errc() && end == part.data() + part.size();
  };
  std::string_view whole(text);
  if (slash == std::string::npos || !number(whole.substr(0, slash), options.trigger_count) ||
      !number(whole.substr(slash + 1), options.trigger_of) || options.trigger_count == 0 ||
      options.trigger_count > options.trigger_of) {
    throw Error(exit_code::usage,
                fmt::format("--trigger: '{}' is not K/N with 1 <= K <= N (e.g. 3/5)", text));
  }
}

void check_settings(Settings& settings) {
  DetectorOptions& detector = settings.stream.detector;
  detector.method = parse_method(settings.method);
  detector.direction = parse_direction(settings.direction);
  parse_trigger(settings.trigger, detector);
  detector.threshold = settings.threshold;
  if (detector.window < 2) throw Error(exit_code::usage, "--window must be at least 2");
  if (!(detector.alpha > 0 && detector.alpha <= 1)) {
    throw Error(exit_code::usage, "--alpha must be in (0, 1]");
  }
  if (!(detector.threshold > 0)) throw Error(exit_code::usage, "--threshold must be positive");
  if (detector.recover == 0) throw Error(exit_code::usage, "--recover must be at least 1");
  const StreamOptions& stream = settings.stream;
  if (stream.value_field == stream.time_field) {
    throw Error(exit_code::usage, "--value-field and --time-field must name different fields");
  }
  for (const std::string& key : stream.keys) {
    if (key == stream.value_field || key == stream.time_field) {
      throw Error(exit_code::usage,
                  fmt::format("--key {}: the value and time fields cannot name a series", key));
    }
  }
}

int run_detect(Settings& settings) {
  check_settings(settings);
  OutputStream out(STDOUT_FILENO);
  StreamResult result = run_stream(settings.stream, out);
  out.flush();
  if (result.stale > 0 && !settings.quiet) {
    note(fmt::format("{} point(s) at or before the latest time of their series were dropped",
                     result.stale));
  }
  bool flagged = settings.fail_on_anomaly && result.anomalies > 0;
  return flagged || result.skipped > 0 ? exit_code::definite_no : 0;
}

void add_detect_options(CLI::App& command, Settings& settings) {
  StreamOptions& stream = settings.stream;
  DetectorOptions& detector = stream.detector;
  command.add_option("inputs", stream.inputs, "Metric files (default: stdin)");
  command.add_option("--key", stream.keys, "Field naming the series (repeat for several)");
  command.add_option("--value-field", stream.value_field, "Field holding the value")
      ->capture_default_str();
  command.add_option("--time-field", stream.time_field, "Field holding the time")
      ->capture_default_str();
  command.add_option("--method", settings.method, "zscore or ewma")->capture_default_str();
  command.add_option("--window", detector.window, "zscore: trailing points")->capture_default_str();
  command.add_option("--alpha", detector.alpha, "ewma: weight of the newest point")
      ->capture_default_str();
  command.add_option("--threshold", settings.threshold, "|z| above this exceeds")
      ->capture_default_str();
  command.add_option("--direction", settings.direction, "both, up or down")->capture_default_str();
  command.add_option("--min-history", detector.min_history,
                     "Points a series needs before it is judged (default: --window for "
                     "zscore, ceil(1/alpha) for ewma)");
  command.add_option("--trigger", settings.trigger, "Alert when K of the last N points exceed")
      ->capture_default_str();
  command.add_option("--recover", detector.recover, "Points below the threshold to end an alert")
      ->capture_default_str();
  command.add_flag("--only-anomalies", stream.only_anomalies, "Print only flagged points");
  command.add_flag("--fail-on-anomaly", settings.fail_on_anomaly, "Exit 1 if a point was flagged");
  command.add_flag("--skip-invalid", stream.skip_invalid, "Report bad lines, go on, exit 1");
  command.add_flag("--quiet", settings.quiet, "No note about dropped points");
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  app.require_subcommand(1);
  auto* detect = app.add_subcommand("detect", "Score metric points, flag anomalies (the default)");
  add_detect_options(*detect, *settings);
  return [settings]() -> int { return run_detect(*settings); };
}

}  // namespace sluice::zscore
