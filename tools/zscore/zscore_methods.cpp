#include "zscore_methods.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "zscore_state_buffer.hpp"

namespace sluice::zscore {

namespace {

// Iglewicz and Hoaglin's modified z is 0.6745 (x - median) / MAD; with MAD = 0, the usual
// fallback is (x - median) / (1.253314 MeanAD).
constexpr double mad_consistency = 0.6745;
constexpr double mean_deviation_consistency = 1.253314;

void restore_or_fail(bool restored) {
  if (!restored) StateReader::damaged();
}

}  // namespace

Prediction MeanMethod::predict(Instant) const {
  if (window_.count() < 2) return {};
  return {true, window_.mean(), std::sqrt(window_.variance())};
}

void MeanMethod::learn(double value, Instant) {
  window_.add(value);
}

void MeanMethod::save(StateWriter& out) const {
  out.put(window_.snapshot());
}

void MeanMethod::load(StateReader& in) {
  restore_or_fail(window_.restore(in.get_doubles()));
}

Prediction EwmaMethod::predict(Instant) const {
  if (ewma_.count() < 2) return {};
  return {true, ewma_.mean(), std::sqrt(ewma_.variance())};
}

void EwmaMethod::learn(double value, Instant) {
  ewma_.add(value);
}

void EwmaMethod::save(StateWriter& out) const {
  out.put(ewma_.snapshot());
}

void EwmaMethod::load(StateReader& in) {
  restore_or_fail(ewma_.restore(in.get_doubles()));
}

Prediction RobustMethod::predict(Instant) const {
  if (window_.count() < 2) return {};
  double median = window_.median();
  double mad = window_.mad_around(median);
  double spread = mad > 0 ? mad / mad_consistency
                          : mean_deviation_consistency * window_.mean_absolute_deviation();
  return {true, median, spread};
}

void RobustMethod::learn(double value, Instant) {
  window_.add(value);
}

void RobustMethod::save(StateWriter& out) const {
  out.put(window_.added());
  out.put(window_.values());
}

void RobustMethod::load(StateReader& in) {
  std::uint64_t added = in.get_count();
  std::vector<double> values = in.get_doubles();
  if (values.size() > window_.capacity() || values.size() > added) StateReader::damaged();
  window_.restore(values, added);
}

std::int64_t SeasonalMethod::phase_of(Instant time) const {
  Instant local = options_->zone == nullptr ? time : options_->zone->local_time(time);
  auto bucket = options_->bucket.count();
  auto buckets_per_season = options_->season.count() / bucket;
  std::int64_t index = local.time_since_epoch().count() / bucket;
  if (local.time_since_epoch().count() % bucket < 0) --index;  // floor for times before 1970
  std::int64_t phase = index % buckets_per_season;
  return phase < 0 ? phase + buckets_per_season : phase;
}

double SeasonalMethod::mean_of(const Phase& phase) {
  double sum = 0;
  for (double value : phase.values) sum += value;
  return sum / static_cast<double>(phase.values.size());
}

Prediction SeasonalMethod::predict(Instant time) const {
  auto found = phases_.find(phase_of(time));
  if (found == phases_.end() || found->second.values.size() < options_->lookback ||
      pooled_freedom_ == 0) {
    return {};
  }
  double variance = pooled_squares_ / static_cast<double>(pooled_freedom_);
  double widen = 1 + 1 / static_cast<double>(options_->lookback);
  return {true, mean_of(found->second), std::sqrt(std::max(variance, 0.0) * widen)};
}

void SeasonalMethod::learn(double value, Instant time) {
  Phase& phase = phases_[phase_of(time)];
  pooled_squares_ -= phase.squares;
  pooled_freedom_ -= phase.values.empty() ? 0 : phase.values.size() - 1;
  if (phase.values.size() < options_->lookback) {
    phase.values.push_back(value);
  } else {
    phase.values[phase.next] = value;
  }
  phase.next = (phase.next + 1) % options_->lookback;
  double mean = mean_of(phase);
  phase.squares = 0;
  for (double each : phase.values) phase.squares += (each - mean) * (each - mean);
  pooled_squares_ += phase.squares;
  pooled_freedom_ += phase.values.size() - 1;
  // Adding and subtracting phase sums drifts; re-summing once per phase count of updates
  // keeps the pool exact at O(1) amortised cost.
  if (++updates_ >= phases_.size()) resum();
}

void SeasonalMethod::resum() {
  updates_ = 0;
  pooled_squares_ = 0;
  for (const auto& [index, phase] : phases_) pooled_squares_ += phase.squares;
}

void SeasonalMethod::save(StateWriter& out) const {
  out.put(static_cast<std::uint64_t>(phases_.size()));
  for (const auto& [index, phase] : phases_) {
    out.put(static_cast<std::uint64_t>(index));
    out.put(static_cast<std::uint64_t>(phase.next));
    out.put(phase.squares);
    out.put(phase.values);
  }
  out.put(pooled_squares_);
  out.put(pooled_freedom_);
  out.put(updates_);
}

void SeasonalMethod::load(StateReader& in) {
  phases_.clear();
  std::uint64_t count = in.get_count();
  for (std::uint64_t i = 0; i < count; ++i) {
    auto index = static_cast<std::int64_t>(in.get_count());
    Phase& phase = phases_[index];
    phase.next = in.get_size();
    phase.squares = in.get_double();
    phase.values = in.get_doubles();
    if (phase.values.size() > options_->lookback || phase.next >= options_->lookback) {
      StateReader::damaged();
    }
  }
  pooled_squares_ = in.get_double();
  pooled_freedom_ = in.get_count();
  updates_ = in.get_count();
}

double squared_errors(const std::vector<double>& points, std::size_t m, Seasonality seasonality,
                      const Smoothing& s) {
  Smoother smoother(points, m, seasonality);
  double sum = 0;
  for (double point : points) {
    double error = smoother.step(point, s);
    sum += error * error;
  }
  return std::isfinite(sum) ? sum : std::numeric_limits<double>::infinity();
}

Smoother::Smoother(const std::vector<double>& points, std::size_t m, Seasonality seasonality)
    : seasonality(seasonality), season(m) {
  double first = 0, second = 0;
  for (std::size_t i = 0; i < m; ++i) {
    first += points[i];
    second += points[m + i];
  }
  first /= static_cast<double>(m);
  second /= static_cast<double>(m);
  level = first;
  trend = (second - first) / static_cast<double>(m);
  for (std::size_t i = 0; i < m; ++i) {
    season[i] = seasonality == Seasonality::additive ? points[i] - first : points[i] / first;
  }
}

double Smoother::step(double value, const Smoothing& s) {
  double& slot = season[position];
  double error = value - forecast();
  double base = level + trend;
  double next_level = 0;
  if (seasonality == Seasonality::additive) {
    next_level = s.alpha * (value - slot) + (1 - s.alpha) * base;
    slot = s.gamma * (value - level - trend) + (1 - s.gamma) * slot;
  } else {
    next_level = s.alpha * (value / slot) + (1 - s.alpha) * base;
    slot = s.gamma * (value / base) + (1 - s.gamma) * slot;
  }
  double next_trend = s.beta * (next_level - level) + (1 - s.beta) * trend;
  level = next_level;
  trend = next_trend;
  position = (position + 1) % season.size();
  return error;
}

Smoothing fit_smoothing(const std::vector<double>& points, std::size_t season_length,
                        Seasonality seasonality) {
  Smoothing best{0.5, 0.05, 0.1};
  double best_errors = std::numeric_limits<double>::infinity();
  double step = 0.1;
  auto consider = [&](Smoothing candidate) {
    double errors = squared_errors(points, season_length, seasonality, candidate);
    if (errors < best_errors) {
      best_errors = errors;
      best = candidate;
    }
  };
  for (int a = 1; a <= 10; ++a) {
    for (int b = 0; b <= 10; ++b) {
      for (int g = 0; g <= 10; ++g) consider({a * step, b * step, g * step});
    }
  }
  for (int round = 0; round < 3; ++round) {
    step /= 4;
    Smoothing centre = best;
    auto clamp = [](double value, double low) { return std::clamp(value, low, 1.0); };
    for (int a = -2; a <= 2; ++a) {
      for (int b = -2; b <= 2; ++b) {
        for (int g = -2; g <= 2; ++g) {
          consider({clamp(centre.alpha + a * step, step), clamp(centre.beta + b * step, 0),
                    clamp(centre.gamma + g * step, 0)});
        }
      }
    }
  }
  return best;
}

HoltWintersMethod::HoltWintersMethod(const HoltWintersOptions& options)
    : options_(&options),
      smoothing_{options.alpha, options.beta, options.gamma},
      residuals_(options.residual_window > 0 ? options.residual_window
                                             : 2 * options.season_length) {}

Prediction HoltWintersMethod::predict(Instant) const {
  if (!smoother_ || residuals_.count() < 2) return {};
  // The root mean square of the recent one-step errors, not their standard deviation: a
  // forecast that is biased lately should get a wider band, not a narrower one.
  auto count = static_cast<double>(residuals_.count());
  double mean = residuals_.mean();
  double squares = mean * mean + residuals_.variance() * (count - 1) / count;
  return {true, smoother_->forecast(), std::sqrt(squares)};
}

void HoltWintersMethod::learn(double value, Instant) {
  if (smoother_) {
    residuals_.add(smoother_->step(value, smoothing_));
    return;
  }
  first_points_.push_back(value);
  if (first_points_.size() == options_->start_points()) start();
}

void HoltWintersMethod::start() {
  if (options_->fit) {
    smoothing_ = fit_smoothing(first_points_, options_->season_length, options_->seasonality);
  }
  smoother_.emplace(first_points_, options_->season_length, options_->seasonality);
  std::vector<double> points = std::move(first_points_);
  first_points_.clear();
  for (double point : points) residuals_.add(smoother_->step(point, smoothing_));
}

void HoltWintersMethod::save(StateWriter& out) const {
  out.put(smoothing_.alpha);
  out.put(smoothing_.beta);
  out.put(smoothing_.gamma);
  out.put(first_points_);
  out.put(smoother_.has_value());
  if (smoother_) {
    out.put(smoother_->level);
    out.put(smoother_->trend);
    out.put(smoother_->season);
    out.put(static_cast<std::uint64_t>(smoother_->position));
  }
  out.put(residuals_.snapshot());
}

void HoltWintersMethod::load(StateReader& in) {
  smoothing_ = {in.get_double(), in.get_double(), in.get_double()};
  first_points_ = in.get_doubles();
  if (first_points_.size() >= options_->start_points()) StateReader::damaged();
  smoother_.reset();
  if (in.get_bool()) {
    Smoother& smoother = smoother_.emplace();
    smoother.seasonality = options_->seasonality;
    smoother.level = in.get_double();
    smoother.trend = in.get_double();
    smoother.season = in.get_doubles();
    smoother.position = in.get_size();
    if (smoother.season.size() != options_->season_length ||
        smoother.position >= smoother.season.size()) {
      StateReader::damaged();
    }
  }
  restore_or_fail(residuals_.restore(in.get_doubles()));
}

}  // namespace sluice::zscore
