// cohort_state: a complete partial state (how events were bucketed, the user dictionary and
// the period bitmaps), merging states, and the state file container of --save-state and
// `cohort merge`.
//
// Container (all integers little-endian):
//   "SLUICE-COHORT\n"                   14 bytes, the magic
//   u32 version                         1
//   u32 n, n bytes                      the bucketing as canonical JSON
//   u8 has_latest, i64 latest           the latest event time, microseconds since the epoch
//   u64 users, then per user:           in id order
//     u32 n, n bytes                    the user key
//   u32 bitmaps, then per bitmap:
//     u8 kind, i32 period               kind 0 = started, 1 = returned
//     u64 n, n bytes                    CRoaring's portable serialization
//   32 bytes                            SHA-256 of everything before it
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cohort_activity.hpp"
#include "cohort_events.hpp"
#include "cohort_period.hpp"

namespace sluice::cohort {

// Everything that decides which bitmap an event lands in. States merge only when equal.
struct Bucketing {
  PeriodUnit unit = PeriodUnit::day;
  std::string tz = "UTC";
  std::chrono::weekday week_start = std::chrono::Monday;
  EventSelection selection;
  bool rolling = false;  // windows: rolling or calendar

  [[nodiscard]] std::string canonical() const;             // canonical JSON
  static Bucketing from_canonical(std::string_view text);  // Error(65) when malformed
  [[nodiscard]] Calendar calendar() const;
  bool operator==(const Bucketing& other) const { return canonical() == other.canonical(); }
};

struct State {
  Bucketing bucketing;
  UserDictionary users;
  Activity activity;
};

// ORs `from` into `into` (same bucketing), mapping `from`'s users into `into`'s dictionary.
void merge_into(State& into, const State& from);

// Writes `state` to `path` atomically (Error 73 when it cannot be created, 74 on write).
void write_state_file(const std::string& path, const State& state);
// Reads a state file: Error(66) when missing, Error(65) naming the file when it is not a
// cohort state, is truncated, fails its checksum or has a newer version.
State read_state_file(const std::string& path);

}  // namespace sluice::cohort
