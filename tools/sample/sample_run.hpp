// sample_run: passing the kept lines of JSON Lines inputs through, each with its weight.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sample_decide.hpp"
#include "sluice/fdio.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::sample {

inline constexpr std::string_view weight_field = "sample_rate";

struct SampleOptions {
  KeepRate rate;
  std::vector<Rule> rules;
  std::optional<FieldPath> key;
  std::uint64_t seed = 0;
  std::optional<std::size_t> reservoir;  // --reservoir N
  InputOptions input;
};

struct SampleCounts {
  std::uint64_t read = 0;
  std::uint64_t kept = 0;
  std::uint64_t skipped = 0;  // bad lines skipped under --skip-invalid
};

// `line` (a JSON object's text) with "sample_rate":WEIGHT; a line that already has a numeric
// sample_rate (`earlier`, sampled before) gets the product, as two independent samplings in a
// row keep 1 in their product (not so for the same key and seed: sample(1), NOTES), written in
// place of the old value so the rest of the line stays byte for byte.
std::string with_weight(std::string_view line, const JsonValue* earlier, double weight);

SampleCounts run_sample(const std::vector<std::string>& inputs, const SampleOptions& options,
                        OutputStream& out);

}  // namespace sluice::sample
