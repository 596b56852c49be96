#include "backoff_cli.hpp"

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "backoff_output.hpp"
#include "backoff_run.hpp"
#include "backoff_schedule.hpp"
#include "backoff_simulate.hpp"
#include "sluice/error.hpp"
#include "sluice/fdio.hpp"
#include "sluice/format.hpp"
#include "sluice/json.hpp"

namespace sluice::backoff {
namespace {

// --attempts: beyond this, "unlimited" (0) with --max-time is what is meant.
constexpr long long max_attempts = 1'000'000'000;

// The command line as written; converted and checked once parsing is done.
struct Settings {
  std::optional<long long> attempts;  // default: 5, or one more than the --delays
  std::string base = "1s";
  double multiplier = 2.0;
  std::string cap = "60s";
  std::vector<std::int64_t> delays_ms;  // --delays, parsed as the command line is
  Jitter jitter = Jitter::equal;        // none with --delays, unless --jitter is given
  CLI::Option* jitter_option = nullptr;
  std::string min_delay = "0";
  std::string max_time;
  std::string timeout;
  std::string kill_after = "5s";
  bool no_retry_on_timeout = false;
  std::string retry_on;
  std::string stop_on = "126,127,130,143";
  std::string success = "0";
  std::shared_ptr<const OutputPattern> retry_on_output;  // compiled as the command line is parsed
  std::shared_ptr<const OutputPattern> stop_on_output;
  std::optional<int> exit_code_on_giveup;
  std::string replay_stdin;
  std::string hold_stdout;
  std::string report;
  std::optional<std::uint64_t> seed;
  std::string stagger;
  std::string budget;
  cli::StateOptions state;
  bool quiet = false;
  std::vector<std::string> command;
  Format format = Format::jsonl;
  int clients = 100;
  int runs = 100;
  std::string strategy = "all";
};

std::int64_t whole_milliseconds(std::string_view option, const std::string& text) {
  return cli::duration_in_units(option, text, std::chrono::milliseconds(1), "milliseconds");
}

// --delays 1s,5s,30s: one comma-separated word (docs/ARCHITECTURE.md, "Command line").
std::vector<std::int64_t> listed_delays(const std::string& text) {
  std::vector<std::int64_t> delays;
  for (std::size_t start = 0;;) {
    std::size_t comma = text.find(',', start);
    std::string part = text.substr(start, comma == std::string::npos ? comma : comma - start);
    if (part.empty())
      throw Error(exit_code::usage, fmt::format("--delays: empty delay in '{}'", text));
    delays.push_back(whole_milliseconds("--delays", part));
    if (comma == std::string::npos) return delays;
    start = comma + 1;
  }
}

Jitter jitter_of(const Settings& settings, bool listed) {
  bool given = settings.jitter_option != nullptr && settings.jitter_option->count() > 0;
  if (!given) return listed ? Jitter::none : settings.jitter;
  if (listed && settings.jitter == Jitter::decorrelated) {
    throw Error(exit_code::usage,
                "--jitter decorrelated cannot be used with --delays (it grows from the previous "
                "sleep, not from a list)");
  }
  return settings.jitter;
}

ScheduleSettings schedule_settings(const Settings& settings) {
  if (!std::isfinite(settings.multiplier) || settings.multiplier < 1.0) {
    throw Error(exit_code::usage, "--multiplier must be a number of at least 1");
  }
  ScheduleSettings schedule;
  schedule.base_ms = whole_milliseconds("--base", settings.base);
  schedule.multiplier = settings.multiplier;
  schedule.cap_ms = whole_milliseconds("--cap", settings.cap);
  schedule.delays_ms = settings.delays_ms;
  schedule.jitter = jitter_of(settings, !schedule.delays_ms.empty());
  schedule.min_delay_ms = whole_milliseconds("--min-delay", settings.min_delay);
  return schedule;
}

std::optional<Duration> optional_duration(std::string_view option, const std::string& text) {
  if (text.empty()) return std::nullopt;
  return cli::duration_option(option, text);
}

// --attempts, checked after parsing: CLI11 turns a number past the range of long long into
// its largest value, which would be taken as a real (and endless) count. Without it, a
// --delays list sleeps each of its delays once: one attempt more than it has delays.
long long checked_attempts(const Settings& settings, const ScheduleSettings& schedule) {
  if (!settings.attempts) {
    return schedule.delays_ms.empty() ? 5 : static_cast<long long>(schedule.delays_ms.size()) + 1;
  }
  if (*settings.attempts < 0 || *settings.attempts > max_attempts) {
    throw Error(exit_code::usage,
                fmt::format("--attempts must be from 0 to {} (0: unlimited, with --max-time)",
                            max_attempts));
  }
  return *settings.attempts;
}

RunSettings run_settings(const Settings& settings) {
  RunSettings run;
  run.schedule = schedule_settings(settings);
  run.attempts = checked_attempts(settings, run.schedule);
  run.max_time = optional_duration("--max-time", settings.max_time);
  run.timeout = optional_duration("--timeout", settings.timeout);
  run.kill_after = cli::duration_option("--kill-after", settings.kill_after);
  run.retry_on_timeout = !settings.no_retry_on_timeout;
  if (!settings.retry_on.empty())
    run.retry_on = cli::exit_code_set("--retry-on", settings.retry_on);
  run.stop_on = cli::exit_code_set("--stop-on", settings.stop_on);
  run.success = cli::exit_code_set("--success", settings.success);
  run.retry_on_output = settings.retry_on_output;
  run.stop_on_output = settings.stop_on_output;
  run.exit_code_on_giveup = settings.exit_code_on_giveup;
  if (!settings.replay_stdin.empty())
    run.replay_stdin_limit = cli::size_option("--replay-stdin", settings.replay_stdin);
  if (!settings.hold_stdout.empty())
    run.hold_stdout_limit = cli::size_option("--hold-stdout", settings.hold_stdout);
  run.report_path = settings.report;
  run.seed = settings.seed;
  run.stagger = optional_duration("--stagger", settings.stagger);
  run.budget_key = settings.budget;
  if (!settings.budget.empty()) {
    auto target = cli::state_target(settings.state, "backoff", cli::StateFile::create,
                                    cli::Backends::sqlite_or_postgresql);
    run.budget_location = target.location;
    run.budget_options = target.options;
  }
  run.quiet = settings.quiet;
  run.command = settings.command;
  return run;
}

void add_schedule_options(CLI::App& command, Settings& settings) {
  command.add_option("--attempts", settings.attempts,
                     "Total tries including the first (default 5, or one more than the --delays; "
                     "0: unlimited, needs --max-time)");
  auto* base = command.add_option("--base", settings.base, "The first retry's ceiling")
                   ->type_name("DURATION");
  auto* multiplier =
      command.add_option("--multiplier", settings.multiplier, "Growth of the ceiling per failure");
  auto* cap =
      command.add_option("--cap", settings.cap, "The largest ceiling")->type_name("DURATION");
  // A fixed list instead of the exponential ceilings, as `retry -d 1,5,30`.
  command
      .add_option_function<std::string>(
          "--delays",
          [&settings](const std::string& text) { settings.delays_ms = listed_delays(text); },
          "Sleep these delays in turn, the last one repeated (like retry -d 1,5,30)")
      ->type_name("DURATIONS")
      ->excludes(base)
      ->excludes(multiplier)
      ->excludes(cap);
  settings.jitter_option =
      cli::add_choice_option(command, "--jitter", settings.jitter, jitter_names,
                             "How a sleep is drawn below its ceiling (none with --delays)");
  command.add_option("--min-delay", settings.min_delay, "A floor under every sleep")
      ->type_name("DURATION");
  command.add_option("--seed", settings.seed, "Make every random draw reproducible")
      ->check(cli::unsigned_whole_number(UINT64_MAX));
}

// A REGEX option, compiled as the command line is parsed: a bad expression is exit 2 before
// anything runs.
void add_pattern_option(CLI::App& command, const std::string& name,
                        std::shared_ptr<const OutputPattern>& target, const std::string& help) {
  command
      .add_option_function<std::string>(
          name,
          [&target, name](const std::string& text) {
            target = std::make_shared<const OutputPattern>(name, text);
          },
          help)
      ->type_name("REGEX");
}

void add_run_options(CLI::App& command, Settings& settings) {
  add_schedule_options(command, settings);
  command.add_option("--max-time", settings.max_time, "One deadline over all attempts")
      ->type_name("DURATION");
  command.add_option("--timeout", settings.timeout, "Time limit of each attempt")
      ->type_name("DURATION");
  command.add_option("--kill-after", settings.kill_after, "SIGKILL this long after SIGTERM")
      ->type_name("DURATION");
  command.add_flag("--no-retry-on-timeout", settings.no_retry_on_timeout,
                   "Give up when an attempt times out");
  command.add_option("--retry-on", settings.retry_on, "Retry only these statuses")
      ->type_name("CODES");
  command.add_option("--stop-on", settings.stop_on, "Never retry these statuses")
      ->type_name("CODES");
  command.add_option("--success", settings.success, "Statuses that mean success")
      ->type_name("CODES");
  add_pattern_option(command, "--retry-on-output", settings.retry_on_output,
                     "Retry when a line of stdout or stderr matches (POSIX ERE), even after a "
                     "success");
  add_pattern_option(command, "--stop-on-output", settings.stop_on_output,
                     "Never retry when a line of stdout or stderr matches (POSIX ERE)");
  command
      .add_option("--exit-code-on-giveup", settings.exit_code_on_giveup,
                  "Exit with N instead of the last status when giving up")
      ->check(CLI::Range(0, 255));
  // Flags with an optional "=SIZE" (like --wait in idemkey): "--hold-stdout -- cmd" keeps "--".
  command
      .add_flag("--replay-stdin{64MiB}", settings.replay_stdin,
                "Read stdin once (at most SIZE) and feed it to every attempt")
      ->type_name("[=SIZE]");
  command
      .add_flag("--hold-stdout{16MiB}", settings.hold_stdout,
                "Pass on stdout only from the successful attempt (SIZE in memory, then a file)")
      ->type_name("[=SIZE]");
  command.add_option("--report", settings.report, "Append JSON Lines events to FILE (- stdout)")
      ->type_name("FILE");
  command.add_option("--stagger", settings.stagger, "Sleep U(0, D) before the first attempt")
      ->type_name("DURATION");
  command.add_option("--budget", settings.budget, "Share a retry budget under KEY (with --db)")
      ->type_name("KEY");
  cli::add_state_options(command, settings.state, cli::WithNow::no);
  command.add_flag("--quiet,-q", settings.quiet, "No notes about retries on stderr");
}

int print_schedule(const Settings& settings) {
  ScheduleSettings schedule_settings_value = schedule_settings(settings);
  long long attempts = checked_attempts(settings, schedule_settings_value);
  if (attempts < 1) throw Error(exit_code::usage, "schedule needs --attempts of 1 or more");
  std::uint64_t seed = settings.seed ? *settings.seed : Random::os_seed();
  if (!settings.seed && !settings.quiet) {
    note(fmt::format("the sleeps are one sample; --seed {} draws it again", seed));
  }
  Random random(seed);
  Schedule schedule(schedule_settings_value, random);
  OutputStream out(1);
  RecordPrinter printer(out, settings.format);
  std::int64_t total = 0, total_min = 0, total_max = 0;
  for (long long attempt = 2; attempt <= attempts; ++attempt) {
    Delay delay = schedule.next();
    total += delay.sleep_ms;
    total_min += delay.min_ms;
    total_max += delay.max_ms;
    printer.print(JsonValue::object({{"attempt", JsonValue::integer(delay.attempt)},
                                     {"after_failures", JsonValue::integer(delay.after_failures)},
                                     {"ceiling_ms", JsonValue::integer(delay.ceiling_ms)},
                                     {"min_ms", JsonValue::integer(delay.min_ms)},
                                     {"max_ms", JsonValue::integer(delay.max_ms)},
                                     {"sleep_ms", JsonValue::integer(delay.sleep_ms)},
                                     {"total_ms", JsonValue::integer(total)},
                                     {"total_min_ms", JsonValue::integer(total_min)},
                                     {"total_max_ms", JsonValue::integer(total_max)}}));
  }
  printer.finish();
  out.flush();
  return exit_code::success;
}

int print_simulation(const Settings& settings) {
  if (settings.clients < 1 || settings.runs < 1) {
    throw Error(exit_code::usage, "--clients and --runs must be at least 1");
  }
  SimulationSettings simulation;
  simulation.clients = settings.clients;
  simulation.runs = settings.runs;
  simulation.seed = settings.seed ? *settings.seed : Random::os_seed();
  OutputStream out(1);
  RecordPrinter printer(out, settings.format);
  for (const auto& strategy : simulation_strategies(settings.strategy)) {
    SimulationResult result = simulate(simulation, strategy);
    printer.print(JsonValue::object(
        {{"strategy", JsonValue::string(result.strategy)},
         {"clients", JsonValue::integer(simulation.clients)},
         {"runs", JsonValue::integer(simulation.runs)},
         {"mean_calls", JsonValue::number(fmt::format("{:.1f}", result.mean_calls))},
         {"mean_completion_ms",
          JsonValue::number(fmt::format("{:.1f}", result.mean_completion_ms))}}));
  }
  printer.finish();
  out.flush();
  return exit_code::success;
}

void define_run(CLI::App& command, Settings& settings) {
  cli::add_command_operand(command, settings.command);
  command.footer(
      "Each attempt may ask for the wait before the next one by writing it (30, 1500ms, an "
      "HTTP-date) to the file $BACKOFF_RETRY_AFTER_FILE names: see RETRY-AFTER in backoff(1).");
  cli::define_when_used(command, [&settings](CLI::App& run) { add_run_options(run, settings); });
}

void define_schedule(CLI::App& command, Settings& settings) {
  cli::define_when_used(command, [&settings](CLI::App& schedule) {
    add_schedule_options(schedule, settings);
    cli::add_format_option(schedule, settings.format);
    schedule.add_flag("--quiet,-q", settings.quiet, "No note about the seed on stderr");
  });
}

void define_simulate(CLI::App& command, Settings& settings) {
  cli::define_when_used(command, [&settings](CLI::App& simulate) {
    simulate.add_option("--clients", settings.clients, "Clients competing for one row");
    simulate.add_option("--runs", settings.runs, "Runs to average over");
    simulate
        .add_option("--strategy", settings.strategy, "none, expo, equal, full, decorrelated, all")
        ->type_name("NAME");
    simulate.add_option("--seed", settings.seed, "Make the simulation reproducible")
        ->check(cli::unsigned_whole_number(UINT64_MAX));
    cli::add_format_option(simulate, settings.format);
  });
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  Settings& s = *settings;
  // `backoff [options] -- CMD` is `backoff run [options] -- CMD` (main passes "run" to
  // run_main as the default subcommand).
  app.footer("Without a subcommand, run is meant: backoff [options] -- CMD [ARG...]");
  return cli::add_subcommands(app,
                              {{"run", "Run CMD until it succeeds, backing off between attempts",
                                [&s](CLI::App& command) { define_run(command, s); },
                                [settings] { return backoff::run(run_settings(*settings)); }},
                               {"schedule", "Print the sleep before each retry as JSONL",
                                [&s](CLI::App& command) { define_schedule(command, s); },
                                [settings] { return print_schedule(*settings); }},
                               {"simulate", "Compare strategies in the AWS contention experiment",
                                [&s](CLI::App& command) { define_simulate(command, s); },
                                [settings] { return print_simulation(*settings); }}});
}

}  // namespace sluice::backoff
