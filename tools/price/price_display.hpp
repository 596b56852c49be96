// price_display: amounts as people in a locale read them ("1.234,56 €" in de-DE, "￥4,740" in
// ja-JP, "₹1,23,456.00" in en-IN), formatted by ICU from the exact decimal text (never a
// binary float), with exactly the currency's ISO 4217 number of decimals. ICU is price's
// alone (docs/ARCHITECTURE.md, "Dependency rule").
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "sluice/decimal.hpp"

namespace sluice::price {

// ICU's locale ID of a BCP 47 tag (de-DE -> de_DE). Error(2) naming `option` for a tag ICU
// cannot read whole or whose language it has no data for.
std::string icu_locale(std::string_view option, std::string_view tag);

class DisplayFormat {
 public:
  // A BCP 47 tag such as de-DE, ja-JP, en-IN; Error(2) as icu_locale.
  DisplayFormat(std::string_view option, std::string_view locale,
                const decimal::Currency& currency);
  // `minor` units of the currency (>= 0), as the locale writes them.
  [[nodiscard]] std::string format(decimal::Int128 minor) const;

 private:
  struct Closer {
    void operator()(void* format) const;
  };
  std::unique_ptr<void, Closer> format_;  // the ICU UNumberFormat
  int exponent_;
};

}  // namespace sluice::price
