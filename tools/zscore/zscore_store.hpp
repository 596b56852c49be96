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

class SeriesStore {
 public:
  // Opens (creating) and migrates the file and begins the run's transaction. `settings` is
  // the canonical text of the options that shape a detector's state: the first run records
  // it, later runs with other settings get Error(65).
  SeriesStore(const std::string& path, Duration busy_timeout, const std::string& settings);

  // Loads the saved state of series `key` into `detector`; returns the series' latest time,
  // or nothing (detector untouched) for a series the file does not know.
  std::optional<Instant> load(std::string_view key, Detector& detector);
  // Records the series' state, to be committed with the run.
  void save(std::string_view key, Instant latest, const Detector& detector);
  // Calls `visit` with the key and latest time of every saved series.
  void each_series(const std::function<void(std::string_view, Instant)>& visit);
  // Commits the run. Call it only after every output of the run has been written.
  void commit();

 private:
  void check_settings(const std::string& settings);
  db::Database database_;
  std::optional<db::WriteTransaction> transaction_;
};

}  // namespace sluice::zscore
