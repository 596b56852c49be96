#include "sluice/keys.hpp"

#include <fmt/format.h>

#include <string>

#include "sluice/error.hpp"
#include "sluice/json.hpp"

namespace sluice {

bool is_valid_key(std::string_view key) {
  bool valid = !key.empty() && key.size() <= max_key_length;
  for (char c : key) valid = valid && c >= 0x21 && c <= 0x7e;
  return valid;
}

void validate_key(std::string_view what, std::string_view key) {
  if (!is_valid_key(key)) {
    // Quoted as JSON so that control characters in the bad key do not reach the terminal.
    std::string quoted;
    append_json_string(quoted, key.substr(0, 300));
    throw Error(exit_code::usage,
                fmt::format("invalid {} {}: use 1 to 255 printable ASCII characters without "
                            "spaces",
                            what, quoted));
  }
}

std::uint64_t stable_hash(std::initializer_list<std::string_view> parts) {
  std::uint64_t hash = 14695981039346656037ull;
  bool first = true;
  for (std::string_view part : parts) {
    if (!first) hash *= 1099511628211ull;  // the NUL between parts (xor with 0 changes nothing)
    first = false;
    for (unsigned char byte : part) {
      hash ^= byte;
      hash *= 1099511628211ull;
    }
  }
  return hash;
}

}  // namespace sluice
