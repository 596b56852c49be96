#include "backoff_schedule.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/fdio.hpp"

namespace sluice::backoff {

namespace {

constexpr std::array<std::string_view, 7> http_day_names{"Mon", "Tue", "Wed", "Thu",
                                                         "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 12> http_month_names{
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// The longest duration libcore's parser accepts, in seconds (36500d).
constexpr std::int64_t longest_request_seconds = 36500LL * 86400;

[[noreturn]] void refuse_request(std::string_view text, std::string_view why) {
  throw Error(exit_code::data, fmt::format("'{}' is not a delay ({})", text, why));
}

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Whole milliseconds, rounded up: a command that asked for 1.0004s is not retried sooner.
std::int64_t milliseconds_rounded_up(Duration duration) {
  return duration.count() <= 0 ? 0 : (duration.count() + 999) / 1000;
}

// "30", "1.5" or "1.5s": seconds, with at most six decimals (microseconds).
Duration decimal_seconds(std::string_view text) {
  if (text.ends_with('s')) text.remove_suffix(1);
  auto point = text.find('.');
  std::string_view whole = text.substr(0, point);
  std::string_view fraction = point == std::string_view::npos ? "" : text.substr(point + 1);
  if (!all_digits(whole) || (point != std::string_view::npos && !all_digits(fraction)) ||
      fraction.size() > 6) {
    refuse_request(text, "a fraction is only for seconds, at most six decimals, as in 1.5 or 1.5s");
  }
  std::int64_t seconds = 0;
  auto [end, error] = std::from_chars(whole.data(), whole.data() + whole.size(), seconds);
  if (error != std::errc() || seconds > longest_request_seconds) {
    refuse_request(text, "longer than 36500d");
  }
  std::int64_t micros = 0;
  for (std::size_t digit = 0; digit < 6; ++digit) {
    micros = micros * 10 + (digit < fraction.size() ? fraction[digit] - '0' : 0);
  }
  return std::chrono::seconds(seconds) + Duration(micros);
}

// `count` digits at `position`, or -1.
int http_digits(std::string_view text, std::size_t position, std::size_t count) {
  std::string_view digits = text.substr(position, count);
  if (digits.size() != count || !all_digits(digits)) return -1;
  int value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return value;
}

// An HTTP-date in the IMF-fixdate form every HTTP/1.1 server sends (RFC 9110, 5.6.7):
// "Sun, 06 Nov 1994 08:49:37 GMT". The two obsolete forms are refused.
Instant http_date(std::string_view text) {
  using namespace std::chrono;
  auto named = [&](const auto& names, std::size_t position) {
    auto found = std::find(names.begin(), names.end(), text.substr(position, 3));
    return found == names.end() ? -1 : static_cast<int>(found - names.begin());
  };
  int month = named(http_month_names, 8);
  int day = http_digits(text, 5, 2), year_number = http_digits(text, 12, 4);
  int hour = http_digits(text, 17, 2), minute = http_digits(text, 20, 2);
  int second = http_digits(text, 23, 2);
  bool punctuated = text.size() == 29 && text.substr(3, 2) == ", " && text[7] == ' ' &&
                    text[11] == ' ' && text[16] == ' ' && text[19] == ':' && text[22] == ':' &&
                    text.substr(25) == " GMT";
  year_month_day date{year{year_number}, std::chrono::month{static_cast<unsigned>(month + 1)},
                      std::chrono::day{static_cast<unsigned>(day)}};
  if (!punctuated || named(http_day_names, 0) < 0 || month < 0 || day < 0 || year_number < 0 ||
      hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 ||
      !date.ok()) {
    refuse_request(text, "an HTTP-date is written like Sun, 06 Nov 1994 08:49:37 GMT");
  }
  return sys_days(date) + hours(hour) + minutes(minute) + seconds(second);
}

// libcore's parsers speak of command-line text (exit 2); this text came from the command.
template <typename Parse>
auto parsed_request(Parse parse) {
  try {
    return parse();
  } catch (const Error& error) {
    throw Error(exit_code::data, error.what());
  }
}

}  // namespace

std::optional<std::int64_t> requested_delay_ms(std::string_view text, Instant now) {
  if (text.size() > max_requested_delay_bytes) {
    refuse_request(text.substr(0, 20),
                   fmt::format("longer than {} bytes", max_requested_delay_bytes));
  }
  text = trim_whitespace(text);
  if (text.empty()) return std::nullopt;
  // As far ahead as a duration may reach: a sleep that long still fits the clocks' arithmetic.
  auto until = [now, text](Instant instant) {
    if (instant - now > std::chrono::days(36500)) refuse_request(text, "more than 36500d away");
    return milliseconds_rounded_up(instant - now);
  };
  bool starts_with_digit = text[0] >= '0' && text[0] <= '9';
  if (text[0] == '@' || (text.size() >= 10 && text[4] == '-')) {
    return until(parsed_request([text] { return parse_instant(text); }));
  }
  if (all_digits(text) || (starts_with_digit && text.find('.') != std::string_view::npos)) {
    return milliseconds_rounded_up(decimal_seconds(text));
  }
  if (starts_with_digit) {
    return milliseconds_rounded_up(parsed_request([text] { return parse_duration(text); }));
  }
  if (text.size() > 3 && text[3] == ',') return until(http_date(text));
  refuse_request(text, "use seconds, a duration such as 1500ms, an HTTP-date or an RFC 3339 time");
}

Jitter parse_jitter(std::string_view text) {
  return jitter_names.parse("--jitter", text);
}

std::string_view jitter_name(Jitter jitter) {
  return jitter_names.name(jitter);
}

}  // namespace sluice::backoff
