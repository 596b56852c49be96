#include "sluice/decimal.hpp"

#include <algorithm>
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/names.hpp"

namespace sluice::decimal {
namespace {

using Unsigned128 = UInt128;

Int128 absolute(Int128 value) {
  return value < 0 ? -value : value;
}

// ISO 4217 currencies whose minor unit is not 2 digits; every other listed code has 2.
constexpr std::array<std::pair<std::string_view, int>, 23> unusual_exponents{{
    {"BIF", 0}, {"CLP", 0}, {"DJF", 0}, {"GNF", 0}, {"ISK", 0}, {"JPY", 0}, {"KMF", 0}, {"KRW", 0},
    {"PYG", 0}, {"RWF", 0}, {"UGX", 0}, {"VND", 0}, {"VUV", 0}, {"XAF", 0}, {"XOF", 0}, {"XPF", 0},
    {"BHD", 3}, {"IQD", 3}, {"JOD", 3}, {"KWD", 3}, {"LYD", 3}, {"OMR", 3}, {"TND", 3},
}};

constexpr std::string_view two_digit_currencies =
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR "
    "FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW "
    "KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN "
    "NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD "
    "SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU "
    "UZS VED VES WST XCD XCG YER ZAR ZMW ZWG";

// Codes that were currencies and are no longer (with what replaced them), and codes in ISO
// 4217 that are not money anyone is charged in: refused with a message that says which.
constexpr std::array<std::pair<std::string_view, std::string_view>, 14> withdrawn_currencies{{
    {"ANG", "XCG"},
    {"BGN", "EUR"},
    {"CUC", "CUP"},
    {"EEK", "EUR"},
    {"HRK", "EUR"},
    {"LTL", "EUR"},
    {"LVL", "EUR"},
    {"MRO", "MRU"},
    {"SLL", "SLE"},
    {"STD", "STN"},
    {"VEF", "VES"},
    {"ZWL", "ZWG"},
    {"SKK", "EUR"},
    {"CYP", "EUR"},
}};
constexpr std::string_view fund_codes = "BOV CHE CHW CLF COU MXV USN UYI UYW";
constexpr std::string_view non_money_codes = "XAU XAG XPT XPD XBA XBB XBC XBD XDR XSU XUA XTS XXX";

[[noreturn]] void bad_amount(std::string_view text, std::string_view why) {
  throw Error(exit_code::usage, fmt::format("invalid amount '{}': {}", text, why));
}

}  // namespace

Int128 power_of_ten(int exponent) {
  Int128 value = 1;
  for (int i = 0; i < exponent; ++i) value *= 10;
  return value;
}

namespace {

constexpr NameTable<Rounding, 5> rounding_names({{{"half-up", Rounding::half_up},
                                                  {"half-even", Rounding::half_even},
                                                  {"ceiling", Rounding::ceiling},
                                                  {"floor", Rounding::floor},
                                                  {"down", Rounding::down}}});

}  // namespace

std::vector<std::string> rounding_words() {
  return rounding_names.words();
}

Rounding parse_rounding(std::string_view option, std::string_view text) {
  return rounding_names.parse(option, text);
}

std::string_view rounding_name(Rounding rounding) {
  return rounding_names.name(rounding);
}

Int128 divide(Int128 numerator, Int128 denominator, Rounding rounding) {
  if (denominator == 0) throw Error(exit_code::internal, "division by zero");
  if (denominator < 0) {
    numerator = -numerator;
    denominator = -denominator;
  }
  Int128 quotient = numerator / denominator;  // truncated toward zero
  Int128 remainder = numerator % denominator;
  if (remainder == 0) return quotient;
  int sign = numerator < 0 ? -1 : 1;
  Int128 twice = absolute(remainder) * 2;
  switch (rounding) {
    case Rounding::down:
      return quotient;
    case Rounding::ceiling:
      return sign > 0 ? quotient + 1 : quotient;
    case Rounding::floor:
      return sign < 0 ? quotient - 1 : quotient;
    case Rounding::half_up:
      return twice >= denominator ? quotient + sign : quotient;
    case Rounding::half_even:
      if (twice > denominator || (twice == denominator && quotient % 2 != 0))
        return quotient + sign;
      return quotient;
  }
  return quotient;
}

Int128 gcd(Int128 a, Int128 b) {
  a = absolute(a);
  b = absolute(b);
  while (b != 0) a = std::exchange(b, a % b);
  return a;
}

Currency currency(std::string_view code) {
  for (const auto& [known, exponent] : unusual_exponents) {
    if (code == known) return {std::string(code), exponent};
  }
  bool well_formed = code.size() == 3 && std::all_of(code.begin(), code.end(),
                                                     [](char c) { return c >= 'A' && c <= 'Z'; });
  auto listed_in = [&](std::string_view list) {
    return well_formed && list.find(code) != std::string_view::npos;
  };
  if (listed_in(two_digit_currencies)) return {std::string(code), 2};
  for (const auto& [withdrawn, replacement] : withdrawn_currencies) {
    if (code == withdrawn) {
      throw Error(
          exit_code::usage,
          fmt::format("currency '{}' was withdrawn from ISO 4217 (use {})", code, replacement));
    }
  }
  if (listed_in(fund_codes) || listed_in(non_money_codes)) {
    throw Error(exit_code::usage,
                fmt::format("'{}' is an ISO 4217 {} code, not a currency prices are paid in", code,
                            listed_in(fund_codes) ? "fund" : "precious metal, unit or testing"));
  }
  throw Error(
      exit_code::usage,
      fmt::format("unknown currency '{}' (use an ISO 4217 code such as USD, EUR, JPY)", code));
}

std::int64_t parse_amount(std::string_view text, int exponent, Negative negatives) {
  std::string_view digits = text;
  bool negative = !digits.empty() && digits.front() == '-';
  if (negative) {
    if (negatives == Negative::refused) bad_amount(text, "must not be negative");
    digits.remove_prefix(1);
  }
  auto point = digits.find('.');
  std::string_view whole = digits.substr(0, point);
  std::string_view fraction = point == std::string_view::npos ? "" : digits.substr(point + 1);
  auto all_digits = [](std::string_view part) {
    return std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || !all_digits(whole) || !all_digits(fraction) ||
      (point != std::string_view::npos && fraction.empty())) {
    bad_amount(text, "expected digits with an optional decimal point, like 1234.50");
  }
  if (static_cast<int>(fraction.size()) > exponent) {
    bad_amount(text, fmt::format("more than {} decimal places for this currency", exponent));
  }
  Int128 value = 0;
  for (char c : whole) {
    value = value * 10 + (c - '0');
    if (value > INT64_MAX) bad_amount(text, "too large");
  }
  for (int i = 0; i < exponent; ++i) {
    value = value * 10 + (i < static_cast<int>(fraction.size()) ? fraction[i] - '0' : 0);
    if (value > INT64_MAX) bad_amount(text, "too large");
  }
  return static_cast<std::int64_t>(negative ? -value : value);
}

namespace {

bool all_digits(std::string_view part) {
  return !part.empty() &&
         std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A JSON number without its sign, split as RFC 8259 writes it: int [. fraction] [e power].
struct JsonNumberParts {
  std::string_view whole, fraction, power;
};

std::optional<JsonNumberParts> json_number_parts(std::string_view text) {
  JsonNumberParts parts;
  auto exponent_mark = text.find_first_of("eE");
  std::string_view mantissa = text.substr(0, exponent_mark);
  if (exponent_mark != std::string_view::npos) {
    parts.power = text.substr(exponent_mark + 1);
    std::string_view power_digits = parts.power;
    if (power_digits.starts_with('+') || power_digits.starts_with('-')) {
      power_digits.remove_prefix(1);
    }
    if (!all_digits(power_digits)) return std::nullopt;
  }
  auto point = mantissa.find('.');
  parts.whole = mantissa.substr(0, point);
  if (point != std::string_view::npos) {
    parts.fraction = mantissa.substr(point + 1);
    if (!all_digits(parts.fraction)) return std::nullopt;
  }
  bool leading_zero = parts.whole.size() > 1 && parts.whole.front() == '0';
  if (!all_digits(parts.whole) || leading_zero) return std::nullopt;
  return parts;
}

// The power of ten after 'e', clamped far beyond any amount: the mantissa of a line has at
// most some 2^30 digits, so the clamp cannot change whether a value fits.
std::int64_t clamped_power(std::string_view power) {
  constexpr std::int64_t limit = 1'000'000'000'000;
  bool negative = power.starts_with('-');
  if (negative || power.starts_with('+')) power.remove_prefix(1);
  std::int64_t value = 0;
  for (char c : power) value = std::min(limit, value * 10 + (c - '0'));
  return negative ? -value : value;
}

}  // namespace

std::int64_t parse_json_amount(std::string_view text, int exponent, Negative negative) {
  std::string_view unsigned_text = text;
  bool has_sign = unsigned_text.starts_with('-');
  if (has_sign) unsigned_text.remove_prefix(1);
  auto parts = json_number_parts(unsigned_text);
  if (!parts) bad_amount(text, "expected a JSON number, like 1234.50 or 1.5e3");
  if (has_sign && negative == Negative::refused) bad_amount(text, "must not be negative");
  // value = digits x 10^shift, with the digits' leading and trailing zeros dropped.
  std::string digits = std::string(parts->whole) + std::string(parts->fraction);
  std::int64_t shift =
      clamped_power(parts->power) - static_cast<std::int64_t>(parts->fraction.size());
  digits.erase(0, std::min(digits.size(), digits.find_first_not_of('0')));
  while (!digits.empty() && digits.back() == '0') {
    digits.pop_back();
    ++shift;
  }
  if (digits.empty()) return 0;
  std::int64_t minor_shift = shift + exponent;
  if (minor_shift < 0) {
    bad_amount(text, fmt::format("more than {} decimal places for this currency", exponent));
  }
  // INT64_MAX has 19 digits: a longer value cannot fit, and a shorter one fits in Int128.
  if (static_cast<std::int64_t>(digits.size()) + minor_shift > 19) bad_amount(text, "too large");
  Int128 value = 0;
  for (char c : digits) value = value * 10 + (c - '0');
  value *= power_of_ten(static_cast<int>(minor_shift));
  if (value > INT64_MAX) bad_amount(text, "too large");
  return static_cast<std::int64_t>(has_sign ? -value : value);
}

void append_amount(std::string& out, Int128 minor, int exponent) {
  const int places = std::max(0, exponent);
  Unsigned128 magnitude =
      minor < 0 ? static_cast<Unsigned128>(-(minor + 1)) + 1 : static_cast<Unsigned128>(minor);
  char digits[48];  // 2^127 has 39 digits; room for the point and leading zeros
  char* end = digits + sizeof digits;
  char* begin = end;
  for (int written = 0; magnitude > 0 || written <= places; ++written) {
    if (written == places && places > 0) *--begin = '.';
    *--begin = static_cast<char>('0' + static_cast<int>(magnitude % 10));
    magnitude /= 10;
  }
  if (minor < 0) out.push_back('-');
  out.append(begin, end);
}

std::string format_amount(Int128 minor, int exponent) {
  std::string text;
  append_amount(text, minor, exponent);
  return text;
}

Fraction make_fraction(Int128 numerator, Int128 denominator) {
  if (denominator == 0) throw Error(exit_code::internal, "fraction with a zero denominator");
  if (denominator < 0) {
    numerator = -numerator;
    denominator = -denominator;
  }
  Int128 common = gcd(numerator, denominator);
  if (common > 1) {
    numerator /= common;
    denominator /= common;
  }
  return {numerator, denominator};
}

namespace {

Int128 checked_multiply(Int128 a, Int128 b) {
  Int128 product = 0;
  if (__builtin_mul_overflow(a, b, &product)) {
    throw Error(exit_code::data, "a value is too large to compute exactly");
  }
  return product;
}

Int128 checked_add(Int128 a, Int128 b) {
  Int128 sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    throw Error(exit_code::data, "a value is too large to compute exactly");
  }
  return sum;
}

}  // namespace

Fraction operator*(const Fraction& a, const Fraction& b) {
  // Cancel across first so that products of already-reduced fractions stay small.
  Int128 left = gcd(a.numerator, b.denominator), right = gcd(b.numerator, a.denominator);
  if (left == 0) left = 1;
  if (right == 0) right = 1;
  return make_fraction(checked_multiply(a.numerator / left, b.numerator / right),
                       checked_multiply(a.denominator / right, b.denominator / left));
}

Fraction operator/(const Fraction& a, const Fraction& b) {
  if (b.numerator == 0) throw Error(exit_code::internal, "division by a zero fraction");
  return a * make_fraction(b.denominator, b.numerator);
}

Fraction operator+(const Fraction& a, const Fraction& b) {
  Int128 common = gcd(a.denominator, b.denominator);
  Int128 a_scale = b.denominator / common, b_scale = a.denominator / common;
  return make_fraction(
      checked_add(checked_multiply(a.numerator, a_scale), checked_multiply(b.numerator, b_scale)),
      checked_multiply(a.denominator, a_scale));
}

Fraction operator-(const Fraction& a, const Fraction& b) {
  return a + Fraction{-b.numerator, b.denominator};
}

std::strong_ordering operator<=>(const Fraction& a, const Fraction& b) {
  Fraction difference = a - b;
  return difference.numerator <=> 0;
}

Int128 round(const Fraction& value, Rounding rounding) {
  return divide(value.numerator, value.denominator, rounding);
}

Fraction parse_decimal(std::string_view what, std::string_view text, Negative negative) {
  std::string_view digits = text;
  if (digits.starts_with('-')) digits.remove_prefix(1);
  auto point = digits.find('.');
  int places = point == std::string_view::npos ? 0 : static_cast<int>(digits.size() - point - 1);
  if (places > 18) {
    throw Error(exit_code::usage, fmt::format("{}: '{}' has too many digits", what, text));
  }
  return with_context(exit_code::usage, what, [&] {
    return make_fraction(parse_amount(text, places, negative), power_of_ten(places));
  });
}

std::string format_decimal(const Fraction& value, int max_places) {
  int places = 0;
  while (places < max_places &&
         checked_multiply(value.numerator, power_of_ten(places)) % value.denominator != 0) {
    ++places;
  }
  Int128 scaled = divide(checked_multiply(value.numerator, power_of_ten(places)), value.denominator,
                         Rounding::half_even);
  while (places > 0 && scaled % 10 == 0) {
    scaled /= 10;
    --places;
  }
  return format_amount(scaled, places);
}

std::vector<Int128> allocate(Int128 amount, const std::vector<Int128>& ratios) {
  Int128 total = 0;
  for (Int128 ratio : ratios) {
    if (ratio < 0) throw Error(exit_code::usage, "allocation ratios must not be negative");
    total = checked_add(total, ratio);
  }
  if (total == 0) throw Error(exit_code::usage, "allocation ratios must not all be zero");
  Int128 magnitude = absolute(amount), left = magnitude;
  std::vector<Int128> parts, remainders;
  for (Int128 ratio : ratios) {
    Int128 share = checked_multiply(magnitude, ratio);
    parts.push_back(share / total);
    remainders.push_back(share % total);
    left -= parts.back();
  }
  // `left` < number of parts: hand one unit each to the largest remainders, earlier first.
  std::vector<std::size_t> order(ratios.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return remainders[a] > remainders[b]; });
  for (std::size_t i = 0; left > 0; ++i, --left) ++parts[order[i]];
  if (amount < 0) {
    for (Int128& part : parts) part = -part;
  }
  return parts;
}

