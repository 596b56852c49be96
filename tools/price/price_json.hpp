// price_json: what the records price prints (breakdowns, settings, quotes) share.
#pragma once

#include <optional>
#include <string>

#include "sluice/json.hpp"

namespace sluice::price {

// An optional text field of a record: its string, or null when it has none.
inline JsonValue text_or_null(const std::optional<std::string>& text) {
  return text ? JsonValue::string(*text) : JsonValue::null();
}

}  // namespace sluice::price
