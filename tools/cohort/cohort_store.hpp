// cohort_store: a persistent state in SQLite for `cohort ingest` and `cohort report`: the
// bucketing (fixed by the first ingest), the user dictionary and one bitmap BLOB per period
// and kind. Ingesting ORs bitmaps, so ingesting the same events again changes nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cohort_state.hpp"
#include "sluice/db.hpp"

namespace sluice::cohort {

struct IngestResult {
  std::uint64_t users = 0;            // users in the store afterwards
  std::uint64_t new_users = 0;        // of which added by this ingest
  std::uint64_t bitmaps_changed = 0;  // period bitmaps created or grown
};

struct ForgetResult {
  std::uint64_t forgotten = 0;        // users taken out
  std::uint64_t unknown = 0;          // ids the store did not hold (already forgotten, say)
  std::uint64_t bitmaps_changed = 0;  // period bitmaps that held one of them
};

class Store {
 public:
  // Opens (creating unless must_exist) and migrates the file, except that a version 1 store
  // is used as it is (see forget). synchronous=NORMAL: the store can be rebuilt from the
  // events; writers are serialised through the lock file.
  Store(const std::string& location, db::OpenOptions options);

  // The stored bucketing, if any events were ingested.
  std::optional<Bucketing> bucketing();

  // Adds `fresh` (events read with the store's bucketing) in one transaction. Error(65) when
  // the store was built with another bucketing.
  IngestResult ingest(const State& fresh);

  // Takes `keys` out in one transaction: their rows in cohort_users go, and their ids out of
  // every bitmap (a bitmap left empty goes too), so that every report equals the one of a
  // store that never had them. Their ids are not given again: ids have gaps after this, so
  // the store is moved to schema version 2 first (older programs refuse it as newer). A key
  // given twice counts once.
  ForgetResult forget(const std::vector<std::string>& keys);

  // The stored state, read in one transaction; the user dictionary only `with_users` (a
  // report needs just the bitmaps). Error(65) for a store with no events yet.
  State load(bool with_users);

 private:
  int schema_version();
  void store_bucketing(const Bucketing& bucketing);
  std::uint64_t load_users(UserDictionary& users);
  bool merge_bitmap(int kind, int period, const Roaring& bitmap);
  db::Database database_;
};

}  // namespace sluice::cohort
