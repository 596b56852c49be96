// rollup_spec: what a rollup computes: the aggregates of --agg, the buckets of --every and
// --tz, the fields of --by and --time-field. Two runs whose Spec is equal put every event in
// the same group and state, so their saved states merge.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/record_condition.hpp"
#include "sluice/timezone.hpp"

namespace sluice::rollup {

enum class AggregateKind { count, sum, min, max, avg, stddev, last, distinct, quantile };

struct Aggregate {
  AggregateKind kind = AggregateKind::count;
  std::string field;    // empty for count
  double quantile = 0;  // 0.99 for p99
  // The same fraction exactly (999 / 1000 for p99.9), for the rank floor(q (n - 1)): a double
  // such as 0.29 times 100 is 28.999999999999996, one rank too low.
  std::uint64_t quantile_numerator = 0;
  std::uint64_t quantile_denominator = 1;
  std::string word;    // "p99" for p99, the kind's word otherwise
  std::string column;  // the output key: "count", "sum_cost", "p99_latency"
};

// Parses one --agg word ("count", "sum:cost", "p99:latency", "p99.9:latency"). Error(2)
// naming --agg and the word otherwise.
Aggregate parse_aggregate(std::string_view text);

inline constexpr std::int64_t micros_per_day = 86'400'000'000;

// The calendar unit of a bucket, or none for fixed-width buckets aligned to the epoch.
enum class CalendarUnit { none, day, week, month };

// --every: a duration below a day (fixed buckets aligned to the Unix epoch, so UTC), or
// "1d"/"day", "week" (ISO: from Monday) or "month", local to the time zone. Error(2) naming
// --every for anything else (2d, 0s, ...).
struct Every {
  std::int64_t width_micros = 60'000'000;  // when unit is none
  CalendarUnit unit = CalendarUnit::none;
  [[nodiscard]] std::string text() const;  // canonical: "1m", "10s", "day", "week", "month"
  friend bool operator==(const Every&, const Every&) = default;
};
Every parse_every(std::string_view text);

// Maps instants to the start of their bucket. Calendar buckets cache the last bucket's
// bounds, so a stream of nearby events costs two comparisons each.
class Bucketer {
 public:
  Bucketer(Every every, TimeZone zone) : every_(every), zone_(std::move(zone)) {}
  [[nodiscard]] std::int64_t start_of(std::int64_t micros) const;
  // The end of the bucket that starts at `start` (the next bucket's start).
  [[nodiscard]] std::int64_t end_of(std::int64_t start) const;
  [[nodiscard]] const Every& every() const { return every_; }

 private:
  [[nodiscard]] std::int64_t calendar_start(std::int64_t micros) const;
  Every every_;
  TimeZone zone_;
  mutable std::int64_t cached_begin_ = 1;  // empty range: begin > end
  mutable std::int64_t cached_end_ = 0;
};

struct Spec {
  Every every;
  std::string tz = "UTC";
  std::string time_field = "ts";
  std::vector<std::string> by;
  std::vector<Aggregate> aggregates;
  // --weight-field: each event stands for FIELD events (sample's sample_rate); empty: none.
  std::string weight_field;

  // Error(2) when an output column is named twice (an aggregate given twice, or a --by
  // field named like an aggregate's column or "bucket"), or when no aggregate is given.
  void check() const;
  // The settings as one canonical JSON object (saved states carry it; merge compares it).
  [[nodiscard]] std::string canonical() const;
  static Spec from_canonical(std::string_view text);  // Error(65) when malformed
};

std::string_view aggregate_kind_word(AggregateKind kind);

}  // namespace sluice::rollup
