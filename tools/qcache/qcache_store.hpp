// The qcache state: cached results (qcache_entries) with the tag versions they were computed
// under (qcache_entry_tags), the current version of each tag (qcache_tags), the claims of
// processes computing an entry right now (qcache_computing: request coalescing) and the
// counters of `stats` (qcache_counters).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/clock.hpp"
#include "sluice/db.hpp"

namespace sluice::qcache {

// A tag and the version it had when an entry was computed (0: never invalidated).
struct TagVersion {
  std::string tag;
  std::int64_t version = 0;
};

struct Entry {
  std::string key;
  std::string command;  // the argv, each word followed by a NUL (for show)
  Instant created_at;
  Instant fresh_until;  // created_at + --ttl
  Instant stale_until;  // fresh_until + --stale-while-revalidate
  int exit_status = 0;
  std::string stdout_bytes;
  std::string stderr_bytes;
  std::optional<std::string> etag;  // with run --etag
  std::vector<TagVersion> tags;
};

// The counters `stats` prints.
enum class Counter { hits, misses, coalesced, stale_hits, refreshes };

// The outcome of trying to become the one process that computes a key.
enum class ClaimOutcome {
  claimed,  // this process computes; it stores the entry or releases the claim
  fresh,    // a fresh entry appeared meanwhile: look it up
  busy,     // another process holds a live claim
};

class Store {
 public:
  Store(const std::string& location, db::OpenOptions options);

  db::Database& database() { return database_; }
  Clock clock(const Clock& requested) { return database_.clock(requested); }

  // The current version of each tag, in the order given.
  std::vector<TagVersion> tag_versions(const std::vector<std::string>& tags);

  // The entry under `key` with its outputs (and, with TagsToo::yes, its tags), or nullopt.
  enum class TagsToo { no, yes };
  std::optional<Entry> find(std::string_view key, TagsToo tags = TagsToo::no);

  // Claims `key` for computing with a lease, unless a fresh entry exists (at `now`) or another
  // process's lease is live. The token identifies this claim.
  ClaimOutcome claim(std::string_view key, std::string_view token, Instant now,
                     Instant lease_until);
  // The claim on `key` as a waiter sees it (a read: what waiters poll).
  enum class ClaimState {
    none,        // nobody computes (or the result was stored)
    live,        // a process computes it
    lapsed,      // its holder stopped renewing it (killed): the first to claim takes it over
    given_back,  // its holder ended without a result to store: the waiters run the command
  };
  ClaimState claim_state(std::string_view key, Instant now);
  // Extends a claim's lease; false when the token no longer holds it.
  bool renew(std::string_view key, std::string_view token, Instant lease_until);
  // Gives a claim back (the command's status is not cached, or it was interrupted): the claim
  // stays as a mark, given_back to waiters, until the next claim of the key (or gc).
  void release(std::string_view key, std::string_view token);

  // Stores (replaces) the entry and, with a token, ends that claim, in one transaction.
  void store(const Entry& entry, const std::optional<std::string>& token);

  void count(Counter counter, std::int64_t amount = 1);

  // Bumps each tag's version by one; returns the new versions.
  std::vector<TagVersion> invalidate(const std::vector<std::string>& tags);

  // Deletes entries past their stale_until, then entries a tag bump made unreachable, and
  // claims whose lease expired, `batch` rows per transaction.
  struct Collected {
    std::int64_t expired = 0;
    std::int64_t unreachable = 0;
    std::int64_t claims = 0;
  };
  Collected collect_garbage(Instant now, int batch);

  struct Totals {
    std::int64_t entries = 0;
    std::int64_t bytes = 0;
    std::int64_t tags = 0;
    std::int64_t computing = 0;
    std::vector<std::pair<std::string, std::int64_t>> counters;  // every Counter, in order
  };
  Totals totals();

 private:
  db::Database database_;
};

std::string_view counter_name(Counter counter);

}  // namespace sluice::qcache
