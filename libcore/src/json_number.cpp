// JSON numbers from doubles: the shortest text that reads back as the same double, laid out
// as std::to_chars(first, last, value) lays it out (fixed or scientific, whichever is shorter,
// fixed on a tie), so output does not change with the formatter.
//
// Why not std::to_chars itself: it was a third of zscore's run, which prints five numbers a
// point. In a micro-benchmark (2,000,000 doubles like zscore's means and bounds) to_chars
// took 38 ns a number and this 33 ns, of which 13 ns is fmt's Dragonbox finding the shortest
// digits (fmt::detail: an internal API of the fmt 9.1 we build against; the test against
// std::to_chars on a million random doubles would catch a change). The digits are written two
// at a time from a table, in eight-digit blocks, straight to where they belong.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include "sluice/json.hpp"

namespace sluice {

namespace {

constexpr char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

void write_two(char* at, std::uint32_t number) {  // number < 100
  std::memcpy(at, digit_pairs + 2 * number, 2);
}

void write_eight(char* at, std::uint32_t number) {  // number < 10^8, zero-padded
  std::uint32_t high = number / 10'000, low = number % 10'000;
  write_two(at, high / 100);
  write_two(at + 2, high % 100);
  write_two(at + 4, low / 100);
  write_two(at + 6, low % 100);
}

// Writes `number` (< 10^count) as exactly `count` digits, zero-padded, at out[0..count).
void write_digits(char* out, std::uint64_t number, int count) {
  constexpr std::uint64_t block = 100'000'000;
  char* end = out + count;
  for (; count > 8; count -= 8, end -= 8, number /= block) {
    write_eight(end - 8, static_cast<std::uint32_t>(number % block));
  }
  auto rest = static_cast<std::uint32_t>(number);
  for (; count >= 2; count -= 2, rest /= 100) write_two(end -= 2, rest % 100);
  if (count == 1) end[-1] = static_cast<char>('0' + rest);
}

// d1[.d2...]e±XX for the `count` digits of `significand` times 10^exponent.
char* write_scientific(char* out, std::uint64_t significand, int count, int exponent) {
  write_digits(out + 1, significand, count);
  out[0] = out[1];
  out[1] = '.';
  out += count == 1 ? 1 : count + 1;
  int power = exponent + count - 1;
  *out++ = 'e';
  *out++ = power < 0 ? '-' : '+';
  auto magnitude = static_cast<std::uint32_t>(power < 0 ? -power : power);
  if (magnitude >= 100) {
    *out++ = static_cast<char>('0' + magnitude / 100);
    magnitude %= 100;
  }
  write_two(out, magnitude);
  return out + 2;
}

// The same number in fixed form when exponent <= 0: ddd, dd.ddd or 0.000ddd.
char* write_fixed(char* out, std::uint64_t significand, int count, int exponent) {
  int whole = count + exponent;  // digits before the point
  if (whole <= 0) {
    std::memcpy(out, "0.000", 5);  // fixed form has at most 3 zeros after the point
    out += 2 - whole;
    write_digits(out, significand, count);
    return out + count;
  }
  if (whole == count) {
    write_digits(out, significand, count);
    return out + count;
  }
  write_digits(out + 1, significand, count);
  for (int i = 0; i < whole; ++i) out[i] = out[i + 1];
  out[whole] = '.';
  return out + count + 1;
}

// A whole number in fixed form with a positive exponent. std::to_chars writes its exact value
// rather than the shortest digits padded with zeros (340647175467095621632, not
// 340647175467095600000); so does this. Fixed form is chosen only when no longer than
// scientific form (24 characters), so only values from 2^64 to 10^24 need more than 64 bits:
// those few go to std::to_chars itself.
char* write_whole(char* out, double magnitude) {
  constexpr double two_to_the_64 = 18446744073709551616.0;
  if (magnitude >= two_to_the_64) {
    return std::to_chars(out, out + max_json_number_length, magnitude).ptr;
  }
  auto number = static_cast<std::uint64_t>(magnitude);
  int count = fmt::detail::count_digits(number);
  write_digits(out, number, count);
  return out + count;
}

}  // namespace

char* write_json_number(char* out, double value) {
  if (!std::isfinite(value)) {
    std::memcpy(out, "null", 4);
    return out + 4;
  }
  if (std::signbit(value)) *out++ = '-';
  if (value == 0) {
    *out++ = '0';
    return out;
  }
  auto decimal = fmt::detail::dragonbox::to_decimal(std::fabs(value));
  while (decimal.significand % 10 == 0) {  // Dragonbox may leave trailing zeros
    decimal.significand /= 10;
    ++decimal.exponent;
  }
  int count = fmt::detail::count_digits(decimal.significand);
  int exponent = decimal.exponent;
  int power = exponent + count - 1;
  int scientific_length = count + (count > 1 ? 1 : 0) + 2 + (power >= 100 || power <= -100 ? 3 : 2);
  int fixed_length = exponent >= 0          ? count + exponent
                     : count + exponent > 0 ? count + 1
                                            : 2 - exponent;
  if (fixed_length > scientific_length) {
    return write_scientific(out, decimal.significand, count, exponent);
  }
  if (exponent > 0) return write_whole(out, std::fabs(value));
  return write_fixed(out, decimal.significand, count, exponent);
}

void append_json_number(std::string& out, double value) {
  char text[max_json_number_length];
  out.append(text, static_cast<std::size_t>(write_json_number(text, value) - text));
}

}  // namespace sluice
