// keys: the one rule for idempotency keys and scopes across the toolkit. idemkey stores and
// checks them; a tool that prints keys for idemkey (emi-schedule collect) derives keys that
// pass the same rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

namespace sluice {

// The longest valid key, in bytes.
inline constexpr std::size_t max_key_length = 255;

// A valid key (or scope) is 1 to max_key_length characters, each in 0x21-0x7E: printable
// ASCII without spaces, so that it is one shell word and one line of a log.
bool is_valid_key(std::string_view key);

// Throws Error(2), naming `what` ("key", "scope") and quoting the key as JSON, unless
// is_valid_key(key).
void validate_key(std::string_view what, std::string_view key);

// FNV-1a, 64-bit, of `parts` joined by NUL bytes: stable across builds, processes and
// platforms (idemkey stores it; lock files are named by it), and cheap. Not for secrets.
std::uint64_t stable_hash(std::initializer_list<std::string_view> parts);

}  // namespace sluice
