// zscore_stream: reads metric points (JSON Lines), runs one Detector per series and writes
// every point through with the verdict's fields added.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sluice/jsonl.hpp"
#include "sluice/progress.hpp"
#include "zscore_detector.hpp"
#include "zscore_store.hpp"

namespace sluice::zscore {

// --records: the records a run prints. points: one per point judged (and zscore's own filled
// and absent records); incidents: only alert_start and alert_end; both: each incident
// record right after the point that started or ended it.
enum class RecordKinds { points, incidents, both };

struct StreamOptions {
  std::vector<std::string> inputs;  // none: stdin
  std::vector<std::string> keys;    // fields whose values name the series (none: one series)
  std::string value_field = "value";
  std::string time_field = "ts";
  InputOptions input;  // --skip-invalid, --max-line-bytes
  // --progress: points read, series and rate on standard error.
  ProgressMode progress = ProgressMode::automatic;
  bool only_anomalies = false;  // of the point records
  RecordKinds records = RecordKinds::points;
  // --interval and --missing: with missing_as_zero, the slots of a gap (whole intervals
  // between a series' latest point and its next, the count rounded to the nearest) are
  // judged as zeros and printed as records zscore makes ("filled": true); otherwise a gap
  // is just a gap.
  std::optional<Duration> interval;
  bool missing_as_zero = false;
  // The most series one run holds in memory (--max-series): a point that would start one
  // more is a bad line, so that an input with millions of distinct keys cannot exhaust memory.
  std::size_t max_series = default_max_series;
  static constexpr std::size_t default_max_series = 1'000'000;
  // --reorder-window: each point waits until one this much later (in the points' own time,
  // of any series) has been read, and the waiting points are judged in time order; input
  // out of order by less than the window is judged as if sorted. None: judged as read.
  std::optional<Duration> reorder_window;
  // --absent-after: at the end, a series (read or saved in the store) whose latest point is
  // more than this before the run's latest point gets an alert record.
  std::optional<Duration> absent_after;
  // holt-winters --fit: called once per series when its parameters are chosen, with the
  // series' key fields as a JSON object ({} without --key).
  std::function<void(std::string_view series, const Smoothing&)> on_fit;
  DetectorOptions detector;
};

struct StreamResult {
  std::uint64_t points = 0;             // valid points read
  std::uint64_t anomalies = 0;          // records with "anomaly": true (absence alerts included)
  std::uint64_t incidents_started = 0;  // alert_start records, printed or not
  // Points at or before their series' latest time, dropped unjudged, in three kinds: at or
  // before the latest time of the saved state (--db: an earlier run judged them), at the
  // very time of the latest point, or before it (the input is out of time order).
  std::uint64_t seen_before = 0;
  std::uint64_t repeated = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t skipped = 0;  // bad lines skipped under --skip-invalid
  // --key fields that no point had: most likely misspelt. The store is then left unsaved.
  std::vector<std::string> absent_keys;
};

// Throws Error(65) on a bad line unless input.skip_invalid (then counted in `skipped`). With a
// store, each series starts from its saved state and every series that learnt a point is
// saved into the store's transaction at the end (the caller commits it), unless a --key
// field was absent from every point.
StreamResult run_stream(const StreamOptions& options, OutputStream& out,
                        SeriesStore* store = nullptr);

// The fields zscore adds, in output order; an input record's own fields of these names are
// replaced.
inline constexpr std::string_view added_fields[] = {"expected", "lower",   "upper",  "z",
                                                    "score",    "anomaly", "method", "reason"};

}  // namespace sluice::zscore