Fraction parse_rate(std::string_view option, std::string_view text) {
  int scale_exponent = 0;  // the unit: % is 10^-2, bp is 10^-4
  std::string_view number = text;
  if (number.ends_with("%")) {
    scale_exponent = 2;
    number.remove_suffix(1);
  } else if (number.ends_with("bp")) {
    scale_exponent = 4;
    number.remove_suffix(2);
  } else {
    throw Error(exit_code::usage,
                fmt::format("{}: '{}' has no unit (write it as a percentage like 8.5% or in basis "
                            "points like 850bp)",
                            option, text));
  }
  auto point = number.find('.');
  int places = point == std::string_view::npos ? 0 : static_cast<int>(number.size() - point - 1);
  if (number.empty() || places > 12) {
    throw Error(exit_code::usage, fmt::format("{}: invalid rate '{}'", option, text));
  }
  std::int64_t scaled = 0;
  try {
    scaled = parse_amount(number, places);
  } catch (const Error&) {
    throw Error(exit_code::usage, fmt::format("{}: invalid rate '{}'", option, text));
  }
  return make_fraction(scaled, power_of_ten(places + scale_exponent));
}

std::string format_rate(const Fraction& rate) {
  // Find the fewest decimal places of the percentage that represent the rate exactly.
  for (int places = 0; places <= 16; ++places) {
    Int128 scaled = rate.numerator * 100 * power_of_ten(places);
    if (scaled % rate.denominator == 0) {
      return format_amount(scaled / rate.denominator, places) + "%";
    }
  }
  return format_amount(
             divide(rate.numerator * 100 * power_of_ten(16), rate.denominator, Rounding::half_up),
             16) +
         "%";
}

