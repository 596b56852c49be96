#include "sluice/stats.hpp"

#include <cmath>

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

double two_sided_score(double z) {
  return std::erf(std::fabs(z) / std::sqrt(2.0));
}

}  // namespace sluice::stats
