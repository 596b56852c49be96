#include "price_display.hpp"

#include <unicode/uloc.h>
#include <unicode/unum.h>
#include <unicode/ustring.h>

#include <array>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice::price {
namespace {

void check(UErrorCode status, std::string_view what) {
  if (U_FAILURE(status)) {
    throw Error(exit_code::internal, fmt::format("ICU: {}: {}", what, u_errorName(status)));
  }
}

}  // namespace

std::string icu_locale(std::string_view option, std::string_view tag) {
  auto refuse = [&] {
    return Error(exit_code::usage, fmt::format("{}: '{}' is not a locale ICU has data for "
                                               "(a BCP 47 tag such as de-DE, ja-JP, en-IN)",
                                               option, tag));
  };
  std::string text(tag);
  std::array<char, ULOC_FULLNAME_CAPACITY> id{};
  std::array<char, ULOC_LANG_CAPACITY> language{};
  int32_t parsed = 0;
  UErrorCode status = U_ZERO_ERROR;
  uloc_forLanguageTag(text.c_str(), id.data(), id.size(), &parsed, &status);
  if (U_FAILURE(status) || text.empty() || parsed != static_cast<int32_t>(text.size())) {
    throw refuse();
  }
  uloc_getLanguage(id.data(), language.data(), language.size(), &status);
  if (U_FAILURE(status)) throw refuse();
  // ICU formats any ID, falling back to its root data: a language it has no data for is a
  // mistyped tag, not a request for root's formats.
  for (int32_t i = 0, count = uloc_countAvailable(); i < count; ++i) {
    if (std::string_view(uloc_getAvailable(i)) == language.data()) return id.data();
  }
  throw refuse();
}

void DisplayFormat::Closer::operator()(void* format) const {
  unum_close(static_cast<UNumberFormat*>(format));
}

DisplayFormat::DisplayFormat(std::string_view option, std::string_view locale,
                             const decimal::Currency& currency)
    : exponent_(currency.exponent) {
  std::string id = icu_locale(option, locale);
  UErrorCode status = U_ZERO_ERROR;
  UNumberFormat* format = unum_open(UNUM_CURRENCY, nullptr, 0, id.c_str(), nullptr, &status);
  check(status, "unum_open");
  format_.reset(format);
  std::array<UChar, 4> code{};
  u_charsToUChars(currency.code.c_str(), code.data(), 3);
  unum_setTextAttribute(format, UNUM_CURRENCY_CODE, code.data(), 3, &status);
  check(status, "currency code");
  // ISO 4217's decimals, which the amounts have, rather than CLDR's display digits.
  unum_setAttribute(format, UNUM_MIN_FRACTION_DIGITS, exponent_);
  unum_setAttribute(format, UNUM_MAX_FRACTION_DIGITS, exponent_);
}

std::string DisplayFormat::format(decimal::Int128 minor) const {
  std::string number = decimal::format_amount(minor, exponent_);
  std::array<UChar, 256> wide{};
  UErrorCode status = U_ZERO_ERROR;
  int32_t length = unum_formatDecimal(static_cast<const UNumberFormat*>(format_.get()),
                                      number.c_str(), static_cast<int32_t>(number.size()),
                                      wide.data(), wide.size(), nullptr, &status);
  check(status, "unum_formatDecimal");
  std::array<char, 1024> text{};
  int32_t bytes = 0;
  u_strToUTF8(text.data(), text.size(), &bytes, wide.data(), length, &status);
  check(status, "u_strToUTF8");
  return std::string(text.data(), static_cast<std::size_t>(bytes));
}

}  // namespace sluice::price
