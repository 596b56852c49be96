// What every fuzz target shares: the input as text, and the rule that sluice::Error is the
// expected answer to bad input (anything else escaping, a crash, a leak or UB is a defect).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sluice/error.hpp"

namespace sluice::fuzz {

inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `parse` on the input; an Error it throws is a rejection, not a failure.
template <typename Parse>
void expect_value_or_error(Parse&& parse) {
  try {
    parse();
  } catch (const Error&) {
  }
}

// A property that must hold: abort (a libFuzzer crash, with the input saved) when it does not.
inline void require(bool holds) {
  if (!holds) std::abort();
}

}  // namespace sluice::fuzz
