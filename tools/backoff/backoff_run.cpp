#include "backoff_run.hpp"

#include <unistd.h>

#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "backoff_budget.hpp"
#include "backoff_output.hpp"
#include "sluice/clock.hpp"
#include "sluice/error.hpp"
#include "sluice/fdio.hpp"
#include "sluice/json.hpp"
#include "sluice/proc.hpp"
#include "sluice/signals.hpp"

namespace sluice::backoff {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;
using std::chrono::milliseconds;

long long to_ms(std::chrono::steady_clock::duration duration) {
  return std::chrono::duration_cast<milliseconds>(duration).count();
}

// Which of --retry-on-output and --stop-on-output a line of the attempt's output matched; when
// both did, stop (a reason not to retry wins, as --stop-on wins over --retry-on).
enum class OutputMatch { none, retry, stop };

// An attempt that succeeded by its status but whose output matched --retry-on-output ends
// the run with this status when it is not retried: a failure, not the command's 0.
constexpr int failed_by_output = 1;

// What one attempt came to, from backoff's point of view.
struct AttemptResult {
  int status = 0;  // 124 for an attempt ended by a time limit
  proc::Outcome outcome;
  bool deadline_hit = false;  // --max-time (not --timeout) ended it
  long long duration_ms = 0;
  std::optional<std::int64_t> requested_ms;  // the wait it asked for (BACKOFF_RETRY_AFTER_FILE)
  OutputMatch output = OutputMatch::none;
  // Its status is a success, but its output matched --retry-on-output.
  [[nodiscard]] bool succeeded_with_retry_output(const std::set<int>& success) const {
    return output == OutputMatch::retry && !outcome.timed_out && !outcome.launch_failed &&
           success.contains(status);
  }
};

// Why the loop stops without a success. `code` goes in the report; `text` on stderr.
struct GiveUp {
  std::string code;
  std::string text;
};

std::string describe_status(const AttemptResult& result) {
  if (result.outcome.timed_out) return "timed out";
  if (result.outcome.signal != 0) return fmt::format("killed by signal {}", result.outcome.signal);
  return fmt::format("exit status {}", result.status);
}

std::string describe(const AttemptResult& result) {
  if (result.output == OutputMatch::retry)
    return describe_status(result) + ", output matched --retry-on-output";
  return describe_status(result);
}

// Lines of an attempt's stdout and stderr, matched as they arrive.
class OutputWatch {
 public:
  OutputWatch(const OutputPattern* retry, const OutputPattern* stop)
      : retry_(retry),
        stop_(stop),
        stdout_lines_(max_matched_line_bytes, [this](std::string_view line) { look_at(line); }),
        stderr_lines_(max_matched_line_bytes, [this](std::string_view line) { look_at(line); }) {}
  // The splitters call back into this object: it must stay where it was made.
  OutputWatch(const OutputWatch&) = delete;
  OutputWatch& operator=(const OutputWatch&) = delete;
  void on_stdout(std::string_view bytes) { stdout_lines_.feed(bytes); }
  void on_stderr(std::string_view bytes) { stderr_lines_.feed(bytes); }
  OutputMatch finish() {
    stdout_lines_.finish();
    stderr_lines_.finish();
    if (stop_matched_) return OutputMatch::stop;
    return retry_matched_ ? OutputMatch::retry : OutputMatch::none;
  }

 private:
  // Each pattern is tried until it has matched once: later lines cannot change the verdict.
  void look_at(std::string_view line) {
    if (retry_ != nullptr && !retry_matched_) retry_matched_ = retry_->matches(line);
    if (stop_ != nullptr && !stop_matched_) stop_matched_ = stop_->matches(line);
  }
  const OutputPattern* retry_;
  const OutputPattern* stop_;
  bool retry_matched_ = false;
  bool stop_matched_ = false;
  LineSplitter stdout_lines_;
  LineSplitter stderr_lines_;
};

class Retrier {
 public:
  explicit Retrier(const RunSettings& settings);
  int run();

