// zscore_detector: one series' detector. For each point it first says what the method
// expected (from the points before it), then learns the point.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/names.hpp"
#include "sluice/stats.hpp"
#include "sluice/timeutil.hpp"
#include "zscore_methods.hpp"

namespace sluice::zscore {

enum class MethodKind { zscore, ewma, robust, seasonal, holt_winters };
enum class Direction { both, up, down };
// --transform: what the method sees of a value. sqrt for counts (their spread grows with
// their square root), log (ln(1 + value)) for values that grow by factors; both take values
// of 0 and more only.
enum class Transform { none, sqrt, log };

inline constexpr NameTable<Transform, 3> transform_names(
    {{{"none", Transform::none}, {"sqrt", Transform::sqrt}, {"log", Transform::log}}});
inline constexpr NameTable<Seasonality, 2> seasonality_names(
    {{{"additive", Seasonality::additive}, {"multiplicative", Seasonality::multiplicative}}});

// The value the method sees, and back: a band's bounds are printed in the value's own units.
double transformed(Transform transform, double value);
double untransformed(Transform transform, double value);

struct DetectorOptions {
  MethodKind method = MethodKind::zscore;
  Transform transform = Transform::none;
  std::size_t window = 300;  // zscore, robust: trailing points, the current one excluded
  double alpha = 0.1;        // ewma: weight of the newest point
  SeasonalOptions seasonal;
  HoltWintersOptions holt_winters;
  double threshold = 3;  // |z| above this exceeds
  Direction direction = Direction::both;
  // 0: the method's own: min(window, 30) for zscore and robust, ceil(1/alpha) for ewma,
  // none for seasonal (a phase needs its lookback values) and holt-winters (it needs two
  // seasons).
  std::size_t min_history = 0;
  std::size_t trigger_count = 1, trigger_of = 1;  // --trigger K/N
  std::size_t recover = 1;                        // --recover N
};

// The method's name as printed in "method".
std::string_view method_name(MethodKind method);
// The history a series needs before points are judged.
std::size_t min_history_of(const DetectorOptions& options);

// What the detector says of one point. Without enough history every number is empty,
// `anomaly` too, and `reason` says why. With a zero spread `z` and `score` are empty and the
// point exceeds when it differs from `expected` (in the watched direction). With a
// --transform, z is measured on the transformed values, and expected, lower and upper are
// transformed back into the value's units.
struct Verdict {
  std::optional<double> expected, lower, upper, z;
  std::optional<bool> anomaly;
  std::string_view reason;
  // 1 - p of z's two-sided normal tail; empty with z. Computed on demand: a point that is not
  // printed (--only-anomalies) need not pay for erf.
  [[nodiscard]] std::optional<double> score() const {
    return z ? std::optional<double>(stats::two_sided_score(*z)) : std::nullopt;
  }
};

class Detector {
 public:
  explicit Detector(const DetectorOptions& options);
  // Judges the point, then learns it. `time` matters to the seasonal method only.
  Verdict observe(double value, Instant time = Instant());
  // The detector's whole state, and back (Error(65) for a damaged state).
  void save(StateWriter& out) const;
  void load(StateReader& in);
  // holt-winters --fit: the parameters chosen for this series, once chosen.
  [[nodiscard]] std::optional<Smoothing> fitted() const;
  // In an alert (--trigger started one, --recover has not ended it): the series' anomaly
  // incident is open.
  [[nodiscard]] bool alerting() const { return alerting_; }

 private:
  [[nodiscard]] Verdict judge(const Prediction& prediction, double value);
  bool alert_after(bool exceeds);
  const DetectorOptions* options_;
  Method method_;
  std::size_t seen_ = 0;     // points learnt
  std::deque<bool> recent_;  // exceedances of the last trigger_of judged points
  std::size_t recent_exceeding_ = 0;
  bool alerting_ = false;
  std::size_t calm_run_ = 0;
};

}  // namespace sluice::zscore
