// rollup_engine: events grouped by (bucket, --by values), every group keeping mergeable
// partial aggregates: exact decimal sums (libcore decimal's 128-bit integers at the largest
// scale seen), min and max, sums of squares for stddev, the latest value, distinct counters
// and quantile sketches (libcore sketch). Merging two rollups of the same Spec equals reading
// both inputs into one, exactly: every partial aggregate is exact or order-independent.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rollup_spec.hpp"
#include "sluice/decimal.hpp"
#include "sluice/json.hpp"
#include "sluice/jsonl.hpp"
#include "sluice/sketch.hpp"

namespace sluice::rollup {

using decimal::Int128;

// A decimal value exactly: units * 10^-scale.
struct ExactDecimal {
  Int128 units = 0;
  int scale = 0;
};

// The largest scale (digits after the point) a value may need.
inline constexpr int max_scale = 18;

// A JSON number's source text or a string of decimal text ("12.50", "-3", "1.5e3") exactly;
// nullopt when `text` is neither (or needs more than max_scale places or 36 digits).
std::optional<ExactDecimal> parse_exact_decimal(std::string_view text);

// The partial aggregates of one numeric field in one group.
struct NumericState {
  std::uint64_t count = 0;  // values seen (missing and null fields are not values)
  int scale = 0;            // of sum, min, max (squares: twice it)
  Int128 sum = 0;
  Int128 min = 0;
  Int128 max = 0;
  Int128 squares = 0;  // kept only for stddev
};

// The value of the latest event (by event time; equal times: the greatest value as
// (kind, text), so that the answer does not depend on input order).
struct LastState {
  bool present = false;
  std::int64_t micros = 0;
  JsonValue::Kind kind = JsonValue::Kind::null;
  std::string text;  // a string's text, or a number's or literal's source
};

// Horvitz-Thompson sums of a weighted group (--weight-field), in fixed point (units of 1e-9,
// each term rounded once, then added exactly: merging gives the single run's sums, bit for
// bit). With w an event's weight (1 / its inclusion probability) and x a value:
// weight = sum of w, variance = sum of (w^2 - w) (the estimated variance of the weighted count
// under Poisson sampling); per numeric field, the same over the events that have it, and the
// sums of w x, (w^2 - w) x and (w^2 - w) x^2.
struct WeightedNumeric {
  Int128 weight = 0;
  Int128 variance = 0;
  Int128 sum = 0;
  Int128 variance_x = 0;
  Int128 variance_x2 = 0;
};
struct WeightedState {
  Int128 weight = 0;
  Int128 variance = 0;
  std::vector<WeightedNumeric> numerics;
};

struct GroupState {
  std::uint64_t count = 0;
  WeightedState weighted;  // with --weight-field
  std::vector<NumericState> numerics;
  std::vector<LastState> lasts;
  std::vector<DistinctCounter> distincts;
  std::vector<QuantileSketch> quantiles;
};

// A --by value of a group: its JSON kind (null for a missing field) and text.
struct GroupValue {
  JsonValue::Kind kind = JsonValue::Kind::null;
  std::string text;
};

// One group with its bucket, as saved states and the store hold it.
struct GroupRecord {
  std::int64_t bucket = 0;
  std::vector<GroupValue> values;
  GroupState state;
};

struct ReadSummary {
  std::uint64_t events = 0;
  std::uint64_t skipped = 0;
};

class Rollup {
 public:
  explicit Rollup(Spec spec);  // spec.check() must hold

  // Reads event records; a bad record is Error(65) naming input, line and field (or is
  // skipped under skip_invalid) and changes nothing. With `keep`, an event it refuses (given
  // the event time, its bucket's start and the line) is left out.
  using Keep = std::function<bool(std::int64_t micros, std::int64_t bucket, std::string_view line)>;
  ReadSummary read(const std::vector<std::string>& inputs, const InputOptions& options,
                   const Keep& keep = {});

  // The groups in row order, and one group as a line of the saved state (without its newline)
  // and back: parse_group throws Error(65) "malformed rollup state" (no location).
  [[nodiscard]] std::vector<GroupRecord> records() const;
  [[nodiscard]] std::string group_line(const GroupRecord& record) const;
  [[nodiscard]] GroupRecord parse_group(std::string_view line) const;
  // Merges a group in (its values must have the Spec's --by count).
  void add(const GroupRecord& record);
  // Merges `from` into `into` (groups of this layout).
  void merge_group(GroupState& into, const GroupState& from) const;
  // Adds another rollup of an equal Spec.
  void merge(const Rollup& other);

  // One row per (bucket, group) ordered by bucket, then by the --by values (null first, then
  // numbers by value, strings bytewise, booleans): {"bucket":..., by fields..., columns...}.
  [[nodiscard]] std::vector<JsonValue> rows() const;

  // The saved state (--save-state): a JSON Lines text, a header then one line per group in
  // row order. from_state reads one back: Error(65) naming `source` when malformed.
  [[nodiscard]] std::string state_text() const;
  static Rollup from_state(std::string_view source, std::string_view text);

  [[nodiscard]] const Spec& spec() const { return spec_; }
  [[nodiscard]] std::size_t group_count() const { return groups_.size(); }

 private:
  struct EventValues;
  GroupRecord parse_record(const JsonValue& record) const;  // throws Malformed
  GroupState& group_for(std::string_view key);
  void apply(GroupState& group, const EventValues& values, std::int64_t micros);
  void weighted_terms(long double weight, EventValues& values) const;
  [[nodiscard]] std::vector<std::size_t> sorted_groups() const;
  [[nodiscard]] GroupState empty_group() const;

  Spec spec_;
  std::vector<std::string> numeric_fields_;  // sum, min, max, avg, stddev
  std::vector<bool> numeric_squares_;        // whether stddev reads the field
  std::vector<std::string> quantile_fields_;
  std::vector<std::string> last_fields_;
  std::vector<std::string> distinct_fields_;
  std::vector<std::size_t> aggregate_slot_;  // per aggregate, its slot in the kind's list

  // Group ids by key: open addressing over (hash, id) slots, the keys themselves in keys_
  // (a lookup costs the slot and one key comparison, where std::unordered_map chased a node
  // and then the node's string).
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t id = 0;
    bool used = false;
  };
  std::vector<Slot> slots_ = std::vector<Slot>(1024);
  [[nodiscard]] std::optional<std::uint32_t> find_group(std::string_view key,
                                                        std::uint64_t hash) const;
  void insert_slot(std::uint64_t hash, std::uint32_t id);
  std::vector<std::string> keys_;  // per group: the encoded (bucket, values) key
  std::vector<GroupState> groups_;
};

// The key of a group: the bucket start as 8 bytes, then each value as a kind byte, a 4-byte
// length and its text.
void encode_key(std::string& key, std::int64_t bucket, const std::vector<GroupValue>& values);
std::int64_t key_bucket(std::string_view key);
std::vector<GroupValue> key_values(std::string_view key, std::size_t count);

}  // namespace sluice::rollup