BigUnsigned::BigUnsigned(UInt128 value) {
  while (value != 0) {
    limbs_.push_back(static_cast<std::uint32_t>(value));
    value >>= 32;
  }
}

void BigUnsigned::trim() {
  while (!limbs_.empty() && limbs_.back() == 0) limbs_.pop_back();
}

BigUnsigned operator*(const BigUnsigned& a, const BigUnsigned& b) {
  BigUnsigned product;
  if (a.is_zero() || b.is_zero()) return product;
  product.limbs_.assign(a.limbs_.size() + b.limbs_.size(), 0);
  for (std::size_t i = 0; i < a.limbs_.size(); ++i) {
    std::uint64_t carry = 0;
    for (std::size_t j = 0; j < b.limbs_.size(); ++j) {
      std::uint64_t sum =
          static_cast<std::uint64_t>(a.limbs_[i]) * b.limbs_[j] + product.limbs_[i + j] + carry;
      product.limbs_[i + j] = static_cast<std::uint32_t>(sum);
      carry = sum >> 32;
    }
    product.limbs_[i + b.limbs_.size()] = static_cast<std::uint32_t>(carry);
  }
  product.trim();
  return product;
}

BigUnsigned operator+(const BigUnsigned& a, const BigUnsigned& b) {
  BigUnsigned sum;
  std::size_t size = std::max(a.limbs_.size(), b.limbs_.size());
  sum.limbs_.resize(size + 1, 0);
  std::uint64_t carry = 0;
  for (std::size_t i = 0; i < size; ++i) {
    std::uint64_t total = carry;
    if (i < a.limbs_.size()) total += a.limbs_[i];
    if (i < b.limbs_.size()) total += b.limbs_[i];
    sum.limbs_[i] = static_cast<std::uint32_t>(total);
    carry = total >> 32;
  }
  sum.limbs_[size] = static_cast<std::uint32_t>(carry);
  sum.trim();
  return sum;
}

