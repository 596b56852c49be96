#include "sluice/sketch.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/keys.hpp"

namespace sluice {

std::uint64_t spread_hash(std::string_view text) {
  std::uint64_t hash = stable_hash({text});
  hash ^= hash >> 30;
  hash *= 0xbf58476d1ce4e5b9ULL;
  hash ^= hash >> 27;
  hash *= 0x94d049bb133111ebULL;
  hash ^= hash >> 31;
  return hash;
}

namespace {

constexpr int hll_max_rank = 64 - HyperLogLog::precision + 1;

// Ertl's sigma and tau series (section 4 of the paper), summed until they stop changing.
double ertl_sigma(double x) {
  if (x == 1.0) return std::numeric_limits<double>::infinity();
  double y = 1.0;
  double sum = x;
  for (;;) {
    x *= x;
    double previous = sum;
    sum += x * y;
    y += y;
    if (sum == previous) return sum;
  }
}

double ertl_tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1.0;
  double sum = 1.0 - x;
  for (;;) {
    x = std::sqrt(x);
    double previous = sum;
    y *= 0.5;
    sum -= (1.0 - x) * (1.0 - x) * y;
    if (sum == previous) return sum / 3.0;
  }
}

}  // namespace

void HyperLogLog::add(std::uint64_t hash) {
  std::size_t index = hash >> (64 - precision);
  std::uint64_t rest = (hash << precision) | (std::uint64_t{1} << (precision - 1));
  auto rank = static_cast<std::uint8_t>(std::countl_zero(rest) + 1);
  if (rank > registers_[index]) registers_[index] = rank;
}

void HyperLogLog::merge(const HyperLogLog& other) {
  for (std::size_t i = 0; i < register_count; ++i) {
    registers_[i] = std::max(registers_[i], other.registers_[i]);
  }
}

double HyperLogLog::estimate() const {
  std::vector<int> histogram(hll_max_rank + 2, 0);
  for (std::uint8_t value : registers_) ++histogram[value];
  const double m = register_count;
  const int q = 64 - precision;
  double z = m * ertl_tau(1.0 - histogram[q + 1] / m);
  for (int k = q; k >= 1; --k) z = 0.5 * (z + histogram[k]);
  z += m * ertl_sigma(histogram[0] / m);
  return m * m / (2.0 * std::log(2.0) * z);
}

HyperLogLog HyperLogLog::from_registers(std::vector<std::uint8_t> registers) {
  if (registers.size() != register_count ||
      std::any_of(registers.begin(), registers.end(),
                  [](std::uint8_t value) { return value > hll_max_rank; })) {
    throw Error(exit_code::data, "malformed HyperLogLog registers");
  }
  HyperLogLog sketch;
  sketch.registers_ = std::move(registers);
  return sketch;
}

void DistinctCounter::add(std::uint64_t hash) {
  if (sketch_) {
    sketch_->add(hash);
    return;
  }
  auto place = std::lower_bound(set_.begin(), set_.end(), hash);
  if (place != set_.end() && *place == hash) return;
  set_.insert(place, hash);
  if (set_.size() > exact_limit) become_sketch();
}

void DistinctCounter::become_sketch() {
  sketch_.emplace();
  for (std::uint64_t hash : set_) sketch_->add(hash);
  set_.clear();
  set_.shrink_to_fit();
}

void DistinctCounter::merge(const DistinctCounter& other) {
  if (other.sketch_) {
    if (!sketch_) become_sketch();
    sketch_->merge(*other.sketch_);
    return;
  }
  for (std::uint64_t hash : other.set_) add(hash);
}

std::uint64_t DistinctCounter::count() const {
  if (!sketch_) return set_.size();
  return static_cast<std::uint64_t>(std::llround(sketch_->estimate()));
}

DistinctCounter DistinctCounter::from_hashes(const std::vector<std::uint64_t>& hashes) {
  DistinctCounter counter;
  for (std::uint64_t hash : hashes) counter.add(hash);
  return counter;
}

DistinctCounter DistinctCounter::from_sketch(HyperLogLog sketch) {
  DistinctCounter counter;
  counter.sketch_ = std::move(sketch);
  return counter;
}

