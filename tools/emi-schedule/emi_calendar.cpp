#include "emi_calendar.hpp"

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/fdio.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::emi {
namespace {

constexpr std::array<std::string_view, 7> weekday_names{"sun", "mon", "tue", "wed",
                                                        "thu", "fri", "sat"};

Date step(Date date, int days) {
  return Date(std::chrono::sys_days(date) + std::chrono::days(days));
}

// The nearest business day from `date` in direction `days` (+1 or -1), `date` included.
Date nearest_business_day(const BusinessCalendar& calendar, Date date, int days) {
  while (!is_business_day(calendar, date)) date = step(date, days);
  return date;
}

}  // namespace

std::array<bool, 7> parse_weekend(std::string_view option, std::string_view text) {
  std::array<bool, 7> weekend{};
  if (text == "none") return weekend;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = std::min(text.find(',', start), text.size());
    std::string_view name = text.substr(start, comma - start);
    bool known = false;
    for (std::size_t day = 0; day < weekday_names.size(); ++day) {
      if (weekday_names[day] == name) weekend[day] = known = true;
    }
    if (!known) {
      throw Error(exit_code::usage,
                  fmt::format("{}: '{}' is not a day (sun, mon, tue, wed, thu, fri, sat) or none",
                              option, name));
    }
    start = comma + 1;
  }
  if (weekend == std::array<bool, 7>{true, true, true, true, true, true, true}) {
    throw Error(exit_code::usage, fmt::format("{}: every day cannot be a weekend day", option));
  }
  return weekend;
}

std::string weekend_text(const std::array<bool, 7>& weekend) {
  std::string text;
  // Monday first, as people write a week: "sat,sun", "fri,sat".
  for (std::size_t offset = 1; offset <= 7; ++offset) {
    std::size_t day = offset % 7;
    if (weekend[day]) text += fmt::format("{}{}", text.empty() ? "" : ",", weekday_names[day]);
  }
  return text.empty() ? "none" : text;
}

std::set<Date> read_holidays(const std::string& path) {
  InputFile file(path);
  LineReader reader(file.fd(), file.name());
  std::set<Date> holidays;
  std::string_view line;
  while (reader.next(line)) {
    std::string_view text = trim_whitespace(line.substr(0, line.find('#')));
    if (text.empty()) continue;
    try {
      holidays.insert(parse_date(text));
    } catch (const Error& error) {
      throw Error(exit_code::data, fmt::format("holiday: {}", error.what()),
                  location(file.name(), reader.line_number()));
    }
  }
  return holidays;
}

std::string holidays_text(const std::set<Date>& holidays) {
  std::string text;
  for (const Date& day : holidays) text += (text.empty() ? "" : ",") + format_date(day);
  return text;
}

std::set<Date> parse_holidays_text(std::string_view text) {
  std::set<Date> holidays;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t comma = std::min(text.find(',', start), text.size());
    holidays.insert(parse_date(text.substr(start, comma - start)));
    start = comma + 1;
  }
  return holidays;
}

bool is_business_day(const BusinessCalendar& calendar, Date date) {
  unsigned weekday = std::chrono::weekday(std::chrono::sys_days(date)).c_encoding();
  return !calendar.weekend[weekday] && !calendar.holidays.contains(date);
}

Date roll_date(Date date, Roll roll, const BusinessCalendar& calendar) {
  switch (roll) {
    case Roll::none:
      return date;
    case Roll::following:
      return nearest_business_day(calendar, date, 1);
    case Roll::preceding:
      return nearest_business_day(calendar, date, -1);
    case Roll::modified_following: {
      Date following = nearest_business_day(calendar, date, 1);
      if (following.month() == date.month()) return following;
      return nearest_business_day(calendar, date, -1);
    }
  }
  return date;
}

}  // namespace sluice::emi
