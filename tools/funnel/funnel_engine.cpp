#include "funnel_engine.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace sluice::funnel {

namespace {

// Where the latest chain to reach a step began and when it reached it.
struct Reached {
  std::int64_t chain_start = 0;
  std::int64_t time = 0;
};

class FunnelWalk {
 public:
  FunnelWalk(std::size_t steps, std::int64_t window, Mode mode)
      : window_(window),
        mode_(mode),
        reached_(steps),
        progress_{0, std::vector<std::optional<std::int64_t>>(steps)} {}

  // Takes one hit; false when the walk stops here.
  bool take(const Hit& hit) {
    if (hit.step == 0) return !started_;  // strict-order: an unrelated event ends a chain
    std::size_t index = hit.step - 1;
    if (index == 0) {
      reached_[0] = Reached{hit.time, hit.time};
      started_ = true;
      note(0, 0);
      return reached_.size() > 1;
    }
    if (mode_ == Mode::strict_dedup && reached_[index]) return false;
    if (mode_ == Mode::strict_order && started_ && !reached_[index - 1]) return false;
    if (!reached_[index - 1]) return true;
    const Reached& previous = *reached_[index - 1];
    bool in_window = hit.time - previous.chain_start <= window_;
    if (mode_ == Mode::strict_increase && previous.time >= hit.time) in_window = false;
    if (!in_window) return true;
    reached_[index] = Reached{previous.chain_start, hit.time};
    note(index, hit.time - previous.chain_start);
    return index + 1 < reached_.size();
  }
  Progress finish() {
    for (std::size_t step = reached_.size(); step > 0; --step) {
      if (reached_[step - 1]) {
        progress_.level = step;
        break;
      }
    }
    return std::move(progress_);
  }

 private:
  void note(std::size_t index, std::int64_t time) {
    if (!progress_.time_to_step[index]) progress_.time_to_step[index] = time;
  }
  std::int64_t window_;
  Mode mode_;
  bool started_ = false;
  std::vector<std::optional<Reached>> reached_;
  Progress progress_;
};

}  // namespace

Progress walk_funnel(std::vector<Hit>& hits, std::size_t steps, std::int64_t window, Mode mode) {
  std::sort(hits.begin(), hits.end());
  FunnelWalk walk(steps, window, mode);
  for (const Hit& hit : hits) {
    if (!walk.take(hit)) break;
  }
  return walk.finish();
}

std::optional<std::int64_t> nearest_rank(std::vector<std::int64_t>& values, double q) {
  if (values.empty()) return std::nullopt;
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  rank = std::clamp<std::size_t>(rank, 1, values.size());
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank - 1),
                   values.end());
  return values[rank - 1];
}

void FunnelTotals::add(const Progress& progress, double weight) {
  for (std::size_t step = 0; step < progress.level; ++step) {
    StepTotals& totals = steps_[step];
    ++totals.entities;
    totals.weight += weight;
    totals.weight_variance += weight * (weight - 1);
    totals.times.push_back(progress.time_to_step[step].value_or(0));
  }
}

}  // namespace sluice::funnel