namespace {

// gamma = (1 + a) / (1 - a); a value x > 0 goes to bucket ceil(log_gamma(x)), whose
// representative 2 gamma^i / (gamma + 1) is within a of every value in the bucket.
const double ddsketch_gamma =
    (1.0 + QuantileSketch::relative_accuracy) / (1.0 - QuantileSketch::relative_accuracy);
const double ddsketch_log_gamma = std::log(ddsketch_gamma);
// |values| below this count as zero (their logarithms would leave the index range).
constexpr double ddsketch_smallest = 1e-300;
constexpr std::int32_t ddsketch_index_limit = 40000;  // |log_gamma(1e308)| < 36,000

std::int32_t ddsketch_index(double magnitude) {
  return static_cast<std::int32_t>(std::ceil(std::log(magnitude) / ddsketch_log_gamma));
}

}  // namespace

void QuantileSketch::add_to(Store& store, std::int32_t index, std::uint64_t count) {
  if (count == 0) return;
  if (store.counts.empty()) {
    store.offset = index;
    store.counts.assign(1, count);
    return;
  }
  if (index < store.offset) {
    store.counts.insert(store.counts.begin(), static_cast<std::size_t>(store.offset - index), 0);
    store.offset = index;
  }
  auto slot = static_cast<std::size_t>(index - store.offset);
  if (slot >= store.counts.size()) store.counts.resize(slot + 1, 0);
  store.counts[slot] += count;
}

void QuantileSketch::add(double value) {
  ++count_;
  double magnitude = std::fabs(value);
  if (magnitude < ddsketch_smallest) {
    ++zero_count_;
    return;
  }
  add_to(value > 0 ? positive_ : negative_, ddsketch_index(magnitude), 1);
}

void QuantileSketch::merge(const QuantileSketch& other) {
  count_ += other.count_;
  zero_count_ += other.zero_count_;
  for (auto [mine, theirs] :
       {std::pair{&positive_, &other.positive_}, std::pair{&negative_, &other.negative_}}) {
    for (std::size_t i = 0; i < theirs->counts.size(); ++i) {
      add_to(*mine, theirs->offset + static_cast<std::int32_t>(i), theirs->counts[i]);
    }
  }
}

double QuantileSketch::value_of(std::int32_t index) {
  return 2.0 * std::pow(ddsketch_gamma, index) / (ddsketch_gamma + 1.0);
}

double QuantileSketch::quantile(double q) const {
  return value_at_rank(static_cast<std::uint64_t>(std::floor(q * static_cast<double>(count_ - 1))));
}

double QuantileSketch::value_at_rank(std::uint64_t rank) const {
  std::uint64_t seen = 0;
  // Most negative first: the negative store from its largest magnitude down.
  for (std::size_t i = negative_.counts.size(); i-- > 0;) {
    seen += negative_.counts[i];
    if (seen > rank) return -value_of(negative_.offset + static_cast<std::int32_t>(i));
  }
  seen += zero_count_;
  if (seen > rank) return 0.0;
  for (std::size_t i = 0; i < positive_.counts.size(); ++i) {
    seen += positive_.counts[i];
    if (seen > rank) return value_of(positive_.offset + static_cast<std::int32_t>(i));
  }
  return positive_.counts.empty()
             ? 0.0
             : value_of(positive_.offset + static_cast<std::int32_t>(positive_.counts.size() - 1));
}

QuantileSketch QuantileSketch::from_parts(std::uint64_t zero_count, Store positive,
                                          Store negative) {
  QuantileSketch sketch;
  sketch.zero_count_ = zero_count;
  sketch.count_ = zero_count;
  for (const Store* store : {&positive, &negative}) {
    if (store->counts.empty()) continue;
    auto last =
        static_cast<std::int64_t>(store->offset) + static_cast<std::int64_t>(store->counts.size());
    if (store->offset < -ddsketch_index_limit || last > ddsketch_index_limit ||
        store->counts.front() == 0 || store->counts.back() == 0) {
      throw Error(exit_code::data, "malformed quantile sketch");
    }
    for (std::uint64_t count : store->counts) sketch.count_ += count;
  }
  sketch.positive_ = std::move(positive);
  sketch.negative_ = std::move(negative);
  return sketch;
}

}  // namespace sluice
