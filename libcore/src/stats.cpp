#include "sluice/stats.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>

namespace sluice::stats {

WindowMoments::WindowMoments(std::size_t capacity) : values_(capacity == 0 ? 1 : capacity) {}

void WindowMoments::add(double value) {
  if (count_ == values_.size()) remove_oldest();
  if (count_ == 0) shift_ = value;
  values_[next_] = value;
  next_ = (next_ + 1) % values_.size();
  ++count_;
  double shifted = value - shift_;
  double delta = shifted - mean_;
  mean_ += delta / static_cast<double>(count_);
  squares_ += delta * (shifted - mean_);
}

// Welford's update run backwards for the value about to be overwritten.
void WindowMoments::remove_oldest() {
  double oldest = values_[next_] - shift_;  // the ring is full: the next slot holds the oldest
  --count_;
  if (count_ == 0) {
    mean_ = 0;
    squares_ = 0;
    return;
  }
  double delta = oldest - mean_;
  mean_ -= delta / static_cast<double>(count_);
  squares_ -= delta * (oldest - mean_);
  if (++removals_ >= values_.size()) resum();
}

// Recomputes mean and M2 from the values themselves (two passes), bounding rounding drift,
// and moves the shift to the current mean.
void WindowMoments::resum() {
  removals_ = 0;
  shift_ = mean();
  double sum = 0;
  std::size_t first = (next_ + values_.size() - count_) % values_.size();
  for (std::size_t i = 0; i < count_; ++i) sum += values_[(first + i) % values_.size()] - shift_;
  mean_ = sum / static_cast<double>(count_);
  squares_ = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    double deviation = values_[(first + i) % values_.size()] - shift_ - mean_;
    squares_ += deviation * deviation;
  }
}

double WindowMoments::variance() const {
  if (count_ < 2) return 0;
  double variance = squares_ / static_cast<double>(count_ - 1);
  return variance > 0 ? variance : 0;
}

std::vector<double> WindowMoments::values() const {
  std::vector<double> out;
  out.reserve(count_);
  std::size_t first = (next_ + values_.size() - count_) % values_.size();
  for (std::size_t i = 0; i < count_; ++i) out.push_back(values_[(first + i) % values_.size()]);
  return out;
}

std::vector<double> WindowMoments::snapshot() const {
  std::vector<double> out = {static_cast<double>(next_),
                             static_cast<double>(count_),
                             static_cast<double>(removals_),
                             shift_,
                             mean_,
                             squares_};
  out.insert(out.end(), values_.begin(), values_.end());
  return out;
}

bool WindowMoments::restore(const std::vector<double>& snapshot) {
  constexpr std::size_t header = 6;
  if (snapshot.size() != header + values_.size()) return false;
  auto counter = [](double number) { return static_cast<std::size_t>(number); };
  if (counter(snapshot[0]) >= values_.size() || counter(snapshot[1]) > values_.size()) {
    return false;
  }
  next_ = counter(snapshot[0]);
  count_ = counter(snapshot[1]);
  removals_ = counter(snapshot[2]);
  shift_ = snapshot[3];
  mean_ = snapshot[4];
  squares_ = snapshot[5];
  std::copy(snapshot.begin() + header, snapshot.end(), values_.begin());
  return true;
}

namespace {

// SplitMix64's finaliser: a well-mixed priority from an arrival number.
std::uint32_t priority_of(std::uint64_t arrival) {
  std::uint64_t z = arrival + 0x9E3779B97F4A7C15u;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return static_cast<std::uint32_t>((z ^ (z >> 31)) >> 32);
}

}  // namespace

