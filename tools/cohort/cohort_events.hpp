// cohort_events: reading event records ({"ts":..,"user":..,"event":..}) into an Activity.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cohort_activity.hpp"
#include "cohort_alias.hpp"
#include "cohort_period.hpp"
#include "cohort_rolling.hpp"
#include "sluice/jsonl.hpp"
#include "sluice/progress.hpp"

namespace sluice::cohort {

struct EventFields {
  std::string user = "user";
  std::string time = "ts";
  std::string event = "event";
};

// FIELD=VALUE of --start-where and --return-where: the event's FIELD (a top-level key, or a
// path of keys into nested objects: "props.plan") holds VALUE: a string with exactly that
// text, or a number or boolean written exactly so (10 matches "10", not "10.0"). A missing,
// null, object or array field never matches.
struct Condition {
  std::string field;
  std::string value;
  friend auto operator<=>(const Condition&, const Condition&) = default;
};

// "FIELD=VALUE" (split at the first '='); Error(2) naming `option` when there is no '=' or
// FIELD is empty.
Condition parse_condition(std::string_view option, std::string_view text);

// Which events start a cohort and which count as a return: nullopt (no names) means any
// event; an event must also meet every condition of its kind. The return events and the
// conditions are sorted and distinct.
struct EventSelection {
  std::optional<std::string> start_event;
  std::vector<std::string> return_events;
  std::vector<Condition> start_where;
  std::vector<Condition> return_where;
  friend bool operator==(const EventSelection&, const EventSelection&) = default;
};

struct ReadOptions {
  EventFields fields;
  EventSelection selection;
  InputOptions input;  // --skip-invalid, --max-line-bytes
  // --by FIELD (a key or a path, as for conditions): each start event's value goes to the
  // Breakdown given to read_events.
  std::optional<std::string> by;
  const Aliases* aliases = nullptr;  // --alias-file: user keys are resolved through it
  ProgressMode progress = ProgressMode::never;
  std::string progress_label = "cohort";
};

struct ReadResult {
  std::uint64_t events = 0;   // valid event records read
  std::uint64_t skipped = 0;  // bad lines skipped under skip_invalid
  // The selected event names that no event had (most likely misspelt), and the distinct
  // names the events had (the first max_names_seen), for the message that says so.
  std::vector<std::string> unmatched;
  std::vector<std::string> names_seen;
  static constexpr std::size_t max_names_seen = 20;
  // The conditions no event met (a misspelt field or value), as "--start-where FIELD=VALUE".
  std::vector<std::string> unmet;
};

// Reads the events of `inputs` (none or "-" is stdin) into `users` and `activity`. The user
// is a string or an integer (42 and "42" are the same user); the time an RFC 3339 string or
// epoch seconds/milliseconds; the event, when present, a string. A bad record throws
// Error(65) naming the input, line and field, or is reported and counted under
// input.skip_invalid.
// With `rolling`, every start and return event's time is kept there too; with options.by,
// `breakdown` gets every start event's value of that field (a value that is an object or an
// array is a bad record).
ReadResult read_events(const std::vector<std::string>& inputs, const ReadOptions& options,
                       const Calendar& calendar, UserDictionary& users, Activity& activity,
                       RollingEvents* rolling = nullptr, Breakdown* breakdown = nullptr);

}  // namespace sluice::cohort
