// jobq's --queues: any text is a list of queues with weights, or a usage error (exit 2).
// Expected: queues that are valid names, listed once, weights in 1..max_weight, and the round
// robin over them picking each queue in proportion to its weight over one whole period.
// Defects: a crash, UB, another exit code, an invalid queue or weight accepted, a split that
// is not exact.
#include <set>

#include "fuzz_support.hpp"
#include "jobq_weights.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  std::string_view text = fuzz::text_of(data, size);
  try {
    std::vector<jobq::QueueWeight> queues = jobq::parse_queue_weights("--queues", text);
    fuzz::require(!queues.empty());
    std::set<std::string> names;
    std::vector<jobq::Turn> turns;
    std::int64_t period = 0;
    for (const jobq::QueueWeight& queue : queues) {
      fuzz::require(names.insert(queue.queue).second);
      fuzz::require(queue.weight >= 1 && queue.weight <= jobq::max_weight);
      jobq::validate_queue_name("--queues", queue.queue);
      turns.push_back(jobq::Turn{queue.weight, 0, true});
      period += queue.weight;
    }
    if (period <= 5000) {
      std::vector<std::int64_t> picks(turns.size(), 0);
      for (std::int64_t claim = 0; claim < period; ++claim) ++picks[*jobq::pick_queue(turns)];
      for (std::size_t index = 0; index < turns.size(); ++index) {
        fuzz::require(picks[index] == turns[index].weight);
      }
    }
  } catch (const Error& error) {
    fuzz::require(error.code() == exit_code::usage);
  }
  return 0;
}