OrderedWindow::OrderedWindow(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {
  if (tree()) {
    slots_.resize(capacity_);
  } else {
    ring_.resize(capacity_);
    sorted_.reserve(capacity_);
  }
}

bool OrderedWindow::before(std::uint32_t a, std::uint32_t b) const {
  const Slot& first = at(a);
  const Slot& second = at(b);
  return first.value < second.value ||
         (first.value == second.value && first.arrival < second.arrival);
}

void OrderedWindow::update(std::uint32_t node) {
  Slot& slot = at(node);
  slot.size = 1;
  slot.sum = 0;
  if (slot.left != 0) {
    slot.size += at(slot.left).size;
    slot.sum += at(slot.left).sum;
  }
  slot.sum += slot.value;
  if (slot.right != 0) {
    slot.size += at(slot.right).size;
    slot.sum += at(slot.right).sum;
  }
}

// Splits `tree` into the nodes ordered before `node` and the rest.
void OrderedWindow::split(std::uint32_t tree, std::uint32_t node, std::uint32_t& left,
                          std::uint32_t& right) {
  if (tree == 0) {
    left = right = 0;
  } else if (before(tree, node)) {
    split(at(tree).right, node, at(tree).right, right);
    left = tree;
    update(tree);
  } else {
    split(at(tree).left, node, left, at(tree).left);
    right = tree;
    update(tree);
  }
}

std::uint32_t OrderedWindow::merge(std::uint32_t left, std::uint32_t right) {
  if (left == 0) return right;
  if (right == 0) return left;
  if (at(left).priority > at(right).priority) {
    at(left).right = merge(at(left).right, right);
    update(left);
    return left;
  }
  at(right).left = merge(left, at(right).left);
  update(right);
  return right;
}

std::uint32_t OrderedWindow::insert(std::uint32_t tree, std::uint32_t node) {
  if (tree == 0 || at(node).priority > at(tree).priority) {
    split(tree, node, at(node).left, at(node).right);
    update(node);
    return node;
  }
  if (before(node, tree)) {
    at(tree).left = insert(at(tree).left, node);
  } else {
    at(tree).right = insert(at(tree).right, node);
  }
  update(tree);
  return tree;
}

std::uint32_t OrderedWindow::erase(std::uint32_t tree, std::uint32_t node) {
  if (tree == node) return merge(at(node).left, at(node).right);
  if (before(node, tree)) {
    at(tree).left = erase(at(tree).left, node);
  } else {
    at(tree).right = erase(at(tree).right, node);
  }
  update(tree);
  return tree;
}

// The sorted array takes the new value in place of the oldest with one shift of the values
// between their two positions.
void OrderedWindow::add_sorted(double value) {
  auto insert_at = std::upper_bound(sorted_.begin(), sorted_.end(), value);
  if (count_ < capacity_) {
    sorted_.insert(insert_at, value);
    ++count_;
  } else {
    // Any copy of the oldest value will do: equal values are indistinguishable here.
    auto oldest_at = std::lower_bound(sorted_.begin(), sorted_.end(), ring_[next_]);
    if (insert_at > oldest_at) {
      std::move(oldest_at + 1, insert_at, oldest_at);
      *(insert_at - 1) = value;
    } else {
      std::move_backward(insert_at, oldest_at, oldest_at + 1);
      *insert_at = value;
    }
  }
  ring_[next_] = value;
  ++arrivals_;
  next_ = (next_ + 1) % capacity_;
}

void OrderedWindow::add(double value) {
  if (!tree()) {
    add_sorted(value);
    return;
  }
  auto node = static_cast<std::uint32_t>(next_ + 1);
  if (count_ == capacity_) {
    root_ = erase(root_, node);  // the ring is full: the next slot holds the oldest
    --count_;
  }
  at(node) = Slot{value, value, arrivals_, priority_of(arrivals_), 1, 0, 0};
  ++arrivals_;
  root_ = insert(root_, node);
  next_ = (next_ + 1) % capacity_;
  ++count_;
}

double OrderedWindow::select(std::size_t k) const {
  if (!tree()) return sorted_[k];
  std::uint32_t node = root_;
  while (true) {
    const Slot& slot = at(node);
    std::size_t left = slot.left == 0 ? 0 : at(slot.left).size;
    if (k < left) {
      node = slot.left;
    } else if (k == left) {
      return slot.value;
    } else {
      k -= left + 1;
      node = slot.right;
    }
  }
}

double OrderedWindow::sum_of_smallest(std::size_t k) const {
  if (!tree()) {
    return std::accumulate(sorted_.begin(), sorted_.begin() + static_cast<std::ptrdiff_t>(k), 0.0);
  }
  double sum = 0;
  std::uint32_t node = root_;
  while (k > 0 && node != 0) {
    const Slot& slot = at(node);
    std::size_t left = slot.left == 0 ? 0 : at(slot.left).size;
    if (k <= left) {
      node = slot.left;
      continue;
    }
    if (slot.left != 0) sum += at(slot.left).sum;
    sum += slot.value;
    k -= left + 1;
    node = slot.right;
  }
  return sum;
}

std::size_t OrderedWindow::count_below(double value) const {
  if (!tree()) {
    return static_cast<std::size_t>(std::lower_bound(sorted_.begin(), sorted_.end(), value) -
                                    sorted_.begin());
  }
  std::size_t count = 0;
  std::uint32_t node = root_;
  while (node != 0) {
    const Slot& slot = at(node);
    if (slot.value < value) {
      count += (slot.left == 0 ? 0 : at(slot.left).size) + 1;
      node = slot.right;
    } else {
      node = slot.left;
    }
  }
  return count;
}

double OrderedWindow::median() const {
  if (count_ == 0) return 0;
  if (count_ % 2 == 1) return select(count_ / 2);
  return (select(count_ / 2 - 1) + select(count_ / 2)) / 2;
}

namespace {

// The smallest i in [first, last] for which more(i) is false, where more is true then false
// along the range and more(last) is false: a galloping search from `hint`, O(log d) calls for
// an answer d away from the hint.
template <typename Predicate>
std::size_t first_false(std::size_t first, std::size_t last, std::size_t hint, Predicate more) {
  std::size_t at = std::clamp(hint, first, last);
  std::size_t low = first, high = at;
  if (more(at)) {  // the answer is above the hint
    low = at + 1;
    high = std::min(last, low);
    for (std::size_t step = 1; more(high); step *= 2) {
      low = high + 1;
      high = std::min(last, high + step);
    }
  } else {  // the answer is the hint or below it
    for (std::size_t step = 1; high > first; step *= 2) {
      std::size_t probe = high - std::min(step, high - first);
      if (more(probe)) {
        low = probe + 1;
        break;
      }
      high = probe;
    }
  }
  while (low < high) {
    std::size_t middle = low + (high - low) / 2;
    if (more(middle)) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low;
}

}  // namespace

// The absolute deviations from the median m form two ascending runs: m - x for the values
// below m (taken from the middle outwards) and x - m for the others. The k-th smallest of
// their union is found by searching how many of the k + 1 smallest come from the first run;
// that count moves little from one window to the next, so the search starts from the last
// answer (the hint changes the work, never the result).
double OrderedWindow::mad() const {
  return count_ == 0 ? 0 : mad_around(median());
}

double OrderedWindow::mad_around(double middle) const {
  if (count_ == 0) return 0;
  std::size_t below = count_below(middle);
  std::size_t above = count_ - below;
  // The search and the answer look at the same few deviations: remember the last ones.
  std::array<std::pair<std::size_t, double>, 4> lows, highs;
  lows.fill({count_, 0});
  highs.fill({count_, 0});
  auto remembered = [](auto& memory, std::size_t index, auto compute) {
    auto& entry = memory[index % memory.size()];
    if (entry.first != index) entry = {index, compute()};
    return entry.second;
  };
  auto low = [&](std::size_t i) {
    return remembered(lows, i, [&] { return middle - select(below - 1 - i); });
  };
  auto high = [&](std::size_t j) {
    return remembered(highs, j, [&] { return select(below + j) - middle; });
  };
  std::size_t k = (count_ - 1) / 2;  // the (lower) middle deviation
  auto more = [&](std::size_t i) { return i < below && i <= k && high(k - i) > low(i); };
  std::size_t split =
      first_false(k + 1 > above ? k + 1 - above : 0, std::min(k + 1, below), partition_hint_, more);
  partition_hint_ = split;
  double kth = split > 0 ? low(split - 1) : 0;
  if (k >= split) kth = std::max(kth, high(k - split));
  if (count_ % 2 == 1) return kth;
  double next = std::numeric_limits<double>::infinity();
  if (split < below) next = low(split);
  if (k + 1 - split < above) next = std::min(next, high(k + 1 - split));
  return (kth + next) / 2;
}

double OrderedWindow::mean_absolute_deviation() const {
  if (count_ == 0) return 0;
  // The sum of |x - m| for a median m is the upper half's sum minus the lower half's: each
  // pair of a lower and an upper value contributes their distance, the median itself 0.
  std::size_t half = count_ / 2;
  double lower = sum_of_smallest(half);
  double total = tree() ? at(root_).sum : sum_of_smallest(count_);
  double upper = total - sum_of_smallest(count_ - half);
  return (upper - lower) / static_cast<double>(count_);
}

std::vector<double> OrderedWindow::values() const {
  std::vector<double> out;
  out.reserve(count_);
  std::size_t first = (next_ + capacity_ - count_) % capacity_;
  for (std::size_t i = 0; i < count_; ++i) {
    std::size_t slot = (first + i) % capacity_;
    out.push_back(tree() ? slots_[slot].value : ring_[slot]);
  }
  return out;
}

void OrderedWindow::restore(const std::vector<double>& values, std::uint64_t added) {
  slots_.assign(slots_.size(), Slot{});
  sorted_.clear();
  next_ = count_ = 0;
  root_ = 0;
  arrivals_ = added - std::min<std::uint64_t>(added, values.size());
  for (double value : values) add(value);
}

void Ewma::add(double value) {
  if (count_++ == 0) {
    mean_ = value;
    variance_ = 0;
    return;
  }
  double delta = value - mean_;
  double increment = alpha_ * delta;
  mean_ += increment;
  variance_ = (1 - alpha_) * (variance_ + delta * increment);
}

std::vector<double> Ewma::snapshot() const {
  return {static_cast<double>(count_), mean_, variance_};
}

bool Ewma::restore(const std::vector<double>& snapshot) {
  if (snapshot.size() != 3) return false;
  count_ = static_cast<std::size_t>(snapshot[0]);
  mean_ = snapshot[1];
  variance_ = snapshot[2];
  return true;
}

double two_sided_score(double z) {
  return std::erf(std::fabs(z) / std::sqrt(2.0));
}

}  // namespace sluice::stats