BigUnsigned operator-(const BigUnsigned& a, const BigUnsigned& b) {
  if (a < b) throw Error(exit_code::internal, "BigUnsigned subtraction would go negative");
  BigUnsigned difference = a;
  std::int64_t borrow = 0;
  for (std::size_t i = 0; i < difference.limbs_.size(); ++i) {
    std::int64_t value = static_cast<std::int64_t>(difference.limbs_[i]) - borrow -
                         (i < b.limbs_.size() ? static_cast<std::int64_t>(b.limbs_[i]) : 0);
    borrow = value < 0 ? 1 : 0;
    difference.limbs_[i] = static_cast<std::uint32_t>(value + (borrow << 32));
  }
  difference.trim();
  return difference;
}

std::strong_ordering operator<=>(const BigUnsigned& a, const BigUnsigned& b) {
  if (a.limbs_.size() != b.limbs_.size()) return a.limbs_.size() <=> b.limbs_.size();
  for (std::size_t i = a.limbs_.size(); i-- > 0;) {
    if (a.limbs_[i] != b.limbs_[i]) return a.limbs_[i] <=> b.limbs_[i];
  }
  return std::strong_ordering::equal;
}

BigUnsigned BigUnsigned::pow(unsigned exponent) const {
  BigUnsigned result(1), base = *this;
  while (exponent > 0) {
    if (exponent & 1U) result = result * base;
    exponent >>= 1U;
    if (exponent > 0) base = base * base;
  }
  return result;
}