 private:
  void stagger();
  [[nodiscard]] bool watches_output() const {
    return settings_.retry_on_output != nullptr || settings_.stop_on_output != nullptr;
  }
  proc::Handlers handlers_for(OutputWatch* watch);
  void pass_on_stdout(std::string_view bytes);
  AttemptResult attempt(long long number);
  // `request` is null when no request file could be made (offer_request_file).
  proc::Command command_for(long long number, const RequestFile* request) const;
  void offer_request_file(std::optional<RequestFile>& request);
  std::optional<std::int64_t> requested_delay(const RequestFile& request, long long number) const;
  [[nodiscard]] std::int64_t sleep_ms_after(const AttemptResult& result, const Delay& delay) const;
  void report_sleep(const AttemptResult& result, long long number, std::int64_t sleep_ms);
  std::optional<GiveUp> reason_to_stop(const AttemptResult& result, long long number) const;
  std::optional<GiveUp> reason_not_to_sleep(const AttemptResult& result, std::int64_t sleep_ms);
  int succeed(const AttemptResult& result, long long number);
  int give_up(const AttemptResult& result, long long attempts, const GiveUp& why);
  int interrupted(long long attempts, int number);
  void report_attempt_end(const AttemptResult& result, long long number);
  void report_summary(std::string_view result, int status, long long attempts);
  // The giveup event and the summary of a run that did not succeed.
  void report_end(std::string_view result, std::string_view reason, int status, long long attempts);
  void refund_budget();
  std::optional<std::int64_t> budget_tokens();
  [[nodiscard]] long long elapsed_ms() const {
    return to_ms(std::chrono::steady_clock::now() - start_);
  }

