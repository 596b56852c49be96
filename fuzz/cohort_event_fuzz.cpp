// cohort's event records: any input read by read_events as `cohort matrix` and `cohort
// ingest` read it: the defaults (daily periods in UTC, any event) without and with
// --skip-invalid, and with --skip-invalid weekly periods from Sunday in America/Sao_Paulo
// (daylight saving once began at midnight there) with rolling windows and start and return
// events, and monthly periods in Asia/Kathmandu (+05:45). Expected: the events, or a rejection
// (Error(65), or one report per bad line under --skip-invalid). Defects: a crash, a leak, UB,
// more users than events, a line counted twice or never under --skip-invalid, any other
// exception or exit code.
#include <string>
#include <vector>

#include "cohort_events.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace sluice;
using namespace sluice::cohort;

struct Reading {
  EventSelection selection;
  bool skip_invalid = false;
  Calendar calendar;
  bool rolling = false;
};

std::vector<Reading> make_readings() {
  EventSelection any;
  EventSelection signup{"signup", {"buy"}};
  Calendar daily(PeriodUnit::day, TimeZone::utc(), std::chrono::Monday);
  Calendar weekly(PeriodUnit::week, TimeZone::named("--tz", "America/Sao_Paulo"),
                  std::chrono::Sunday);
  Calendar monthly(PeriodUnit::month, TimeZone::named("--tz", "Asia/Kathmandu"),
                   std::chrono::Monday);
  return {{any, false, daily, false},
          {any, true, daily, false},
          {signup, true, weekly, true},
          {any, true, monthly, false}};
}

void read(const std::string& path, const Reading& reading, std::size_t lines) {
  ReadOptions options{EventFields(), reading.selection, {reading.skip_invalid}};
  UserDictionary users;
  Activity activity;
  RollingEvents rolling;
  ReadResult result = read_events({path}, options, reading.calendar, users, activity,
                                  reading.rolling ? &rolling : nullptr);
  fuzz::require(users.size() <= result.events);
  fuzz::require(activity.latest().has_value() == (result.events > 0));
  if (reading.skip_invalid) fuzz::require(result.events + result.skipped == lines);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<Reading> readings = make_readings();
  fuzz::MemoryFile input(data, size);
  if (input.path().empty()) return 0;
  std::size_t lines = fuzz::line_count(fuzz::text_of(data, size));
  for (const Reading& reading : readings) {
    fuzz::expect_value_or_data_error([&] { read(input.path(), reading, lines); });
  }
  return 0;
}