BigUnsigned BigUnsigned::shifted_left(unsigned bits) const {
  if (is_zero()) return *this;
  BigUnsigned shifted;
  unsigned whole = bits / 32, part = bits % 32;
  shifted.limbs_.assign(whole, 0);
  std::uint32_t carry = 0;
  for (std::uint32_t limb : limbs_) {
    shifted.limbs_.push_back(part == 0 ? limb : (limb << part) | carry);
    carry = part == 0 ? 0 : limb >> (32 - part);
  }
  if (carry != 0) shifted.limbs_.push_back(carry);
  return shifted;
}

unsigned BigUnsigned::bit_length() const {
  if (is_zero()) return 0;
  return static_cast<unsigned>(32 * (limbs_.size() - 1)) +
         (32 - static_cast<unsigned>(__builtin_clz(limbs_.back())));
}

std::string BigUnsigned::to_string() const {
  if (is_zero()) return "0";
  // Repeated division by 10^9 on a copy of the limbs.
  std::vector<std::uint32_t> limbs = limbs_;
  std::vector<std::uint32_t> chunks;
  while (!limbs.empty()) {
    std::uint64_t remainder = 0;
    for (std::size_t i = limbs.size(); i-- > 0;) {
      std::uint64_t current = (remainder << 32) | limbs[i];
      limbs[i] = static_cast<std::uint32_t>(current / 1'000'000'000);
      remainder = current % 1'000'000'000;
    }
    chunks.push_back(static_cast<std::uint32_t>(remainder));
    while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
  }
  std::string text = std::to_string(chunks.back());
  for (std::size_t i = chunks.size() - 1; i-- > 0;) text += fmt::format("{:09}", chunks[i]);
  return text;
}

Int128 divide(const BigUnsigned& numerator, const BigUnsigned& denominator, Rounding rounding) {
  if (denominator.is_zero()) throw Error(exit_code::internal, "division by zero");
  unsigned top = numerator.bit_length() > denominator.bit_length()
                     ? numerator.bit_length() - denominator.bit_length()
                     : 0;
  if (top > 125) throw Error(exit_code::data, "an amount is too large to compute exactly");
  // Schoolbook binary long division: the quotient has at most top + 1 bits.
  BigUnsigned remainder = numerator;
  Int128 quotient = 0;
  for (unsigned bit = top + 1; bit-- > 0;) {
    BigUnsigned shifted = denominator.shifted_left(bit);
    if (shifted <= remainder) {
      remainder = remainder - shifted;
      quotient |= static_cast<Int128>(1) << bit;
    }
  }
  if (remainder.is_zero()) return quotient;
  auto twice = remainder.shifted_left(1) <=> denominator;
  switch (rounding) {
    case Rounding::down:
    case Rounding::floor:
      return quotient;
    case Rounding::ceiling:
      return quotient + 1;
    case Rounding::half_up:
      return std::is_gteq(twice) ? quotient + 1 : quotient;
    case Rounding::half_even:
      return std::is_gt(twice) || (std::is_eq(twice) && quotient % 2 != 0) ? quotient + 1
                                                                           : quotient;
  }
  return quotient;
}

}  // namespace sluice::decimal
