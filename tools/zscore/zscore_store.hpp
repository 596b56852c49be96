// zscore_store: each series' detector state between runs (--db), so that a cron job feeds
// only new points. One run is one write transaction: the file's writer lock is held from
// the start of the run to its end, so runs on one file take turns (a second waits up to
// --busy-timeout, then exits 75), and a run that fails or is killed leaves the file as it
// was. synchronous=NORMAL: losing the last run to a power cut re-judges its points.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/db.hpp"
#include "sluice/timeutil.hpp"
#include "zscore_detector.hpp"

namespace sluice::zscore {

// When a series' open incidents started (the time of their alert_start records), or nothing.
// Whether an anomaly incident is open is the detector's alert state; its start is nothing when
// unknown too (a state saved before zscore kept it).
struct OpenIncidents {
  std::optional<Instant> anomaly;
  std::optional<Instant> absence;
};

// What each_series visits of every saved series.
struct SavedSeries {
  std::string_view key;
  Instant latest;
  std::optional<Instant> absence;  // the start of its open absence incident
};

class SeriesStore {
 public:
  // Opens (creating) and migrates the file and begins the run's transaction. `settings` is
  // the canonical text of the options that shape a detector's state: the first run records
  // it, later runs with other settings get Error(65).
  SeriesStore(const std::string& path, Duration busy_timeout, const std::string& settings);

  // Loads the saved state of series `key` into `detector` and `incidents`; returns the
  // series' latest time, or nothing (both untouched) for a series the file does not know.
  std::optional<Instant> load(std::string_view key, Detector& detector, OpenIncidents& incidents);
  // Records the series' state, to be committed with the run.
  void save(std::string_view key, Instant latest, const Detector& detector,
            const OpenIncidents& incidents);
  // Records the start of a saved series' absence incident (one that learnt no point).
  void save_absence(std::string_view key, Instant started);
  // Calls `visit` for every saved series, in key order.
  void each_series(const std::function<void(const SavedSeries&)>& visit);
  // Commits the run. Call it only after every output of the run has been written.
  void commit();

 private:
  void check_settings(const std::string& settings);
  db::Database database_;
  std::optional<db::WriteTransaction> transaction_;
};

}  // namespace sluice::zscore
