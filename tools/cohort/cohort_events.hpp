// cohort_events: reading event records ({"ts":..,"user":..,"event":..}) into an Activity.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cohort_activity.hpp"
#include "cohort_period.hpp"
#include "cohort_rolling.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::cohort {

struct EventFields {
  std::string user = "user";
  std::string time = "ts";
  std::string event = "event";
};

// Which events start a cohort and which count as a return: nullopt (no names) means any
// event. The return events are sorted and distinct.
struct EventSelection {
  std::optional<std::string> start_event;
  std::vector<std::string> return_events;
  friend bool operator==(const EventSelection&, const EventSelection&) = default;
};

struct ReadOptions {
  EventFields fields;
  EventSelection selection;
  InputOptions input;  // --skip-invalid, --max-line-bytes
};

struct ReadResult {
  std::uint64_t events = 0;   // valid event records read
  std::uint64_t skipped = 0;  // bad lines skipped under skip_invalid
  // The selected event names that no event had (most likely misspelt), and the distinct
  // names the events had (the first max_names_seen), for the message that says so.
  std::vector<std::string> unmatched;
  std::vector<std::string> names_seen;
  static constexpr std::size_t max_names_seen = 20;
};

// Reads the events of `inputs` (none or "-" is stdin) into `users` and `activity`. The user
// is a string or an integer (42 and "42" are the same user); the time an RFC 3339 string or
// epoch seconds/milliseconds; the event, when present, a string. A bad record throws
// Error(65) naming the input, line and field, or is reported and counted under
// input.skip_invalid.
// With `rolling`, every start and return event's time is kept there too.
ReadResult read_events(const std::vector<std::string>& inputs, const ReadOptions& options,
                       const Calendar& calendar, UserDictionary& users, Activity& activity,
                       RollingEvents* rolling = nullptr);

}  // namespace sluice::cohort
