#include "sluice/crypto.hpp"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

// The low-level SHA-256 functions are deprecated in OpenSSL 3 in favour of EVP, but EVP fetches
// its implementation through the provider machinery, which costs about 0.4 ms at the first
// digest of every process: a large share of idemkey's whole replay. The low-level functions
// compute the same digest with no start-up cost.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "sluice/error.hpp"

namespace sluice {

struct Sha256::State {
  SHA256_CTX context;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  if (SHA256_Init(&state_->context) != 1) {
    throw Error(exit_code::internal, "libcrypto could not start a SHA-256 digest");
  }
}

Sha256::~Sha256() = default;

void Sha256::update(std::string_view bytes) {
  if (SHA256_Update(&state_->context, bytes.data(), bytes.size()) != 1) {
    throw Error(exit_code::internal, "libcrypto SHA-256 update failed");
  }
}

void Sha256::update_framed(std::string_view bytes) {
  update(fmt::format("{}:", bytes.size()));
  update(bytes);
}

Sha256Digest Sha256::finish() {
  Sha256Digest digest{};
  if (SHA256_Final(digest.data(), &state_->context) != 1) {
    throw Error(exit_code::internal, "libcrypto SHA-256 final failed");
  }
  return digest;
}

Sha256Digest sha256(std::string_view bytes) {
  // Not the one-shot SHA256(): in OpenSSL 3 it fetches the digest through EVP at every call
  // (locks, a name lookup), which was a third of sample's time per line.
  SHA256_CTX context;
  Sha256Digest digest{};
  if (SHA256_Init(&context) != 1 || SHA256_Update(&context, bytes.data(), bytes.size()) != 1 ||
      SHA256_Final(digest.data(), &context) != 1) {
    throw Error(exit_code::internal, "libcrypto SHA-256 failed");
  }
  return digest;
}

std::string sha1_hex(std::string_view bytes) {
  SHA_CTX context;
  std::array<std::uint8_t, SHA_DIGEST_LENGTH> digest{};
  if (SHA1_Init(&context) != 1 || SHA1_Update(&context, bytes.data(), bytes.size()) != 1 ||
      SHA1_Final(digest.data(), &context) != 1) {
    throw Error(exit_code::internal, "libcrypto SHA-1 failed");
  }
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) {
    out += digits[byte >> 4];
    out += digits[byte & 0x0f];
  }
  return out;
}

std::string to_hex(const Sha256Digest& digest) {
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string to_base64(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t pos = 0;
  for (; pos + 3 <= bytes.size(); pos += 3) {
    auto chunk = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[pos])) << 16 |
                 static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[pos + 1])) << 8 |
                 static_cast<unsigned char>(bytes[pos + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += alphabet[(chunk >> shift) & 63];
  }
  std::size_t rest = bytes.size() - pos;
  if (rest > 0) {
    std::uint32_t chunk = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[pos])) << 16;
    if (rest == 2)
      chunk |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[pos + 1])) << 8;
    out += alphabet[(chunk >> 18) & 63];
    out += alphabet[(chunk >> 12) & 63];
    out += rest == 2 ? alphabet[(chunk >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string random_hex(std::size_t byte_count) {
  std::string bytes(byte_count, '\0');
  std::size_t filled = 0;
  while (filled < byte_count) {
    ssize_t got = getrandom(bytes.data() + filled, byte_count - filled, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw Error(exit_code::internal, fmt::format("getrandom failed: {}", std::strerror(errno)));
    }
    filled += static_cast<std::size_t>(got);
  }
  return to_hex(bytes);
}

}  // namespace sluice
