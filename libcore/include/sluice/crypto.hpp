// crypto: SHA-256 (OpenSSL libcrypto) and random tokens, for fingerprints and lease tokens.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sluice {

using Sha256Digest = std::array<std::uint8_t, 32>;

// Incremental SHA-256. Throws sluice::Error (internal) if libcrypto fails.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  // Feeds the length as decimal, ':' and the bytes, so that concatenated fields cannot be
  // confused with each other ("ab","c" and "a","bc" hash differently).
  void update_framed(std::string_view bytes);
  // Returns the digest; the object must not be updated afterwards.
  Sha256Digest finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

Sha256Digest sha256(std::string_view bytes);

// SHA-1 as lower-case hex: only to name a Redis script for EVALSHA (redis), which is how the
// server names it. Never for anything that must resist collisions.
std::string sha1_hex(std::string_view bytes);

// Lower-case hexadecimal.
std::string to_hex(std::string_view bytes);
std::string to_hex(const Sha256Digest& digest);

// Standard base64 (RFC 4648) with padding.
std::string to_base64(std::string_view bytes);

// `byte_count` bytes from the kernel's random source, as lower-case hex.
std::string random_hex(std::size_t byte_count);

}  // namespace sluice
