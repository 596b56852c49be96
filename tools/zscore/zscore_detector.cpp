#include "zscore_detector.hpp"

#include <algorithm>
#include <cmath>

#include "zscore_state_buffer.hpp"

namespace sluice::zscore {

std::string_view method_name(MethodKind method) {
  switch (method) {
    case MethodKind::zscore:
      return "zscore";
    case MethodKind::ewma:
      return "ewma";
    case MethodKind::robust:
      return "robust";
    case MethodKind::seasonal:
      return "seasonal";
    case MethodKind::holt_winters:
      return "holt-winters";
  }
  return "zscore";
}

std::size_t min_history_of(const DetectorOptions& options) {
  if (options.min_history > 0) return options.min_history;
  // Thirty points give a usable mean and spread; waiting for a whole long window would leave
  // a short series unjudged. (ewma keeps the ceil(1/alpha): its early mean is the
  // first value's, weighted far above 1/alpha of the points.)
  constexpr std::size_t enough = 30;
  switch (options.method) {
    case MethodKind::zscore:
    case MethodKind::robust:
      return std::min(options.window, enough);
    case MethodKind::ewma:
      return static_cast<std::size_t>(std::ceil(1 / options.alpha));
    case MethodKind::seasonal:
    case MethodKind::holt_winters:
      return 0;
  }
  return 0;
}

double transformed(Transform transform, double value) {
  switch (transform) {
    case Transform::sqrt:
      return std::sqrt(value);
    case Transform::log:
      return std::log1p(value);
    case Transform::none:
      break;
  }
  return value;
}

double untransformed(Transform transform, double value) {
  switch (transform) {
    case Transform::sqrt:
      // A bound below 0 on the square-root scale lets every count through: 0 in counts.
      return value > 0 ? value * value : 0;
    case Transform::log:
      return std::expm1(value);
    case Transform::none:
      break;
  }
  return value;
}

namespace {

Method make_method(const DetectorOptions& options) {
  switch (options.method) {
    case MethodKind::ewma:
      return EwmaMethod(options.alpha);
    case MethodKind::robust:
      return RobustMethod(options.window);
    case MethodKind::seasonal:
      return SeasonalMethod(options.seasonal);
    case MethodKind::holt_winters:
      return HoltWintersMethod(options.holt_winters);
    case MethodKind::zscore:
      break;
  }
  return MeanMethod(options.window);
}

}  // namespace

Detector::Detector(const DetectorOptions& options)
    : options_(&options), method_(make_method(options)) {}

// Alert hygiene: an alert starts when trigger_count of the last trigger_of judged points
// exceeded, and ends after `recover` points in a row that did not.
bool Detector::alert_after(bool exceeds) {
  recent_.push_back(exceeds);
  recent_exceeding_ += exceeds ? 1 : 0;
  if (recent_.size() > options_->trigger_of) {
    recent_exceeding_ -= recent_.front() ? 1 : 0;
    recent_.pop_front();
  }
  if (!alerting_) {
    alerting_ = recent_exceeding_ >= options_->trigger_count;
    calm_run_ = 0;
  } else if (exceeds) {
    calm_run_ = 0;
  } else if (++calm_run_ >= options_->recover) {
    alerting_ = false;
  }
  return alerting_;
}

Verdict Detector::observe(double value, Instant time) {
  value = transformed(options_->transform, value);
  Prediction prediction =
      std::visit([time](auto& method) { return method.predict(time); }, method_);
  if (seen_ < min_history_of(*options_)) prediction.ready = false;
  std::visit([value, time](auto& method) { method.learn(value, time); }, method_);
  ++seen_;
  return judge(prediction, value);
}

Verdict Detector::judge(const Prediction& prediction, double value) {
  Verdict verdict;
  if (!prediction.ready) {
    verdict.reason = "warming_up";
    return verdict;
  }
  double width = options_->threshold * prediction.spread;
  verdict.expected = prediction.expected;
  verdict.lower = prediction.expected - width;
  verdict.upper = prediction.expected + width;
  bool up = false, down = false;
  if (prediction.spread > 0) {
    double z = (value - prediction.expected) / prediction.spread;
    verdict.z = z;
    up = z > options_->threshold;
    down = z < -options_->threshold;
  } else {
    // No scale to measure the surprise in: the point is judged (any move of a constant
    // metric exceeds) but not scored, so it cannot outrank every measured anomaly.
    up = value > prediction.expected;
    down = value < prediction.expected;
  }
  bool exceeds = options_->direction == Direction::up     ? up
                 : options_->direction == Direction::down ? down
                                                          : up || down;
  verdict.anomaly = alert_after(exceeds) && exceeds;
  if (options_->transform != Transform::none) {
    for (std::optional<double>* bound : {&verdict.expected, &verdict.lower, &verdict.upper}) {
      *bound = untransformed(options_->transform, **bound);
    }
  }
  return verdict;
}

void Detector::save(StateWriter& out) const {
  out.put(static_cast<std::uint64_t>(seen_));
  out.put(static_cast<std::uint64_t>(recent_.size()));
  for (bool exceeded : recent_) out.put(exceeded);
  out.put(alerting_);
  out.put(static_cast<std::uint64_t>(calm_run_));
  std::visit([&out](const auto& method) { method.save(out); }, method_);
}

std::optional<Smoothing> Detector::fitted() const {
  if (const auto* method = std::get_if<HoltWintersMethod>(&method_)) return method->fitted();
  return std::nullopt;
}

void Detector::load(StateReader& in) {
  seen_ = in.get_size();
  std::size_t recent = in.get_size();
  if (recent > options_->trigger_of) StateReader::damaged();
  recent_.clear();
  recent_exceeding_ = 0;
  for (std::size_t i = 0; i < recent; ++i) {
    recent_.push_back(in.get_bool());
    recent_exceeding_ += recent_.back() ? 1 : 0;
  }
  alerting_ = in.get_bool();
  calm_run_ = in.get_size();
  std::visit([&in](auto& method) { method.load(in); }, method_);
  if (!in.at_end()) StateReader::damaged();
}

}  // namespace sluice::zscore
