#include "zscore_detector.hpp"

#include <cmath>

namespace sluice::zscore {

std::string_view method_name(MethodKind method) {
  return method == MethodKind::ewma ? "ewma" : "zscore";
}

std::size_t min_history_of(const DetectorOptions& options) {
  if (options.min_history > 0) return options.min_history;
  if (options.method == MethodKind::ewma) {
    return static_cast<std::size_t>(std::ceil(1 / options.alpha));
  }
  return options.window;
}

Detector::Detector(const DetectorOptions& options)
    : options_(&options), window_(options.window), ewma_(options.alpha) {}

Detector::Prediction Detector::predict() const {
  // A spread needs two points, whatever --min-history says (which may exceed the window).
  if (seen_ < min_history_of(*options_) || seen_ < 2) return {};
  if (options_->method == MethodKind::ewma) {
    return {true, ewma_.mean(), std::sqrt(ewma_.variance())};
  }
  return {true, window_.mean(), std::sqrt(window_.variance())};
}

void Detector::learn(double value) {
  ++seen_;
  if (options_->method == MethodKind::ewma) {
    ewma_.add(value);
  } else {
    window_.add(value);
  }
}

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

Verdict Detector::observe(double value) {
  Prediction prediction = predict();
  learn(value);
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
    verdict.score = stats::two_sided_score(z);
    up = z > options_->threshold;
    down = z < -options_->threshold;
  } else {
    up = value > prediction.expected;
    down = value < prediction.expected;
    verdict.score = up || down ? 1.0 : 0.0;
  }
  bool exceeds = options_->direction == Direction::up     ? up
                 : options_->direction == Direction::down ? down
                                                          : up || down;
  verdict.anomaly = alert_after(exceeds) && exceeds;
  return verdict;
}

}  // namespace sluice::zscore
