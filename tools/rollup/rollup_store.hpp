// rollup_store: rolled-up groups kept in tiers (10s for 7 days, 1h for a year, 1d forever)
// in an SQLite file, for `rollup ingest`, `query`, `compact` and `rebuild`.
//
// The first tier is the raw one: events are rolled up into it directly. Each coarser tier is
// derived from the tier before it: a coarse bucket that the finer tier still holds whole
// (its start is within the finer tier's retention) is recomputed from the finer cells when
// an ingest touches it ("dirty"), so late events are counted once wherever they land; a
// coarse bucket older than that takes the new partial aggregates merged in directly (every
// aggregate is mergeable). Every cell keeps how many finer buckets it was made of (its
// slots), for --xff. Each file is one batch: one write transaction, keyed by the SHA-256 of
// its contents, so that ingesting the same file again changes nothing and a batch killed
// half-way leaves the store as it was before it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rollup_engine.hpp"
#include "sluice/db.hpp"

namespace sluice::rollup {

// One tier: its bucket width and how long its buckets are kept (nullopt: forever).
struct Tier {
  Every every;
  std::optional<std::int64_t> retention_micros;
  [[nodiscard]] std::string text() const;  // "10s:7d", "1h:365d", "day:forever"
};

// "WIDTH:RETENTION": WIDTH as --every takes it, RETENTION a duration, Ny (N times 365 days)
// or forever. Error(2) naming --tier otherwise.
Tier parse_tier(std::string_view text);

// Everything that decides what a store holds; fixed by its first ingest.
struct StoreSettings {
  Spec spec;  // spec.every is the raw tier's
  std::vector<Tier> tiers;
  std::int64_t allowed_lateness_micros = 0;
  // Error(2) when the tiers are not coarser one after the other, a finer tier's buckets do
  // not nest in the next one's, a retention is shorter than its bucket, or the raw tier's
  // retention is shorter than the allowed lateness.
  void check() const;
  [[nodiscard]] std::string canonical() const;
};

enum class LatePolicy { merge, reject };

struct BatchResult {
  bool already_ingested = false;
  std::uint64_t events = 0;    // events read
  std::uint64_t late = 0;      // of which older than the allowed lateness
  std::uint64_t too_old = 0;   // of which older than the raw tier's retention
  std::uint64_t rejected = 0;  // of which written to the reject file (--late-policy reject)
  std::uint64_t cells = 0;     // cells written, in every tier
};

class Store {
 public:
  // synchronous=NORMAL: the store can be rebuilt from the event files; writers serialised.
  Store(const std::string& location, db::OpenOptions options);

  // The store's settings (canonical text), or nullopt before the first ingest.
  std::optional<std::string> settings_text();

  // Whether the store has settings (false before the first ingest); Error(65) when they are
  // not `settings`.
  bool check_settings(const StoreSettings& settings);

  // Whether the batch was ingested already.
  bool has_batch(std::string_view key);

  // Adds the raw groups of one batch (rolled up with settings.spec) in one transaction, at
  // `now`. Error(65) when the store holds other settings. `result` carries the counts read;
  // already_ingested and cells are set here.
  void ingest(const StoreSettings& settings, std::string_view batch_key,
              const std::vector<GroupRecord>& raw, std::int64_t now, BatchResult& result);

  // The cells of tier `tier` (0-based) whose bucket starts in [from, to), with their slots.
  struct Cell {
    GroupRecord record;
    std::int64_t slots = 1;
  };
  std::vector<Cell> cells(const Rollup& layout, std::size_t tier, std::int64_t from,
                          std::int64_t to);

  // Deletes, a transaction per `batch` cells, the cells whose bucket ended before their
  // tier's retention. Returns how many.
  std::uint64_t compact(const StoreSettings& settings, std::int64_t now, std::uint64_t batch);

  // Recomputes every coarser tier's buckets in [from, to) from the finer tier (those the
  // finer tier still holds whole), in one transaction. Returns the buckets recomputed.
  std::uint64_t rebuild(const StoreSettings& settings, std::int64_t from, std::int64_t to,
                        std::int64_t now);

 private:
  void store_settings(const StoreSettings& settings);
  std::int64_t effective_now(std::int64_t now);
  std::uint64_t recompute(const StoreSettings& settings, const Rollup& layout, std::size_t tier,
                          std::int64_t bucket);
  void merge_cell(const Rollup& layout, std::size_t tier, const GroupRecord& record,
                  std::int64_t slots);
  db::Database database_;
};

// The settings a store was made with, read back from settings_text. Error(65) if malformed.
StoreSettings settings_from_text(std::string_view text);

}  // namespace sluice::rollup
