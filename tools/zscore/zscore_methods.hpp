// zscore_methods: what each --method expects of a series' next point, and how it learns.
//
// Every method answers predict() from the points learnt so far (never the point judged) and
// then learn()s the point. A Prediction's spread is the scale z is measured in: the standard
// deviation for zscore and ewma, MAD / 0.6745 for robust (so z is Iglewicz and Hoaglin's
// modified z-score), the pooled within-phase deviation for seasonal, the residuals' root mean
// square for holt-winters.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include "sluice/stats.hpp"
#include "sluice/timeutil.hpp"
#include "sluice/timezone.hpp"

namespace sluice::zscore {

class StateWriter;
class StateReader;

struct Prediction {
  bool ready = false;
  double expected = 0, spread = 0;
};

// Trailing window mean and sample standard deviation (--method zscore).
class MeanMethod {
 public:
  explicit MeanMethod(std::size_t window) : window_(window) {}
  [[nodiscard]] Prediction predict(Instant time) const;
  void learn(double value, Instant time);
  void save(StateWriter& out) const;
  void load(StateReader& in);

 private:
  stats::WindowMoments window_;
};

// Exponentially weighted mean and standard deviation (--method ewma).
class EwmaMethod {
 public:
  explicit EwmaMethod(double alpha) : ewma_(alpha) {}
  [[nodiscard]] Prediction predict(Instant time) const;
  void learn(double value, Instant time);
  void save(StateWriter& out) const;
  void load(StateReader& in);

 private:
  stats::Ewma ewma_;
};

// Rolling median and MAD (--method robust). When half the window or more is one value the
// MAD is 0; the spread is then 1.253314 times the mean absolute deviation from the median
// (the rule IBM SPSS and others pair with the modified z-score), and 0 only when every value
// in the window is the same.
class RobustMethod {
 public:
  explicit RobustMethod(std::size_t window) : window_(window) {}
  [[nodiscard]] Prediction predict(Instant time) const;
  void learn(double value, Instant time);
  void save(StateWriter& out) const;
  void load(StateReader& in);

 private:
  stats::OrderedWindow window_;
};

struct SeasonalOptions {
  Duration season{std::chrono::hours(24 * 7)};
  std::size_t lookback = 4;
  Duration bucket{std::chrono::seconds(1)};  // phases are local times rounded down to this
  const TimeZone* zone = nullptr;            // nullptr: UTC
};

// Same phase of the previous seasons (--method seasonal): a point's phase is its local time
// modulo the season, rounded down to the bucket; the expectation is the mean of the last
// `lookback` values seen at that phase, and the spread the pooled within-phase standard
// deviation over every phase (so each phase's few samples borrow the strength of all),
// widened by sqrt(1 + 1/lookback) for a new observation.
class SeasonalMethod {
 public:
  explicit SeasonalMethod(const SeasonalOptions& options) : options_(&options) {}
  [[nodiscard]] Prediction predict(Instant time) const;
  void learn(double value, Instant time);
  void save(StateWriter& out) const;
  void load(StateReader& in);

 private:
  struct Phase {
    std::vector<double> values;  // a ring of up to lookback values
    std::size_t next = 0;
    double squares = 0;  // sum of squared deviations from the phase's mean
  };
  [[nodiscard]] std::int64_t phase_of(Instant time) const;
  static double mean_of(const Phase& phase);
  void resum();
  const SeasonalOptions* options_;
  std::map<std::int64_t, Phase> phases_;  // ordered: re-sums in one order, saved or not
  double pooled_squares_ = 0;
  std::uint64_t pooled_freedom_ = 0;  // sum over phases of (values - 1)
  std::uint64_t updates_ = 0;         // since the last resum
};

// How holt-winters' season combines with level and trend: added (a season of +-k), or
// multiplied (a season of x k, for values whose swing grows with their level).
enum class Seasonality { additive, multiplicative };

struct HoltWintersOptions {
  std::size_t season_length = 0;  // points per season, at least 2
  Seasonality seasonality = Seasonality::additive;
  double alpha = 0.1, beta = 0.05, gamma = 0.1;
  std::size_t residual_window = 0;  // 0: 2 * season_length
  // --fit: choose alpha, beta and gamma once, from the first max(3m, fit_history) points
  // (on two seasons alone the fit follows the noise).
  bool fit = false;
  std::size_t fit_history = 0;
  // The points a series collects before it starts.
  [[nodiscard]] std::size_t start_points() const {
    return fit ? std::max(3 * season_length, fit_history) : 2 * season_length;
  }
};

struct Smoothing {
  double alpha = 0, beta = 0, gamma = 0;
};

// The Holt-Winters recursion's state (see HoltWintersMethod).
struct Smoother {
  Seasonality seasonality = Seasonality::additive;
  double level = 0, trend = 0;
  std::vector<double> season;
  std::size_t position = 0;  // t mod m of the next point

