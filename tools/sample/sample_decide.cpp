#include "sample_decide.hpp"

#include <cmath>

#include <fmt/format.h>

#include "sluice/crypto.hpp"
#include "sluice/error.hpp"

namespace sluice::sample {

KeepRate parse_keep_rate(std::string_view option, std::string_view text) {
  KeepRate keep;
  keep.rate = decimal::parse_rate(option, text);
  if (keep.rate.numerator <= 0) {
    throw Error(exit_code::usage, fmt::format("{}: the rate must be above 0%", option));
  }
  if (keep.rate.numerator > keep.rate.denominator) {
    throw Error(exit_code::usage, fmt::format("{}: the rate must be at most 100%", option));
  }
  if (keep.rate.numerator < keep.rate.denominator) {
    // floor(rate * 2^64): below 2^64 because rate < 1; a rate whose threshold is 0 keeps nothing.
    auto numerator = static_cast<decimal::UInt128>(keep.rate.numerator);
    auto denominator = static_cast<decimal::UInt128>(keep.rate.denominator);
    auto threshold = static_cast<std::uint64_t>((numerator << 64) / denominator);
    if (threshold == 0) {
      throw Error(exit_code::usage, fmt::format("{}: the rate {} is too small", option, text));
    }
    keep.threshold = threshold;
  }
  keep.sample_rate =
      static_cast<double>(keep.rate.denominator) / static_cast<double>(keep.rate.numerator);
  return keep;
}

Rule parse_rule(std::string_view text) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    throw Error(exit_code::usage,
                fmt::format("--rule: '{}' is not CONDITION:RATE (e.g. status>=500:100%)", text));
  }
  RecordCondition condition = with_context(exit_code::usage, fmt::format("--rule '{}'", text), [&] {
    return RecordCondition::parse(text.substr(0, colon));
  });
  return Rule{std::move(condition), parse_keep_rate("--rule", text.substr(colon + 1))};
}

std::uint64_t key_draw(std::uint64_t seed, std::string_view key) {
  std::string seed_text = std::to_string(seed);
  std::string message = std::to_string(seed_text.size());
  message += ':';
  message += seed_text;
  message += std::to_string(key.size());
  message += ':';
  message.append(key);
  Sha256Digest digest = sha256(message);
  std::uint64_t draw = 0;
  for (int byte = 0; byte < 8; ++byte) draw = draw << 8 | digest[byte];
  return draw;
}

Reservoir::Reservoir(std::size_t size, std::uint64_t seed) : size_(size), random_(seed) {}

double Reservoir::open_uniform() {
  return (static_cast<double>(random_.next() >> 11) + 0.5) * 0x1.0p-53;
}

void Reservoir::draw_next() {
  double size = static_cast<double>(size_);
  w_ *= std::exp(std::log(open_uniform()) / size);
  double skip = std::floor(std::log(open_uniform()) / std::log1p(-w_));
  // A skip past 2^63 items never comes back; stop taking instead of overflowing.
  next_ = skip >= 0x1.0p63 ? UINT64_MAX : next_ + static_cast<std::uint64_t>(skip) + 1;
}

bool Reservoir::offer() {
  ++seen_;
  if (seen_ <= size_) {
    slot_ = static_cast<std::size_t>(seen_ - 1);
    if (seen_ == size_) {
      w_ = 1;
      next_ = seen_;
      draw_next();
    }
    return true;
  }
  if (seen_ != next_) return false;
  slot_ = static_cast<std::size_t>(random_.uniform_int(0, static_cast<std::int64_t>(size_) - 1));
  draw_next();
  return true;
}

}  // namespace sluice::sample