  const RunSettings& settings_;
  SteadyTime start_;
  std::optional<SteadyTime> deadline_;
  std::uint64_t seed_;
  Random random_;
  Random stagger_random_;  // its own stream: `schedule --seed N` shows the sleeps of `run --seed N`
  Schedule schedule_;
  Report report_;
  std::optional<Spool> held_stdout_;
  bool request_file_refused_ = false;  // warned once that BACKOFF_RETRY_AFTER_FILE is not offered
  std::optional<std::string> input_;
  std::unique_ptr<Budget> budget_;
  std::int64_t tokens_taken_ = 0;
  long long slept_ms_ = 0;
};

Retrier::Retrier(const RunSettings& settings)
    : settings_(settings),
      start_(std::chrono::steady_clock::now()),
      seed_(settings.seed ? *settings.seed : Random::os_seed()),
      random_(seed_),
      stagger_random_(seed_ ^ 0x9e3779b97f4a7c15ULL),
      schedule_(settings.schedule, random_),
      report_(settings.report_path) {
  if (settings.max_time) deadline_ = start_ + *settings.max_time;
  if (settings.hold_stdout_limit) held_stdout_.emplace(*settings.hold_stdout_limit);
  if (settings.replay_stdin_limit) {
    input_ = read_all(STDIN_FILENO, "<stdin>", *settings.replay_stdin_limit);
  }
  if (!settings.budget_key.empty()) {
    budget_ = std::make_unique<Budget>(settings.budget_location, settings.budget_options,
                                       settings.budget_key);
  }
}

void Retrier::stagger() {
  if (!settings_.stagger || settings_.stagger->count() <= 0) return;
  auto spread = std::chrono::duration_cast<milliseconds>(*settings_.stagger).count();
  auto sleep = milliseconds(stagger_random_.uniform_int(0, spread));
  if (deadline_)
    sleep = std::min(sleep, std::chrono::duration_cast<milliseconds>(*deadline_ - start_));
  report_.write(ObjectWriter()
                    .add_string("event", "sleep")
                    .add_int("attempt", 0)
                    .add_int("ms", sleep.count())
                    .add_string("reason", "stagger")
                    .add_int("elapsed_ms", elapsed_ms())
                    .add_string("source", "stagger")
                    .add_null("requested_ms")
                    .finish());
  if (sleep_unless_interrupted(sleep)) slept_ms_ += sleep.count();
}

proc::Command Retrier::command_for(long long number, const RequestFile* request) const {
  proc::Command command;
  command.argv = settings_.command;
  // Its own process group, so a timeout or a forwarded signal reaches every descendant.
  command.own_process_group = true;
  command.input = input_;
  // Watched output passes through backoff (pass_on_stdout, handlers_for); otherwise the
  // command writes to backoff's stdout and stderr itself.
  command.capture_stdout = held_stdout_.has_value() || watches_output();
  command.capture_stderr = watches_output();
  command.environment = {
      {"BACKOFF_ATTEMPT", std::to_string(number)},
      {"BACKOFF_MAX_ATTEMPTS", std::to_string(settings_.attempts)},
      {"BACKOFF_ELAPSED_MS", std::to_string(elapsed_ms())},
  };
  if (request != nullptr)
    command.environment.emplace_back("BACKOFF_RETRY_AFTER_FILE", request->path());
  return command;
}

AttemptResult Retrier::attempt(long long number) {
  report_.write(ObjectWriter()
                    .add_string("event", "attempt_start")
                    .add_int("attempt", number)
                    .add_int("elapsed_ms", elapsed_ms())
                    .finish());
  proc::Limits limits;
  limits.kill_after = settings_.kill_after;
  limits.timeout = settings_.timeout;
  auto began = std::chrono::steady_clock::now();
  bool deadline_limits = false;
  if (deadline_) {
    auto left = std::chrono::duration_cast<Duration>(*deadline_ - began);
    left = std::max(left, Duration::zero());
    deadline_limits = !limits.timeout || left <= *limits.timeout;
    if (deadline_limits) limits.timeout = left;
  }
  std::optional<OutputWatch> watch;
  if (watches_output())
    watch.emplace(settings_.retry_on_output.get(), settings_.stop_on_output.get());
  std::optional<RequestFile> request;  // neither copied nor moved: made in place
  offer_request_file(request);
  AttemptResult result;
  result.outcome = proc::run(command_for(number, request ? &*request : nullptr),
                             handlers_for(watch ? &*watch : nullptr), limits);
  if (watch) result.output = watch->finish();
  result.duration_ms = to_ms(std::chrono::steady_clock::now() - began);
  if (request) result.requested_ms = requested_delay(*request, number);
  result.status = result.outcome.timed_out ? exit_code::timed_out : result.outcome.exit_status;
  result.deadline_hit = result.outcome.timed_out && deadline_limits;
  report_attempt_end(result, number);
  return result;
}

proc::Handlers Retrier::handlers_for(OutputWatch* watch) {
  proc::Handlers handlers;
  if (watch != nullptr) {
    handlers.on_stdout = [this, watch](std::string_view bytes) {
      watch->on_stdout(bytes);
      pass_on_stdout(bytes);
    };
    handlers.on_stderr = [watch](std::string_view bytes) {
      watch->on_stderr(bytes);
      // As the command's own writes to a broken stderr would, a failure here changes nothing.
      [[maybe_unused]] int ignored = write_all(STDERR_FILENO, bytes);
    };
  } else if (held_stdout_) {
    handlers.on_stdout = [this](std::string_view bytes) { held_stdout_->append(bytes); };
  }
  return handlers;
}

void Retrier::pass_on_stdout(std::string_view bytes) {
  if (held_stdout_) {
    held_stdout_->append(bytes);
  } else {
    write_or_throw(STDOUT_FILENO, bytes, "<stdout>");
  }
}

// A request file that cannot be made (TMPDIR missing or not writable) must not stop the retries
// the user asked for: the attempts run without BACKOFF_RETRY_AFTER_FILE, said once.
void Retrier::offer_request_file(std::optional<RequestFile>& request) {
  try {
    request.emplace();
  } catch (const Error& error) {
    if (error.code() != exit_code::cannot_create) throw;
    if (!request_file_refused_) warn(fmt::format("{}; attempts run without it", error.what()));
    request_file_refused_ = true;
  }
}

// Text the command left that is not a delay must not cost it its retry: backoff warns and
// sleeps by the schedule (a command that could not reach its server may well write nothing
// sensible, and the schedule is what it would have had without the file).
std::optional<std::int64_t> Retrier::requested_delay(const RequestFile& request,
                                                     long long number) const {
  try {
    return requested_delay_ms(request.contents(max_requested_delay_bytes), Clock().now());
  } catch (const Error& error) {
    warn(fmt::format("attempt {}: BACKOFF_RETRY_AFTER_FILE ignored: {}", number, error.what()));
    return std::nullopt;
  }
}

// The wait the command asked for replaces the schedule's sleep: neither capped (a retry sooner
// than asked for would only be refused again) nor jittered (the server chose the time), but
// never under --min-delay. The schedule still counts the failure.
std::int64_t Retrier::sleep_ms_after(const AttemptResult& result, const Delay& delay) const {
  if (!result.requested_ms) return delay.sleep_ms;
  return std::max(*result.requested_ms, settings_.schedule.min_delay_ms);
}

void Retrier::report_sleep(const AttemptResult& result, long long number, std::int64_t sleep_ms) {
  ObjectWriter event;
  event.add_string("event", "sleep")
      .add_int("attempt", number)
      .add_int("ms", sleep_ms)
      .add_string("reason", describe(result))
      .add_int("elapsed_ms", elapsed_ms())
      .add_string("source", result.requested_ms ? "retry_after" : "schedule");
  if (result.requested_ms) {
    event.add_int("requested_ms", *result.requested_ms);
  } else {
    event.add_null("requested_ms");
  }
  report_.write(event.finish());
  if (!settings_.quiet) {
    note(fmt::format("attempt {} failed ({}); retrying in {}{}", number, describe(result),
                     format_duration(milliseconds(sleep_ms)),
                     result.requested_ms ? " (BACKOFF_RETRY_AFTER_FILE)" : ""));
  }
}

void Retrier::report_attempt_end(const AttemptResult& result, long long number) {
  ObjectWriter event;
  event.add_string("event", "attempt_end")
      .add_int("attempt", number)
      .add_int("status", result.status);
  if (result.outcome.signal != 0) {
    event.add_int("signal", result.outcome.signal);
  } else {
    event.add_null("signal");
  }
  event.add_bool("timed_out", result.outcome.timed_out)
      .add_int("duration_ms", result.duration_ms)
      .add_int("elapsed_ms", elapsed_ms());
  if (result.output == OutputMatch::none) {
    event.add_null("output_match");
  } else {
    event.add_string("output_match",
                     result.output == OutputMatch::retry ? "retry_on_output" : "stop_on_output");
  }
  report_.write(event.finish());
}

std::optional<GiveUp> Retrier::reason_to_stop(const AttemptResult& result, long long number) const {
  const auto& outcome = result.outcome;
  if (outcome.launch_failed) {
    return GiveUp{result.status == exit_code::not_found ? "not_found" : "not_executable",
                  fmt::format("{}: {}", settings_.command.front(),
                              result.status == exit_code::not_found ? "command not found"
                                                                    : outcome.launch_error)};
  }
  if (result.deadline_hit) return GiveUp{"deadline", "--max-time reached during the attempt"};
  if (result.output == OutputMatch::stop) {
    return GiveUp{"stop_on_output",
                  fmt::format("{}; its output matched --stop-on-output", describe(result))};
  }
  if (outcome.timed_out && !settings_.retry_on_timeout) {
    return GiveUp{"timeout", "the attempt timed out (--no-retry-on-timeout)"};
  }
  if (!outcome.timed_out) {
    if (settings_.stop_on.contains(result.status))
      return GiveUp{"stop_on", fmt::format("{} is in --stop-on", describe(result))};
    // A line matching --retry-on-output makes the attempt retryable whatever its status.
    if (settings_.retry_on && result.output != OutputMatch::retry &&
        !settings_.retry_on->contains(result.status))
      return GiveUp{"not_retryable", fmt::format("{} is not in --retry-on", describe(result))};
  }
  if (settings_.attempts != 0 && number >= settings_.attempts) {
    return GiveUp{"attempts", fmt::format("{} after {} attempt{}", describe(result), number,
                                          number == 1 ? "" : "s")};
  }
  if (stdout_is_closed_pipe()) return GiveUp{"stdout_closed", "stdout is a closed pipe"};
  return std::nullopt;
}

std::optional<GiveUp> Retrier::reason_not_to_sleep(const AttemptResult& result,
                                                   std::int64_t sleep_ms) {
  if (deadline_ && std::chrono::steady_clock::now() + milliseconds(sleep_ms) > *deadline_) {
    return GiveUp{"deadline",
                  fmt::format("{}; a {}ms sleep{} would pass --max-time", describe(result),
                              sleep_ms, result.requested_ms ? " (BACKOFF_RETRY_AFTER_FILE)" : "")};
  }
  if (budget_) {
    auto cost = result.outcome.timed_out ? budget_->costs().timeout_retry : budget_->costs().retry;
    bool granted = false;
    try {
      granted = budget_->take(cost);
    } catch (const Error& error) {
      // The budget file is busy or broken: do not retry without it, and do not lose the
      // command's own status to the budget's error.
      return GiveUp{"budget_unavailable", fmt::format("{}; the retry budget is unavailable: {}",
                                                      describe(result), error.what())};
    }
    if (!granted) {
      return GiveUp{"budget", fmt::format("{}; the retry budget '{}' is empty", describe(result),
                                          settings_.budget_key)};
    }
    tokens_taken_ += cost;
  }
  return std::nullopt;
}

int Retrier::succeed(const AttemptResult& result, long long number) {
  if (held_stdout_) held_stdout_->deliver(STDOUT_FILENO, true);
  if (budget_) refund_budget();
  report_.write(ObjectWriter()
                    .add_string("event", "success")
                    .add_int("attempt", number)
                    .add_int("status", result.status)
                    .add_int("elapsed_ms", elapsed_ms())
                    .finish());
  report_summary("success", result.status, number);
  return result.status;
}

void Retrier::refund_budget() {
  try {
    budget_->refund(tokens_taken_ > 0 ? tokens_taken_ : budget_->costs().clean_success);
  } catch (const Error& error) {
    // The command succeeded: a busy budget file must not turn that into 75 ("try again").
    warn(fmt::format("the retry budget was not refunded: {}", error.what()));
  }
}

std::optional<std::int64_t> Retrier::budget_tokens() {
  try {
    return budget_->tokens();
  } catch (const Error&) {
    return std::nullopt;
  }
}

int Retrier::give_up(const AttemptResult& result, long long attempts, const GiveUp& why) {
  int status =
      result.succeeded_with_retry_output(settings_.success) ? failed_by_output : result.status;
  std::string exiting =
      status == result.status
          ? ""
          : fmt::format("; exiting {}, not its success status {}", status, result.status);
  if (!result.outcome.launch_failed && settings_.exit_code_on_giveup) {
    status = *settings_.exit_code_on_giveup;
    exiting = fmt::format("; exiting {} (--exit-code-on-giveup)", status);
  }
  report_end("giveup", why.code, status, attempts);
  if (result.outcome.launch_failed) throw Error(status, why.text);
  if (!settings_.quiet) note(fmt::format("giving up: {}{}", why.text, exiting));
  return status;
}

int Retrier::interrupted(long long attempts, int number) {
  int status = exit_code::signal_base + number;
  report_end("interrupted", "signal", status, attempts);
  return status;
}

void Retrier::report_end(std::string_view result, std::string_view reason, int status,
                         long long attempts) {
  report_.write(ObjectWriter()
                    .add_string("event", "giveup")
                    .add_string("reason", reason)
                    .add_int("attempt", attempts)
                    .add_int("status", status)
                    .add_int("elapsed_ms", elapsed_ms())
                    .finish());
  report_summary(result, status, attempts);
}

void Retrier::report_summary(std::string_view result, int status, long long attempts) {
  ObjectWriter summary;
  summary.add_string("event", "summary")
      .add_string("result", result)
      .add_int("exit_status", status)
      .add_int("attempts", attempts)
      .add_int("elapsed_ms", elapsed_ms())
      .add_int("slept_ms", slept_ms_);
  if (budget_) {
    if (auto tokens = budget_tokens()) {
      summary.add_int("budget_tokens", *tokens);
    } else {
      summary.add_null("budget_tokens");
    }
  }
  report_.write(summary.finish());
}

int Retrier::run() {
  stagger();
  for (long long number = 1;; ++number) {
    if (int signal = pending_signal(); signal != 0) return interrupted(number - 1, signal);
    AttemptResult result = attempt(number);
    bool succeeded = !result.outcome.launch_failed && !result.outcome.timed_out &&
                     settings_.success.contains(result.status) &&
                     result.output != OutputMatch::retry;
    // A command that caught the forwarded signal and still succeeded has done its work.
    if (succeeded) return succeed(result, number);
    if (result.outcome.forwarded_signal != 0) {
      if (held_stdout_) held_stdout_->deliver(STDERR_FILENO, false);
      return interrupted(number, result.outcome.forwarded_signal);
    }
    if (held_stdout_) held_stdout_->deliver(STDERR_FILENO, false);
    if (auto why = reason_to_stop(result, number)) return give_up(result, number, *why);
    std::int64_t sleep_ms = sleep_ms_after(result, schedule_.next());
    if (auto why = reason_not_to_sleep(result, sleep_ms)) return give_up(result, number, *why);
    report_sleep(result, number, sleep_ms);
    if (!sleep_unless_interrupted(milliseconds(sleep_ms))) {
      return interrupted(number, pending_signal());
    }
    slept_ms_ += sleep_ms;
  }
}

}  // namespace

void validate(const RunSettings& settings) {
  if (settings.command.empty()) throw Error(exit_code::usage, "no command given (put it after --)");
  if (settings.attempts < 0) throw Error(exit_code::usage, "--attempts must be 0 or more");
  if (settings.attempts == 0 && !settings.max_time) {
    throw Error(exit_code::usage, "--attempts 0 (unlimited) needs --max-time");
  }
}

int run(const RunSettings& settings) {
  validate(settings);
  Retrier retrier(settings);
  return retrier.run();
}

}  // namespace sluice::backoff
