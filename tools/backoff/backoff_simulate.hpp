// `backoff simulate`: the contention experiment of the AWS Architecture Blog post "Exponential
// Backoff And Jitter" as a discrete-event simulation (no real sleeping). N clients each read a
// row's version and write it back conditionally; a write made with a stale version fails and
// the client backs off before reading again. Counts the server's write calls and the time
// until every client has written once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::backoff {

struct SimulationSettings {
  int clients = 100;
  int runs = 100;
  std::uint64_t seed = 0;
  std::int64_t base_ms = 5;
  std::int64_t cap_ms = 2000;
  double network_mean_ms = 10.0;  // one-way delay ~ N(mean, deviation), never negative
  double network_deviation_ms = 2.0;
};

struct SimulationResult {
  std::string strategy;
  double mean_calls = 0;
  double mean_completion_ms = 0;
};

// "none", "expo", "equal", "full", "decorrelated"; "all" expands to every one of them.
// Throws Error(2) for anything else.
std::vector<std::string> simulation_strategies(std::string_view choice);

// Runs `settings.runs` independent runs of one strategy. Deterministic for a given seed.
SimulationResult simulate(const SimulationSettings& settings, std::string_view strategy);

}  // namespace sluice::backoff
