// sample_decide: which events a sample keeps and with what weight (man/sample.1, "HOW
// EVENTS ARE CHOSEN"), and the reservoir of --reservoir (Vitter's/Li's Algorithm L).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/decimal.hpp"
#include "sluice/random.hpp"
#include "sluice/record_condition.hpp"

namespace sluice::sample {

// A rate of keeping, 0 < rate <= 1, as the 64-bit threshold a hash is compared with.
struct KeepRate {
  decimal::Fraction rate;
  // Keep when the 64-bit draw is below this; nullopt keeps everything (100%).
  std::optional<std::uint64_t> threshold;
  double sample_rate = 1;  // 1 / rate, the weight each kept event carries
};

// Parses a rate ("1%", "0.5%", "250bp"); Error(2) naming `option` for 0%, above 100% or text
// that is no rate.
KeepRate parse_keep_rate(std::string_view option, std::string_view text);

struct Rule {
  RecordCondition condition;
  KeepRate rate;
};

// "CONDITION:RATE" (split at the last ':'); Error(2) naming --rule.
Rule parse_rule(std::string_view text);

// The 64-bit draw of a key: the first 8 bytes, big-endian, of SHA-256 over the seed and the
// key, each framed as "<length>:<text>" (the seed as its decimal text). The same key and seed
// give the same draw on every machine.
std::uint64_t key_draw(std::uint64_t seed, std::string_view key);

inline bool keeps(const KeepRate& rate, std::uint64_t draw) {
  return !rate.threshold || draw < *rate.threshold;
}

// A uniform sample of exactly `size` items (all of them when fewer come) of a stream of unknown
// length: Algorithm L (Li 1994), which draws how many items to skip rather than one number per
// item.
class Reservoir {
 public:
  Reservoir(std::size_t size, std::uint64_t seed);
  // Offers the next item; true when it goes into the reservoir (replacing a random one once
  // full). The caller then stores it at slot().
  bool offer();
  [[nodiscard]] std::size_t slot() const { return slot_; }
  [[nodiscard]] std::uint64_t seen() const { return seen_; }

 private:
  double open_uniform();  // uniform in (0, 1)
  void draw_next();
  std::size_t size_;
  Random random_;
  std::uint64_t seen_ = 0;
  std::uint64_t next_ = 0;  // the 1-based number of the next item to take once full
  double w_ = 0;
  std::size_t slot_ = 0;
};

}  // namespace sluice::sample
