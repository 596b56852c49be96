#include "backoff_simulate.hpp"

#include <algorithm>
#include <optional>
#include <queue>

#include <fmt/format.h>

#include "backoff_schedule.hpp"
#include "sluice/error.hpp"
#include "sluice/random.hpp"

namespace sluice::backoff {
namespace {

constexpr std::array<std::string_view, 5> all_strategies{"none", "expo", "equal", "full",
                                                         "decorrelated"};

// What arrives at the server next: a client's read or its conditional write.
struct Event {
  double time_ms;
  std::uint64_t sequence;  // ties break in the order events were scheduled
  int client;
  bool is_write;
  bool operator>(const Event& other) const {
    return time_ms != other.time_ms ? time_ms > other.time_ms : sequence > other.sequence;
  }
};

struct Client {
  std::optional<Schedule> schedule;  // nullopt: no backoff at all
  std::int64_t version_read = 0;
};

class Run {
 public:
  Run(const SimulationSettings& settings, std::string_view strategy, Random& random)
      : settings_(settings), random_(random), clients_(static_cast<std::size_t>(settings.clients)) {
    for (auto& client : clients_) {
      if (strategy == "none") continue;
      ScheduleSettings schedule{settings.base_ms, 2.0, settings.cap_ms, Jitter::none, 0};
      if (strategy != "expo") schedule.jitter = parse_jitter(strategy);
      client.schedule.emplace(schedule, random_);
    }
  }

  // Returns {write calls, time the last client learnt of its success}.
  std::pair<long long, double> play() {
    for (int client = 0; client < settings_.clients; ++client) schedule(network(), client, false);
    long long calls = 0;
    double completion = 0;
    while (!events_.empty()) {
      Event event = events_.top();
      events_.pop();
      Client& client = clients_[static_cast<std::size_t>(event.client)];
      if (!event.is_write) {
        client.version_read = version_;
        schedule(event.time_ms + network() + network(), event.client, true);
        continue;
      }
      ++calls;
      double answered = event.time_ms + network();
      if (client.version_read == version_) {
        ++version_;
        completion = std::max(completion, answered);
        continue;
      }
      double sleep = client.schedule ? static_cast<double>(client.schedule->next().sleep_ms) : 0.0;
      schedule(answered + sleep + network(), event.client, false);
    }
    return {calls, completion};
  }

 private:
  double network() {
    return std::max(0.0, random_.normal(settings_.network_mean_ms, settings_.network_deviation_ms));
  }
  void schedule(double time_ms, int client, bool is_write) {
    events_.push(Event{time_ms, sequence_++, client, is_write});
  }

  const SimulationSettings& settings_;
  Random& random_;
  std::vector<Client> clients_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::uint64_t sequence_ = 0;
  std::int64_t version_ = 0;
};

}  // namespace

std::vector<std::string> simulation_strategies(std::string_view choice) {
  if (choice == "all") return {all_strategies.begin(), all_strategies.end()};
  if (std::find(all_strategies.begin(), all_strategies.end(), choice) == all_strategies.end()) {
    throw Error(exit_code::usage,
                fmt::format("--strategy: '{}' is not one of none, expo, equal, full, "
                            "decorrelated, all",
                            choice));
  }
  return {std::string(choice)};
}

SimulationResult simulate(const SimulationSettings& settings, std::string_view strategy) {
  Random random(settings.seed);
  double calls = 0, completion = 0;
  for (int run = 0; run < settings.runs; ++run) {
    Run one(settings, strategy, random);
    auto [run_calls, run_completion] = one.play();
    calls += static_cast<double>(run_calls);
    completion += run_completion;
  }
  double runs = std::max(1, settings.runs);
  return {std::string(strategy), calls / runs, completion / runs};
}

}  // namespace sluice::backoff
