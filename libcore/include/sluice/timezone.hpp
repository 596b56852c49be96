// timezone: local calendar days of instants in an IANA time zone
// (docs/ARCHITECTURE.md, "libcore modules"). Its own library (sluice::timezone) because Howard
// Hinnant's tz library is only shipped shared: tools that need no zones stay free of it.
//
// Zones come from the system's tz database (/usr/share/zoneinfo, Debian's tzdata package).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "sluice/timeutil.hpp"

namespace date {
class time_zone;
}

namespace sluice {

class TimeZone {
 public:
  // UTC, without the tz database.
  static TimeZone utc();
  // "UTC" or an IANA name such as "Europe/Berlin". Error(2) naming `option` for an unknown
  // name; Error(69) when the tz database itself is missing.
  static TimeZone named(std::string_view option, std::string_view name);

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] bool is_utc() const { return zone_ == nullptr; }

  // The local wall-clock time of `instant`, as the UTC instant showing the same date and
  // time (instant + the zone's offset then). Not thread-safe, like local_day.
  [[nodiscard]] Instant local_time(Instant instant) const;

  // The local calendar day `instant` falls on. Not thread-safe: it caches the last offset
  // interval, so instants near each other cost one comparison.
  [[nodiscard]] std::chrono::sys_days local_day(Instant instant) const;

  // The first instant of local day `day`: local midnight, or, when a daylight-saving gap
  // skips midnight, the instant the gap ends (the day's first existing local time). For a
  // repeated midnight, the earlier one.
  [[nodiscard]] Instant start_of_day(std::chrono::sys_days day) const;

 private:
  TimeZone(std::string name, const date::time_zone* zone) : name_(std::move(name)), zone_(zone) {}
  std::string name_;
  const date::time_zone* zone_;  // nullptr for UTC
  mutable Instant cached_begin_{Instant::max()};
  mutable Instant cached_end_{Instant::min()};
  mutable Duration cached_offset_{0};
};

}  // namespace sluice
