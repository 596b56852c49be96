// stats: streaming statistics for metric streams (DESIGN.md section 2).
//
// Everything here works in O(1) memory per value kept and O(1) time per update, and is exact
// enough for values around 1e9 with a small spread (a window sums its values minus a recent
// mean, updates work on deviations Welford's way, and it re-sums itself from its values every
// `capacity` removals so rounding cannot build up over millions of points).
#pragma once

#include <cstddef>
#include <vector>

namespace sluice::stats {

// Mean and sample variance of the last `capacity` values added.
class WindowMoments {
 public:
  explicit WindowMoments(std::size_t capacity);
  // Adds `value`, first dropping the oldest value when the window is full.
  void add(double value);
  [[nodiscard]] std::size_t count() const { return count_; }
  [[nodiscard]] std::size_t capacity() const { return values_.size(); }
  [[nodiscard]] double mean() const { return shift_ + mean_; }
  // Sample variance (divisor count - 1); 0 with fewer than two values. Never negative.
  [[nodiscard]] double variance() const;
  // The values in the order they were added, oldest first.
  [[nodiscard]] std::vector<double> values() const;

 private:
  void remove_oldest();
  void resum();
  std::vector<double> values_;  // a ring of `capacity` slots
  std::size_t next_ = 0;        // the slot the next value goes to
  std::size_t count_ = 0;
  std::size_t removals_ = 0;  // since the last resum
  // The sums are kept for the values minus `shift_` (a recent value or mean): values near
  // 1e9 with a small spread then differ from it exactly, and only the deviations are rounded.
  double shift_ = 0;
  double mean_ = 0;     // of the shifted values
  double squares_ = 0;  // sum of squared deviations from the mean (Welford's M2)
};

// Exponentially weighted mean and variance with weight `alpha` for the newest value
// (0 < alpha <= 1): mean += alpha * (x - mean); variance = (1 - alpha) * (variance +
// alpha * (x - mean)^2), the usual incremental form (West 1979; Finch 2009).
class Ewma {
 public:
  explicit Ewma(double alpha) : alpha_(alpha) {}
  void add(double value);
  [[nodiscard]] std::size_t count() const { return count_; }
  [[nodiscard]] double mean() const { return mean_; }
  [[nodiscard]] double variance() const { return variance_; }
  [[nodiscard]] double alpha() const { return alpha_; }

 private:
  double alpha_;
  std::size_t count_ = 0;
  double mean_ = 0;
  double variance_ = 0;
};

// 1 - p for the two-sided tail probability p of a standard normal at |z|: 0 at z = 0, towards
// 1 as |z| grows (erf(|z| / sqrt 2)).
double two_sided_score(double z);

}  // namespace sluice::stats
