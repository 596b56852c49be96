// funnel_engine: how far one entity got through an ordered funnel (ClickHouse's windowFunnel
// semantics, written down in man/funnel.1, "SEMANTICS"), and the per-step totals of many.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sluice/names.hpp"

namespace sluice::funnel {

enum class Mode { standard, strict_order, strict_dedup, strict_increase };
inline constexpr NameTable<Mode, 4> mode_names({{{"default", Mode::standard},
                                                 {"strict-order", Mode::strict_order},
                                                 {"strict-dedup", Mode::strict_dedup},
                                                 {"strict-increase", Mode::strict_increase}}});

// One event of an entity that meets step `step` (1-based), or, with step 0, meets none (kept
// only in strict-order mode, where such an event interrupts a chain). An event meeting
// several steps is one hit per step.
struct Hit {
  std::int64_t time = 0;  // microseconds since the epoch
  std::uint32_t step = 0;
  friend auto operator<=>(const Hit&, const Hit&) = default;
};

struct Progress {
  std::size_t level = 0;  // the highest step reached (0: step 1 never happened)
  // For each step reached, the time (microseconds) from the start of the chain that reached it
  // first to that step's event; step 1's is 0.
  std::vector<std::optional<std::int64_t>> time_to_step;
};

// The entity's progress through `steps` steps given its hits in any order (sorted here by
// time, then step: at equal times a lower step counts first). A chain starts at a step-1
// event and may reach step k when step k-1 was reached by a chain that started at most
// `window` microseconds before (inclusive) the step-k event.
Progress walk_funnel(std::vector<Hit>& hits, std::size_t steps, std::int64_t window, Mode mode);

// The value at the nearest rank: the ceil(q * n)-th smallest (1-based) of `values` (sorted
// here), for 0 < q <= 1; nullopt when empty.
std::optional<std::int64_t> nearest_rank(std::vector<std::int64_t>& values, double q);

// The totals of one group (one breakdown value, or everything).
struct StepTotals {
  std::uint64_t entities = 0;
  double weight = 0;           // sum of the entities' weights (Horvitz-Thompson estimate)
  double weight_variance = 0;  // sum of w * (w - 1): the estimate's variance estimate
  std::vector<std::int64_t> times;
};
class FunnelTotals {
 public:
  explicit FunnelTotals(std::size_t steps) : steps_(steps) {}
  void add(const Progress& progress, double weight);
  [[nodiscard]] const std::vector<StepTotals>& steps() const { return steps_; }
  std::vector<StepTotals>& steps() { return steps_; }

 private:
  std::vector<StepTotals> steps_;
};

}  // namespace sluice::funnel
