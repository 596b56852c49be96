// decimal: exact money arithmetic (docs/ARCHITECTURE.md, "libcore modules"). Amounts are
// integers of a currency's minor unit (ISO 4217 exponent), rates are exact fractions, every
// rounding is explicit, and no binary floating point touches money. BigUnsigned carries the
// products that outgrow 128 bits (an annuity factor (1+r)^n for n = 360 has over a thousand
// digits) so that formulas can be evaluated as exact fractions and rounded once.
//
// Parsers of command-line text throw Error(2); callers reading records catch and rethrow with
// exit_code::data and the record's location, as timeutil's callers do.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::decimal {

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

enum class Rounding { half_up, half_even, ceiling, floor, down };

// "half-up", "half-even", "ceiling", "floor", "down"; Error(2) naming `option` otherwise.
Rounding parse_rounding(std::string_view option, std::string_view text);
std::string_view rounding_name(Rounding rounding);
std::vector<std::string> rounding_words();  // the names above, for shell completion

// numerator / denominator rounded to an integer (half-up and half-even break ties away from
// zero / to even; ceiling and floor toward +/- infinity; down toward zero). denominator != 0.
Int128 divide(Int128 numerator, Int128 denominator, Rounding rounding);

Int128 gcd(Int128 a, Int128 b);

// 10^exponent for 0 <= exponent <= 38.
Int128 power_of_ten(int exponent);

struct Currency {
  std::string code;
  int exponent = 2;  // digits after the decimal point of the minor unit
};

// The ISO 4217 currency with that upper-case code. Error(2) for an unknown code, and with a
// specific message for a withdrawn one (HRK, BGN, ...) and for the codes that are not money a
// price or payment can be in: funds (CLF, USN, ...), precious metals (XAU, ...), XXX, XTS.
Currency currency(std::string_view code);

// Whether a parser accepts a negative value.
enum class Negative { refused, allowed };

// Parses "1234.5" or "1234.50" (at most `exponent` fraction digits, no exponent notation, no
// sign unless negatives are allowed) into minor units. Error(2) saying what is wrong otherwise.
std::int64_t parse_amount(std::string_view text, int exponent,
                          Negative negative = Negative::refused);

// Reads a JSON number's text (RFC 8259: "49.99", "1e2", "1.5E1", "4999e-2") exactly, as minor
// units of a currency with `exponent` decimals: "1e2" is 100 major units, "0.0199e2" is 1.99.
// Error(2) with parse_amount's messages (naming `text` as written) when it is not a JSON
// number, has digits below the minor unit ("1.001e0" in USD), is above INT64_MAX minor units,
// or starts with '-' (even "-0") while negatives are refused.
std::int64_t parse_json_amount(std::string_view text, int exponent,
                               Negative negative = Negative::refused);

// Minor units as a decimal string with exactly `exponent` fraction digits ("8791.59", "-0.50").
std::string format_amount(Int128 minor, int exponent);
// The same text appended to `out` without a temporary (for output loops).
void append_amount(std::string& out, Int128 minor, int exponent);

// An exact fraction in lowest terms with a positive denominator.
struct Fraction {
  Int128 numerator = 0;
  Int128 denominator = 1;
  friend bool operator==(const Fraction&, const Fraction&) = default;
};
Fraction make_fraction(Int128 numerator, Int128 denominator);

// Exact arithmetic in lowest terms. Error(65) when a result outgrows 127 bits (rates and
// multipliers of a few dozen digits are far from that); division by zero is Error(70).
Fraction operator+(const Fraction& a, const Fraction& b);
Fraction operator-(const Fraction& a, const Fraction& b);
Fraction operator*(const Fraction& a, const Fraction& b);
Fraction operator/(const Fraction& a, const Fraction& b);
std::strong_ordering operator<=>(const Fraction& a, const Fraction& b);

// Decimal text ("0.92", "151.2300", "-1019.125"; no exponent, at most 18 places, and the
// digits without the point below 2^63) as an exact
// fraction. Error(2) naming `what` otherwise; a negative value only with Negative::allowed.
Fraction parse_decimal(std::string_view what, std::string_view text,
                       Negative negative = Negative::refused);

// The shortest decimal text of `value` ("0.92", "1", "-0.5"). A value that needs more than
// max_places digits after the point is rounded half-even to max_places (then trimmed).
std::string format_decimal(const Fraction& value, int max_places);

// value rounded to an integer.
Int128 round(const Fraction& value, Rounding rounding);

// Splits `amount` (minor units) into parts proportional to `ratios` (non-negative, not all
// zero) that sum exactly to `amount`: each part gets the floor of its exact share of |amount|
// and the units left over go one each to the largest remainders, ties to the earlier part; a
// negative amount is split like its absolute value and negated. Error(2) for bad ratios.
std::vector<Int128> allocate(Int128 amount, const std::vector<Int128>& ratios);

// A rate with its unit as a fraction of 1: "8.5%" -> 17/200, "850bp" -> 17/200, "0%" -> 0.
// A bare number is Error(2) with a hint to add % or bp.
Fraction parse_rate(std::string_view option, std::string_view text);

// "8.5%" style text of a rate (exact when the rate has a finite decimal expansion in percent,
// which every parsed rate has).
std::string format_rate(const Fraction& rate);

// Arbitrary-size unsigned integer, just enough for exact fractions: multiply, add, subtract,
// compare, and division whose quotient fits in 126 bits.
class BigUnsigned {
 public:
  BigUnsigned() = default;
  explicit BigUnsigned(UInt128 value);

  friend BigUnsigned operator*(const BigUnsigned& a, const BigUnsigned& b);
  friend BigUnsigned operator+(const BigUnsigned& a, const BigUnsigned& b);
  // a - b for a >= b (Error(70) otherwise: a bug in the caller).
  friend BigUnsigned operator-(const BigUnsigned& a, const BigUnsigned& b);
  friend std::strong_ordering operator<=>(const BigUnsigned& a, const BigUnsigned& b);
  friend bool operator==(const BigUnsigned& a, const BigUnsigned& b) = default;

  [[nodiscard]] BigUnsigned pow(unsigned exponent) const;
  [[nodiscard]] BigUnsigned shifted_left(unsigned bits) const;
  [[nodiscard]] unsigned bit_length() const;
  [[nodiscard]] bool is_zero() const { return limbs_.empty(); }
  [[nodiscard]] std::string to_string() const;

  // numerator / denominator rounded; Error(65) when the quotient needs more than 126 bits.
  friend Int128 divide(const BigUnsigned& numerator, const BigUnsigned& denominator,
                       Rounding rounding);

 private:
  void trim();
  std::vector<std::uint32_t> limbs_;  // little-endian, no leading zero limbs
};

// numerator / denominator rounded; Error(65) when the quotient needs more than 126 bits.
Int128 divide(const BigUnsigned& numerator, const BigUnsigned& denominator, Rounding rounding);

}  // namespace sluice::decimal
