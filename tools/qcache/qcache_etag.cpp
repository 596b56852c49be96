// ETags (RFC 9110, 8.8.3) and If-None-Match (13.1.2) with the weak comparison it calls for.
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "qcache.hpp"
#include "sluice/crypto.hpp"
#include "sluice/json.hpp"
#include "sluice/signals.hpp"

namespace sluice::qcache {
namespace {

// etagc = %x21 / %x23-7E / obs-text
bool is_etag_character(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c != 0x7F);
}

bool is_optional_whitespace(char c) {
  return c == ' ' || c == '\t';
}

[[noreturn]] void malformed(std::string_view text, std::string_view why) {
  std::string quoted;
  append_json_string(quoted, text);
  throw Error(exit_code::usage,
              fmt::format("--if-none-match: {} is not '*' or a list of entity tags "
                          "([W/]\"...\", comma-separated): {}",
                          quoted, why));
}

// The opaque tag (quotes included) of an entity tag, W/ dropped.
std::string_view opaque_part(std::string_view etag) {
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  return etag;
}

}  // namespace

namespace {

std::string etag_of_digest(const Sha256Digest& digest, EtagStrength strength) {
  std::string opaque = "\"" + to_hex(digest).substr(0, 32) + "\"";
  return strength == EtagStrength::weak ? "W/" + opaque : opaque;
}

}  // namespace

std::string content_etag(std::string_view content, EtagStrength strength) {
  return etag_of_digest(sha256(content), strength);
}

EtagCondition parse_if_none_match(std::string_view text) {
  EtagCondition condition;
  std::size_t at = 0;
  auto skip_whitespace = [&] {
    while (at < text.size() && is_optional_whitespace(text[at])) ++at;
  };
  skip_whitespace();
  if (at < text.size() && text[at] == '*') {
    ++at;
    skip_whitespace();
    if (at != text.size()) malformed(text, "'*' must stand alone");
    condition.any = true;
    return condition;
  }
  // #entity-tag: empty elements are allowed (an absent header's empty value matches nothing).
  while (at < text.size()) {
    skip_whitespace();
    if (at < text.size() && text[at] == ',') {
      ++at;
      continue;
    }
    if (at == text.size()) break;
    if (text.substr(at, 2) == "W/") at += 2;
    if (at >= text.size() || text[at] != '"') malformed(text, "an entity tag must be quoted");
    std::size_t begin = at++;
    while (at < text.size() && text[at] != '"') {
      if (!is_etag_character(static_cast<unsigned char>(text[at]))) {
        malformed(text, fmt::format("byte {} is not allowed in an entity tag", at + 1));
      }
      ++at;
    }
    if (at == text.size()) malformed(text, "an entity tag is not closed");
    ++at;
    condition.opaque.emplace_back(text.substr(begin, at - begin));
    skip_whitespace();
    if (at < text.size() && text[at] != ',') malformed(text, "entity tags are separated by ','");
  }
  return condition;
}

bool etag_matches(const EtagCondition& condition, const std::optional<std::string>& etag) {
  if (condition.any) return true;  // a current representation exists
  if (!etag) return false;
  std::string_view current = opaque_part(*etag);
  for (const std::string& opaque : condition.opaque) {
    if (opaque == current) return true;
  }
  return false;
}

int print_etag(const std::string& file, EtagStrength strength, OutputStream& out) {
  InputFile input(file);
  // In pieces: a file of any size hashes in constant memory.
  Sha256 hasher;
  std::string buffer(std::size_t{1} << 16, '\0');
  for (;;) {
    throw_if_interrupted();
    ssize_t got = ::read(input.fd(), buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      throw Error(exit_code::io, fmt::format("{}: {}", input.name(), std::strerror(errno)));
    }
    if (got == 0) break;
    hasher.update(std::string_view(buffer.data(), static_cast<std::size_t>(got)));
  }
  out.write_line(etag_of_digest(hasher.finish(), strength));
  return exit_code::success;
}

}  // namespace sluice::qcache
