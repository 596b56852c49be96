#include "zscore_cli.hpp"

#include <unistd.h>

#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include "sluice/error.hpp"
#include "sluice/fdio.hpp"
#include "sluice/names.hpp"
#include "sluice/timezone.hpp"
#include "zscore_store.hpp"
#include "zscore_stream.hpp"

namespace sluice::zscore {

namespace {

constexpr NameTable<RecordKinds, 3> record_kinds_names({{{"points", RecordKinds::points},
                                                         {"incidents", RecordKinds::incidents},
                                                         {"both", RecordKinds::both}}});

// Bounds of the counting options: the points a series keeps (each costs memory per series)
// and the counters that only count.
constexpr long long max_points = 1'000'000;
constexpr long long max_count = 1'000'000'000;

struct Settings {
  StreamOptions stream;
  std::string method = "zscore";
  std::string direction = "both";
  std::string trigger = "1/1";
  std::optional<double> threshold;  // default: 3.5 for robust, 3 otherwise
  std::string season = "1d";
  std::optional<std::string> interval;
  std::string missing = "skip";
  std::string time_zone = "UTC";
  std::optional<TimeZone> zone;
  std::optional<std::string> reorder_window;
  std::optional<std::string> absent_after;
  bool allow_unsorted = false;
  cli::StateOptions state;
  CLI::Option* window_option = nullptr;
  bool fail_on_anomaly = false;
  bool fail_on_alert_start = false;
  bool quiet = false;
};

MethodKind parse_method(const std::string& text) {
  for (auto kind : {MethodKind::zscore, MethodKind::ewma, MethodKind::robust, MethodKind::seasonal,
                    MethodKind::holt_winters}) {
    if (text == method_name(kind)) return kind;
  }
  throw Error(
      exit_code::usage,
      fmt::format("--method: '{}' is not zscore, robust, seasonal, ewma or holt-winters", text));
}

// --season, --interval, --lookback and --tz for the seasonal method.
void check_seasonal(Settings& settings) {
  SeasonalOptions& seasonal = settings.stream.detector.seasonal;
  seasonal.season = cli::duration_option("--season", settings.season);
  if (settings.stream.interval) seasonal.bucket = *settings.stream.interval;
  if (seasonal.season.count() <= 0 || seasonal.bucket.count() <= 0 ||
      seasonal.season.count() % seasonal.bucket.count() != 0) {
    throw Error(exit_code::usage,
                fmt::format("--season {} must be a positive whole number of --interval {}",
                            settings.season, format_duration(seasonal.bucket)));
  }
  if (seasonal.lookback == 0) throw Error(exit_code::usage, "--lookback must be at least 1");
  settings.zone = TimeZone::named("--tz", settings.time_zone);
  seasonal.zone = &*settings.zone;
}

void check_holt_winters(Settings& settings) {
  HoltWintersOptions& options = settings.stream.detector.holt_winters;
  const std::optional<Duration>& interval = settings.stream.interval;
  if (options.season_length == 0 && interval) {
    // The declared spacing turns --season into points (never a guessed one).
    Duration season = cli::duration_option("--season", settings.season);
    if (season.count() % interval->count() != 0) {
      throw Error(exit_code::usage,
                  fmt::format("--season {} must be a whole number of --interval {}",
                              settings.season, format_duration(*interval)));
    }
    options.season_length = static_cast<std::size_t>(season.count() / interval->count());
  }
  if (options.season_length > max_points) {
    throw Error(exit_code::usage,
                fmt::format("--method holt-winters: a season of {} points is more than {}",
                            options.season_length, max_points));
  }
  if (options.season_length < 2) {
    throw Error(exit_code::usage,
                "--method holt-winters needs --season-length M (points per season, at least 2), "
                "or --interval with --season");
  }
  for (auto [name, value] : {std::pair{"--alpha", options.alpha},
                             {"--beta", options.beta},
                             {"--gamma", options.gamma}}) {
    if (!(value >= 0 && value <= 1)) {
      throw Error(exit_code::usage, fmt::format("{} must be in [0, 1]", name));
    }
  }
  if (settings.window_option->count() > 0) {
    options.residual_window = settings.stream.detector.window;
  }
  options.fit_history = settings.stream.detector.min_history;
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

// --interval and --missing (the spacing is never guessed: zero filling needs it declared).
void check_spacing(Settings& settings) {
  StreamOptions& stream = settings.stream;
  if (settings.interval) {
    stream.interval = cli::duration_option("--interval", *settings.interval);
    if (stream.interval->count() <= 0) throw Error(exit_code::usage, "--interval must be positive");
  }
  if (settings.missing != "skip" && settings.missing != "zero") {
    throw Error(exit_code::usage,
                fmt::format("--missing: '{}' is not skip or zero", settings.missing));
  }
  stream.missing_as_zero = settings.missing == "zero";
  if (stream.missing_as_zero && !stream.interval) {
    throw Error(exit_code::usage, "--missing zero needs --interval (the points' spacing)");
  }
  if (stream.missing_as_zero &&
      stream.detector.holt_winters.seasonality == Seasonality::multiplicative) {
    throw Error(exit_code::usage,
                "--missing zero cannot go with --seasonality multiplicative (it divides by "
                "values)");
  }
  for (auto [name, text, span] :
       {std::tuple{"--reorder-window", &settings.reorder_window, &stream.reorder_window},
        std::tuple{"--absent-after", &settings.absent_after, &stream.absent_after}}) {
    if (!*text) continue;
    *span = cli::duration_option(name, **text);
    if ((*span)->count() <= 0)
      throw Error(exit_code::usage, fmt::format("{} must be positive", name));
  }
}

void check_settings(Settings& settings) {
  check_spacing(settings);
  DetectorOptions& detector = settings.stream.detector;
  detector.method = parse_method(settings.method);
  detector.direction = parse_direction(settings.direction);
  parse_trigger(settings.trigger, detector);
  detector.threshold = settings.threshold.value_or(detector.method == MethodKind::robust ? 3.5 : 3);
  if (detector.method == MethodKind::seasonal) check_seasonal(settings);
  if (detector.method == MethodKind::holt_winters) {
    detector.holt_winters.alpha = detector.alpha;
    check_holt_winters(settings);
  }
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
    if (key.empty()) throw Error(exit_code::usage, "--key: a field name is empty");
    if (key == stream.value_field || key == stream.time_field) {
      throw Error(exit_code::usage,
                  fmt::format("--key {}: the value and time fields cannot name a series", key));
    }
  }
}

// The options that shape a series' saved state, as text: a --db file keeps one set.
std::string canonical_settings(const Settings& settings) {
  const StreamOptions& stream = settings.stream;
  const DetectorOptions& detector = stream.detector;
  std::string text = fmt::format("method={}", method_name(detector.method));
  switch (detector.method) {
    case MethodKind::zscore:
    case MethodKind::robust:
      text += fmt::format(" window={}", detector.window);
      break;
    case MethodKind::ewma:
      text += fmt::format(" alpha={}", detector.alpha);
      break;
    case MethodKind::seasonal:
      text += fmt::format(" season={} lookback={} tz={}", format_duration(detector.seasonal.season),
                          detector.seasonal.lookback, settings.time_zone);
      break;
    case MethodKind::holt_winters: {
      const HoltWintersOptions& hw = detector.holt_winters;
      text +=
          fmt::format(" season-length={} alpha={} beta={} gamma={} fit={} window={}",
                      hw.season_length, hw.alpha, hw.beta, hw.gamma, hw.fit, hw.residual_window);
      // Written only when not the default, so that files kept before it existed still match.
      if (hw.seasonality != Seasonality::additive) {
        text += fmt::format(" seasonality={}", seasonality_names.name(hw.seasonality));
      }
      break;
    }
  }
  if (detector.transform != Transform::none) {
    text += fmt::format(" transform={}", transform_names.name(detector.transform));
  }
  text += fmt::format(" missing={}", settings.missing);
  if (stream.interval) text += fmt::format(" interval={}", format_duration(*stream.interval));
  text += fmt::format(" min-history={} trigger={}/{} key={} value-field={} time-field={}",
                      detector.min_history, detector.trigger_count, detector.trigger_of,
                      fmt::join(stream.keys, ","), stream.value_field, stream.time_field);
  return text;
}

// Above this share of points out of time order, the input is taken for unsorted: its results
// would be a fraction of what it holds.
constexpr double max_out_of_order_share = 0.01;

// An error for a --key no point had, and for input out of time order beyond
// max_out_of_order_share (unless --allow-unsorted): either leaves the state uncommitted.
// Otherwise a note on what the run dropped, on standard error.
void report_drops(const StreamResult& result, const Settings& settings) {
  if (!result.absent_keys.empty()) {
    throw Error(exit_code::data,
                fmt::format("--key {}: no point has this field (misspelt? several fields are "
                            "a comma list: --key metric,host)",
                            fmt::join(result.absent_keys, ",")));
  }
  double share = result.points == 0 ? 0
                                    : static_cast<double>(result.out_of_order) /
                                          static_cast<double>(result.points);
  if (share > max_out_of_order_share && !settings.allow_unsorted) {
    throw Error(exit_code::data,
                fmt::format("{} of {} points ({:.1f}%) came before their series' latest point "
                            "and were not judged: the input is not in time order. Sort it by "
                            "time, or give --reorder-window D, or --allow-unsorted to accept "
                            "the loss",
                            result.out_of_order, result.points, 100 * share));
  }
  const std::pair<std::uint64_t, std::string_view> kinds[] = {
      {result.seen_before, "judged by an earlier run"},
      {result.repeated, "repeating their series' latest time"},
      {result.out_of_order, "out of time order"}};
  std::vector<std::string> parts;
  std::uint64_t dropped = 0;
  for (const auto& [count, kind] : kinds) {
    if (count > 0) parts.push_back(fmt::format("{} {}", count, kind));
    dropped += count;
  }
  if (dropped > 0 && !settings.quiet) {
    note(fmt::format("{} point(s) at or before the latest time of their series were dropped: {}",
                     dropped, fmt::join(parts, ", ")));
  }
}

int run_detect(Settings& settings) {
  check_settings(settings);
  std::optional<SeriesStore> store;
  if (!settings.state.db_path.empty()) {
    // Only --db gives zscore state (there is no default file); state_path refuses a URL.
    store.emplace(cli::state_path(settings.state, "zscore", cli::StateFile::create),
                  settings.state.busy_timeout, canonical_settings(settings));
  }
  OutputStream out(STDOUT_FILENO);
  if (settings.stream.detector.holt_winters.fit && !settings.quiet) {
    settings.stream.on_fit = [&settings](std::string_view series, const Smoothing& chosen) {
      note(
          fmt::format("series {}: --fit chose alpha {} beta {} gamma {} from its first {} "
                      "points",
                      series, chosen.alpha, chosen.beta, chosen.gamma,
                      settings.stream.detector.holt_winters.start_points()));
    };
  }
  StreamResult result = run_stream(settings.stream, out, store ? &*store : nullptr);
  out.flush();
  report_drops(result, settings);
  if (store) store->commit();
  bool flagged = (settings.fail_on_anomaly && result.anomalies > 0) ||
                 (settings.fail_on_alert_start && result.incidents_started > 0);
  return flagged || result.skipped > 0 ? exit_code::definite_no : 0;
}

void add_detect_options(CLI::App& command, Settings& settings) {
  StreamOptions& stream = settings.stream;
  DetectorOptions& detector = stream.detector;
  command.add_option("inputs", stream.inputs, "Metric files (default: stdin)");
  // One field per occurrence: `--key host FILE` reads FILE (CLI11 would take it as a key).
  command
      .add_option("-k,--key", stream.keys,
                  "Fields naming the series: a comma list, or the option repeated")
      ->allow_extra_args(false)
      ->delimiter(',');
  command.add_option("--value-field", stream.value_field, "Field holding the value")
      ->capture_default_str();
  command.add_option("--time-field", stream.time_field, "Field holding the time")
      ->capture_default_str();
  cli::complete_with(
      command
          .add_option("--method", settings.method, "zscore, robust, seasonal, ewma, holt-winters")
          ->capture_default_str(),
      {"zscore", "robust", "seasonal", "ewma", "holt-winters"});
  settings.window_option =
      command
          .add_option("--window", detector.window,
                      "zscore, robust: trailing points; holt-winters: residuals kept")
          ->check(cli::whole_number(0, max_points))
          ->capture_default_str();
  command.add_option("--alpha", detector.alpha, "ewma, holt-winters: weight of the newest point")
      ->capture_default_str();
  command
      .add_option("--season", settings.season,
                  "seasonal, holt-winters with --interval: the season's length (1d, 7d)")
      ->capture_default_str();
  command
      .add_option("--lookback", detector.seasonal.lookback, "seasonal: previous seasons compared")
      ->check(cli::whole_number(0, max_points))
      ->capture_default_str();
  command.add_option("--tz", settings.time_zone, "seasonal: time zone of the local calendar")
      ->capture_default_str();
  command.add_option("--interval", settings.interval,
                     "The points' spacing (seasonal: phases are rounded down to it)");
  cli::complete_with(command
                         .add_option("--missing", settings.missing,
                                     "What a gap of whole intervals means: skip (nothing) or "
                                     "zero (zeros)")
                         ->capture_default_str(),
                     {"skip", "zero"});
  command
      .add_option("--season-length", detector.holt_winters.season_length,
                  "holt-winters: points per season")
      ->check(cli::whole_number(0, max_points));
  command.add_option("--beta", detector.holt_winters.beta, "holt-winters: trend smoothing")
      ->capture_default_str();
  command.add_flag("--fit", detector.holt_winters.fit,
                   "holt-winters: choose alpha, beta, gamma from the first points");
  command.add_option("--gamma", detector.holt_winters.gamma, "holt-winters: season smoothing")
      ->capture_default_str();
  cli::add_choice_option(command, "--seasonality", detector.holt_winters.seasonality,
                         seasonality_names,
                         "holt-winters: the season is added to the level, or multiplies it");
  cli::add_choice_option(command, "--transform", detector.transform, transform_names,
                         "The model sees sqrt(value) or log (ln(1 + value)); values below 0 "
                         "are bad input");
  command.add_option("--threshold", settings.threshold,
                     "|z| above this exceeds (default 3; 3.5 for robust)");
  cli::complete_with(command.add_option("--direction", settings.direction, "both, up or down")
                         ->capture_default_str(),
                     {"both", "up", "down"});
  command
      .add_option("--min-history", detector.min_history,
                  "Points a series needs before it is judged (default: min(--window, 30) "
                  "for zscore and robust, ceil(1/alpha) for ewma, a lookback of values per "
                  "phase for seasonal, two seasons for holt-winters, three with --fit)")
      ->check(cli::whole_number(0, max_count));
  command.add_option("--trigger", settings.trigger, "Alert when K of the last N points exceed")
      ->capture_default_str();
  command.add_option("--recover", detector.recover, "Points below the threshold to end an alert")
      ->check(cli::whole_number(0, max_count))
      ->capture_default_str();
  command
      .add_option("--max-series", stream.max_series,
                  "Series held in memory at most; a point starting one more is a bad line")
      ->check(cli::whole_number(1, max_count))
      ->capture_default_str();
  command.add_flag("--only-anomalies", stream.only_anomalies, "Print only flagged points");
  command.add_flag("--fail-on-anomaly", settings.fail_on_anomaly, "Exit 1 if a point was flagged");
  cli::add_choice_option(command, "--records", stream.records, record_kinds_names,
                         "points (one per point), incidents (alert_start, alert_end) or both");
  command.add_flag("--fail-on-alert-start", settings.fail_on_alert_start,
                   "Exit 1 if an incident (an alert, or an absence) started in this run");
  cli::add_input_options(command, stream.input);
  cli::add_progress_option(command, stream.progress);
  command.add_option("--reorder-window", settings.reorder_window,
                     "Judge points in time order within this span of their own time (5m)");
  command.add_option("--absent-after", settings.absent_after,
                     "Alert for a series silent this long before the run's latest point");
  command.add_flag("--allow-unsorted", settings.allow_unsorted,
                   "Exit 0 though over 1% of points came out of time order (and were dropped)");
  command.add_flag("-q,--quiet", settings.quiet,
                   "No notes on standard error (dropped points, parameters --fit chose)");
  cli::add_state_options(command, settings.state, cli::WithNow::no);
  command.get_option("--db")->description(
      "Keep each series' state in FILE between runs (default: none, state lives for the run)");
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
