// stats: streaming statistics for metric streams (docs/ARCHITECTURE.md, "libcore modules").
//
// Everything here works in O(1) memory per value kept and O(1) time per update, and is exact
// enough for values around 1e9 with a small spread (a window sums its values minus a recent
// mean, updates work on deviations Welford's way, and it re-sums itself from its values every
// `capacity` removals so rounding cannot build up over millions of points).
#pragma once

#include <cstddef>
#include <cstdint>
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
  // Everything the window holds, as numbers (counters are exact below 2^53), and back:
  // restore(snapshot()) on a window of the same capacity answers bit for bit like this one.
  // restore returns false, changing nothing, for a snapshot of another length.
  [[nodiscard]] std::vector<double> snapshot() const;
  bool restore(const std::vector<double>& snapshot);

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

// The last `capacity` values added, kept in order too, for rolling medians.
//
// Above sorted_array_limit values, a treap over (value, arrival) pairs whose nodes are the
// ring's slots, with subtree sizes and sums: add() is O(log N) expected, select(),
// count_below() and sum_of_smallest() O(log N), mad() O(log^2 N) at worst (a galloping search
// over two sorted runs of deviations, from where the last one ended). A node's priority is a
// hash of its arrival number, so the tree's shape (and the rounding of its sums) depends only
// on the values and their arrival numbers.
//
// Up to the limit, a plain sorted array: add() moves at most the limit's 32 KiB with one
// memmove, and everything else is O(1) or a binary search. With 1,000 windows of 1,000
// taking turns (zscore --key, --method robust) the tree missed the cache at every level of
// its nine walks a point: 3,000,000 points took 22.3 s with the tree and 3.0 s with the
// array; one window of 1,000, 1.9 s and 1.1 s per million points.
// sum_of_smallest() is O(N) in this mode; only mean_absolute_deviation() uses it.
class OrderedWindow {
 public:
  static constexpr std::size_t sorted_array_limit = 4096;
  explicit OrderedWindow(std::size_t capacity);
  // Adds `value`, first dropping the oldest value when the window is full.
  void add(double value);
  [[nodiscard]] std::size_t count() const { return count_; }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }
  // The k-th smallest value (0-based, k < count()).
  [[nodiscard]] double select(std::size_t k) const;
  // How many values are smaller than `value`.
  [[nodiscard]] std::size_t count_below(double value) const;
  // The sum of the k smallest values (k <= count()).
  [[nodiscard]] double sum_of_smallest(std::size_t k) const;
  // Median of the values (the mean of the middle two for an even count); 0 when empty.
  [[nodiscard]] double median() const;
  // Median absolute deviation from median(), unscaled; 0 when empty.
  [[nodiscard]] double mad() const;
  // The same, given median() (saves computing it twice).
  [[nodiscard]] double mad_around(double median) const;
  // Mean absolute deviation from median(); 0 when empty.
  [[nodiscard]] double mean_absolute_deviation() const;
  // The values in the order they were added, oldest first.
  [[nodiscard]] std::vector<double> values() const;
  // How many values were ever added. A window made by restore(values(), added()) of a
  // window gives bit for bit the same answers as the window itself.
  [[nodiscard]] std::uint64_t added() const { return arrivals_; }
  // Replaces the contents with `values` (oldest first, at most capacity()) as if they were
  // the last of `added` values added.
  void restore(const std::vector<double>& values, std::uint64_t added);

 private:
  struct Slot {
    double value = 0;
    double sum = 0;  // of the subtree's values
    std::uint64_t arrival = 0;
    std::uint32_t priority = 0;
    std::uint32_t size = 0;             // of the subtree
    std::uint32_t left = 0, right = 0;  // node numbers: slot index + 1, 0 for none
  };
  [[nodiscard]] bool tree() const { return capacity_ > sorted_array_limit; }
  void add_sorted(double value);
  [[nodiscard]] bool before(std::uint32_t a, std::uint32_t b) const;
  void update(std::uint32_t node);
  std::uint32_t insert(std::uint32_t tree, std::uint32_t node);
  std::uint32_t erase(std::uint32_t tree, std::uint32_t node);
  std::uint32_t merge(std::uint32_t left, std::uint32_t right);
  void split(std::uint32_t tree, std::uint32_t node, std::uint32_t& left, std::uint32_t& right);
  Slot& at(std::uint32_t node) { return slots_[node - 1]; }
  [[nodiscard]] const Slot& at(std::uint32_t node) const { return slots_[node - 1]; }
  std::size_t capacity_;
  // With the tree: a ring of `capacity` slots, also the treap's nodes. Without: a ring of the
  // values and the same values in order.
  std::vector<Slot> slots_;
  std::vector<double> ring_;
  std::vector<double> sorted_;
  std::size_t next_ = 0;  // the slot the next value goes to
  std::size_t count_ = 0;
  std::uint32_t root_ = 0;
  std::uint64_t arrivals_ = 0;
  mutable std::size_t partition_hint_ = 0;  // where mad()'s last search ended
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
  // As WindowMoments::snapshot and restore.
  [[nodiscard]] std::vector<double> snapshot() const;
  bool restore(const std::vector<double>& snapshot);

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
