// sketch: mergeable summaries of value streams whose exact form would grow without bound
// (docs/ARCHITECTURE.md, "libcore modules"): distinct counts (an exact set of 64-bit hashes up
// to a size, then a HyperLogLog) and quantiles (DDSketch, relative error). Every summary
// merges exactly: merging the summaries of shards gives the same summary, bit for bit, as
// adding every value to one, whatever the order, so saved partial states merge like sums.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// A 64-bit hash of `text` spread over all bits (FNV-1a, then the splitmix64 finalizer, whose
// avalanche HyperLogLog's register choice and leading-zero count need). Stable across builds.
std::uint64_t spread_hash(std::string_view text);

// HyperLogLog with 2^12 registers of 64-bit hashes: relative standard error
// 1.04/sqrt(4096) = 1.625%, estimated with Ertl's improved estimator ("New cardinality
// estimation algorithms for HyperLogLog sketches", 2017), which has no bias to correct by
// tables between the small and the large range.
class HyperLogLog {
 public:
  static constexpr int precision = 12;
  static constexpr std::size_t register_count = std::size_t{1} << precision;
  static constexpr double standard_error = 0.01625;

  HyperLogLog() : registers_(register_count, 0) {}
  void add(std::uint64_t hash);
  void merge(const HyperLogLog& other);
  [[nodiscard]] double estimate() const;
  [[nodiscard]] const std::vector<std::uint8_t>& registers() const { return registers_; }
  // Error(65) when `registers` is not register_count values of at most 64 - precision + 1.
  static HyperLogLog from_registers(std::vector<std::uint8_t> registers);
  friend bool operator==(const HyperLogLog&, const HyperLogLog&) = default;

 private:
  std::vector<std::uint8_t> registers_;
};

// Distinct values: an exact set of their hashes while it holds at most `exact_limit`, then a
// HyperLogLog of every hash added (the set's hashes included). Which form a counter has
// depends only on the set of hashes added, never on their order or on merging.
class DistinctCounter {
 public:
  static constexpr std::size_t exact_limit = 1024;

  void add(std::uint64_t hash);
  void merge(const DistinctCounter& other);
  // The exact count, or the sketch's estimate rounded to the nearest integer.
  [[nodiscard]] std::uint64_t count() const;
  [[nodiscard]] bool exact() const { return !sketch_; }
  // The exact set's hashes in ascending order (empty once estimated).
  [[nodiscard]] const std::vector<std::uint64_t>& hashes() const { return set_; }
  [[nodiscard]] const HyperLogLog* sketch() const { return sketch_ ? &*sketch_ : nullptr; }
  static DistinctCounter from_hashes(const std::vector<std::uint64_t>& hashes);
  static DistinctCounter from_sketch(HyperLogLog sketch);

 private:
  void become_sketch();
  std::vector<std::uint64_t> set_;  // ascending, while exact
  std::optional<HyperLogLog> sketch_;
};

// DDSketch (Masson, Rim and Lee, VLDB 2019) with relative accuracy 1%: a quantile it returns
// is within 1% of the exact one (the value of rank floor(q * (n - 1)) in the sorted values,
// 0-based), for positive, negative and zero values alike. Buckets are unbounded (no
// collapsing): a value range of 1e-9 to 1e9 is about 2,100 buckets per sign.
class QuantileSketch {
 public:
  static constexpr double relative_accuracy = 0.01;

  void add(double value);  // value must be finite
  void merge(const QuantileSketch& other);
  [[nodiscard]] std::uint64_t count() const { return count_; }
  // q in [0, 1]; count() must be > 0.
  [[nodiscard]] double quantile(double q) const;
  // The estimate of the value of `rank` (0-based) in the sorted values; rank < count(). For a
  // q known exactly as a fraction, whose product with n - 1 a double may round below an
  // integer (0.29 x 100 = 28.999999999999996).
  [[nodiscard]] double value_at_rank(std::uint64_t rank) const;

  // Serialized form: zero count, then each store as its first index and its counts.
  struct Store {
    std::int32_t offset = 0;            // the index of counts[0]
    std::vector<std::uint64_t> counts;  // trailing and leading zero counts trimmed
    friend bool operator==(const Store&, const Store&) = default;
  };
  [[nodiscard]] std::uint64_t zero_count() const { return zero_count_; }
  [[nodiscard]] const Store& positive() const { return positive_; }
  [[nodiscard]] const Store& negative() const { return negative_; }
  // Error(65) for a store whose indexes are out of range.
  static QuantileSketch from_parts(std::uint64_t zero_count, Store positive, Store negative);
  friend bool operator==(const QuantileSketch&, const QuantileSketch&) = default;

 private:
  static void add_to(Store& store, std::int32_t index, std::uint64_t count);
  static double value_of(std::int32_t index);
  std::uint64_t count_ = 0;
  std::uint64_t zero_count_ = 0;
  Store positive_;  // indexes of |value| for value > 0
  Store negative_;  // indexes of |value| for value < 0
};

}  // namespace sluice
