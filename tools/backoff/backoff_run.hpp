// `backoff run`: run a command until it succeeds, sleeping between attempts by the schedule,
// within the attempt, time and budget limits, and pass its exit status through.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backoff_schedule.hpp"
#include "sluice/db.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::backoff {

class OutputPattern;

struct RunSettings {
  ScheduleSettings schedule;
  long long attempts = 5;  // total tries including the first; 0 = unlimited (needs max_time)
  std::optional<Duration> max_time;
  std::optional<Duration> timeout;
  Duration kill_after = std::chrono::seconds(5);
  bool retry_on_timeout = true;
  std::optional<std::set<int>> retry_on;  // nullopt: every status that is not a success
  std::set<int> stop_on{126, 127, 130, 143};
  std::set<int> success{0};
  std::optional<int> exit_code_on_giveup;
  std::optional<std::uint64_t> replay_stdin_limit;  // --replay-stdin[=MAX]
  std::optional<std::uint64_t> hold_stdout_limit;   // --hold-stdout[=MAX]: memory before spill
  std::string report_path;                          // "" none, "-" stdout
  // --retry-on-output, --stop-on-output: a line of stdout or stderr that matches (nullptr: none).
  std::shared_ptr<const OutputPattern> retry_on_output;
  std::shared_ptr<const OutputPattern> stop_on_output;
  std::optional<std::uint64_t> seed;
  std::optional<Duration> stagger;
  std::string budget_key;       // "" no shared budget
  std::string budget_location;  // a state file or a postgresql:// URL
  db::OpenOptions budget_options;
  bool quiet = false;
  std::vector<std::string> command;
};

// Throws Error(2) for contradictory settings (0 attempts without a deadline, ...).
void validate(const RunSettings& settings);

// Returns the exit status backoff ends with (see backoff(1), EXIT STATUS).
int run(const RunSettings& settings);

}  // namespace sluice::backoff