  Smoother() = default;
  // Starts from the first two seasons of `points` (at least 2m of them).
  Smoother(const std::vector<double>& points, std::size_t m, Seasonality seasonality);
  [[nodiscard]] double forecast() const {
    return seasonality == Seasonality::additive ? level + trend + season[position]
                                                : (level + trend) * season[position];
  }
  // Learns `value`; returns its one-step error.
  double step(double value, const Smoothing& smoothing);
};

// The sum of the squared one-step errors of a Smoother started from `points` and run over
// them (infinity when it overflows).
double squared_errors(const std::vector<double>& points, std::size_t m, Seasonality seasonality,
                      const Smoothing& smoothing);

// The smoothing parameters that minimise the sum of squared one-step errors over `points`
// (at least two seasons), starting as HoltWintersMethod starts: a grid over [0, 1]^3, then
// three rounds of a finer grid around the best point. Ties go to the first found.
Smoothing fit_smoothing(const std::vector<double>& points, std::size_t season_length,
                        Seasonality seasonality);

// Additive Holt-Winters (--method holt-winters), in statsmodels' ExponentialSmoothing form:
//   forecast_t = level + trend + season[t mod m]
//   level' = alpha (y - season[t mod m]) + (1 - alpha)(level + trend)
//   trend' = beta (level' - level) + (1 - beta) trend
//   season[t mod m]' = gamma (y - level - trend) + (1 - gamma) season[t mod m]
// It starts once 2m points are in: level = mean of the first season, trend = (mean of the
// second - mean of the first) / m, season[i] = y_i - level; then those 2m points are run
// through the recurrences, so forecasts from point 2m on are statsmodels' fittedvalues with
// these initial values ('known' initialisation). With --fit the parameters are chosen once,
// by fit_smoothing over the first points, and kept with the state.
//
// Multiplicative seasonality (--seasonality multiplicative), statsmodels' seasonal='mul'
// with an additive trend (Hyndman and Athanasopoulos' Holt-Winters multiplicative method):
//   forecast_t = (level + trend) season[t mod m]
//   level' = alpha y / season[t mod m] + (1 - alpha)(level + trend)
//   trend' = beta (level' - level) + (1 - beta) trend
//   season[t mod m]' = gamma y / (level + trend) + (1 - gamma) season[t mod m]
// starting from season[i] = y_i / level (values must be above 0).
class HoltWintersMethod {
 public:
  explicit HoltWintersMethod(const HoltWintersOptions& options);
  [[nodiscard]] Prediction predict(Instant time) const;
  void learn(double value, Instant time);
  void save(StateWriter& out) const;
  void load(StateReader& in);
  // --fit: the parameters chosen, once the series has had its first points; else nothing.
  [[nodiscard]] std::optional<Smoothing> fitted() const {
    if (!options_->fit || !smoother_) return std::nullopt;
    return smoothing_;
  }

 private:
  void start();
  const HoltWintersOptions* options_;
  Smoothing smoothing_;
  std::vector<double> first_points_;  // until start_points() points are in
  std::optional<Smoother> smoother_;  // once started
  stats::WindowMoments residuals_;
};

using Method =
    std::variant<MeanMethod, EwmaMethod, RobustMethod, SeasonalMethod, HoltWintersMethod>;

}  // namespace sluice::zscore
