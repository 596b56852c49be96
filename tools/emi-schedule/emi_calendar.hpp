// Business days for emi-schedule's due dates: weekends (Saturday and Sunday unless told
// otherwise), a holiday list read from a file, and the rolling conventions that move a due
// date off a day that is not a business day.
#pragma once

#include <array>
#include <chrono>
#include <set>
#include <string>
#include <string_view>

#include "sluice/names.hpp"

namespace sluice::emi {

using Date = std::chrono::year_month_day;

// What a due date on a weekend or holiday becomes: itself (none), the next business day
// (following), the next one unless that is in another month, then the previous one
// (modified-following), or the previous business day (preceding).
enum class Roll { none, following, modified_following, preceding };
inline constexpr NameTable<Roll, 4> roll_names({{{"none", Roll::none},
                                                 {"following", Roll::following},
                                                 {"modified-following", Roll::modified_following},
                                                 {"preceding", Roll::preceding}}});

struct BusinessCalendar {
  // Indexed by std::chrono::weekday::c_encoding() (0 = Sunday): Saturday and Sunday.
  std::array<bool, 7> weekend{true, false, false, false, false, false, true};
  std::set<Date> holidays;
};

// "sat,sun", "fri,sat" or "none": the weekend days by their three-letter English names.
// Error(2) naming `option` for an unknown name, or when every day would be a weekend day.
std::array<bool, 7> parse_weekend(std::string_view option, std::string_view text);
std::string weekend_text(const std::array<bool, 7>& weekend);  // "sat,sun", or "none"

// The holidays of a file: one YYYY-MM-DD date per line; blank lines and text from '#' to the
// end of the line are ignored. Error(66) for a missing file, Error(65) at FILE:LINE for a line
// that is not one existing date.
std::set<Date> read_holidays(const std::string& path);
// The holidays as stored with a loan, "2026-01-26,2026-03-04" (and back).
std::string holidays_text(const std::set<Date>& holidays);
std::set<Date> parse_holidays_text(std::string_view text);

bool is_business_day(const BusinessCalendar& calendar, Date date);
Date roll_date(Date date, Roll roll, const BusinessCalendar& calendar);

}  // namespace sluice::emi
