// random: a small, seedable pseudo-random generator whose sequence is the same on every
// machine and library version (std::mt19937 is, but the standard distributions are not), for
// draws that a --seed option must reproduce exactly. Not for secrets: crypto.hpp makes tokens.
#pragma once

#include <array>
#include <cstdint>

namespace sluice {

// xoshiro256** (Blackman and Vigna), state expanded from a 64-bit seed with splitmix64.
class Random {
 public:
  explicit Random(std::uint64_t seed);

  // A seed from the operating system (getrandom), never from the time, so that processes
  // started together draw different numbers. Throws Error(70) if the kernel refuses.
  static std::uint64_t os_seed();

  std::uint64_t next();
  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  // Uniform integer in [low, high], both inclusive, without modulo bias. low <= high.
  std::int64_t uniform_int(std::int64_t low, std::int64_t high);
  // Normal with the given mean and standard deviation (Box-Muller).
  double normal(double mean, double deviation);

 private:
  std::array<std::uint64_t, 4> state_{};
};

}  // namespace sluice
