#include "sluice/timezone.hpp"

#include <algorithm>
#include <filesystem>

#include <date/tz.h>
#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice {

namespace {

constexpr const char* zoneinfo_directory = "/usr/share/zoneinfo";

// The tz library reports unknown names by throwing from a shared library, and the tools link
// libstdc++ statically; looking the name up in the database ourselves keeps exceptions from
// crossing that boundary.
const date::time_zone* find_zone(std::string_view name) {
  std::error_code ignored;
  if (!std::filesystem::is_directory(zoneinfo_directory, ignored)) {
    throw Error(
        exit_code::unavailable,
        fmt::format("the time zone database ({}) is missing: install tzdata", zoneinfo_directory));
  }
  const auto& zones = date::get_tzdb().zones;
  auto found = std::find_if(zones.begin(), zones.end(),
                            [name](const date::time_zone& zone) { return zone.name() == name; });
  return found == zones.end() ? nullptr : &*found;
}

}  // namespace

TimeZone TimeZone::utc() {
  return TimeZone("UTC", nullptr);
}

TimeZone TimeZone::named(std::string_view option, std::string_view name) {
  if (name == "UTC" || name == "Z") return utc();
  const date::time_zone* zone = find_zone(name);
  if (zone == nullptr) {
    throw Error(exit_code::usage,
                fmt::format("{}: '{}' is not a time zone of the tz database (like Europe/Berlin, "
                            "America/New_York, UTC)",
                            option, name));
  }
  return TimeZone(std::string(name), zone);
}

Instant TimeZone::local_time(Instant instant) const {
  if (zone_ == nullptr) return instant;
  if (instant < cached_begin_ || instant >= cached_end_) {
    date::sys_info info = zone_->get_info(std::chrono::floor<std::chrono::seconds>(instant));
    cached_begin_ = info.begin;
    cached_end_ = info.end;
    cached_offset_ = info.offset;
  }
  return instant + cached_offset_;
}

std::chrono::sys_days TimeZone::local_day(Instant instant) const {
  return std::chrono::floor<std::chrono::days>(local_time(instant));
}

Instant TimeZone::start_of_day(std::chrono::sys_days day) const {
  if (zone_ == nullptr) return Instant(day);
  date::local_seconds midnight{day.time_since_epoch()};
  date::local_info info = zone_->get_info(midnight);
  if (info.result == date::local_info::nonexistent) return Instant(info.first.end);
  return Instant(std::chrono::sys_seconds((midnight - info.first.offset).time_since_epoch()));
}

}  // namespace sluice
