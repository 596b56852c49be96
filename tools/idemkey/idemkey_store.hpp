// The idemkey state: one row per (scope, key) in idemkey_keys, and the claim decision that
// every entry point (run, begin, filter) shares. All writes happen in short BEGIN IMMEDIATE
// transactions serialised through the db module's writer lock.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/clock.hpp"
#include "sluice/db.hpp"
#include "sluice/keys.hpp"

namespace sluice::idemkey {

enum class KeyState { in_progress, completed };
std::string_view state_name(KeyState state);

struct KeyRow {
  std::string scope;
  std::string key;
  std::string fingerprint;  // lower-case hex
  KeyState state = KeyState::in_progress;
  std::string token;
  int attempt = 1;
  Instant created_at;
  std::optional<Instant> lease_until;   // in_progress only
  Duration ttl{};                       // how long a completed result is kept
  std::optional<Instant> completed_at;  // completed only
  std::optional<Instant> expires_at;    // completed only
  std::optional<int> exit_status;
  std::string stdout_bytes;  // the saved result (begin/finish: the response)
  std::string stderr_bytes;
  std::int64_t stored_bytes = 0;
  // False when the command ran but its output was not kept (larger than --max-output, or the
  // disk was full): a replay then gives back the exit status alone and says so.
  bool output_stored = true;

  // A completed key older than its TTL: it counts as new, and gc deletes it.
  [[nodiscard]] bool is_expired(Instant now) const {
    return state == KeyState::completed && expires_at && *expires_at <= now;
  }
  // "in_progress", "completed" or "expired".
  [[nodiscard]] std::string_view state_at(Instant now) const;
};

// What to do with a lease whose holder stopped renewing it (crashed or was killed).
enum class StalePolicy { steal, fail };

// Whether a process of an earlier attempt still holds the key's run lock (a TreeLock): the
// command of an attempt whose idemkey was killed may outlive it.
enum class Holder { none, alive };

// Whether complete() keeps the command's output or only its exit status.
enum class OutputKept { stored, dropped };

enum class Decision {
  proceed,        // claimed: the caller must run the work and then complete or release
  replay,         // completed earlier with the same fingerprint: return the saved result
  conflict,       // the key was first used with a different fingerprint (exit 65)
  busy,           // held by a live lease (exit 75, or wait)
  still_running,  // no live lease, but a process of an earlier attempt still runs (75, or wait)
  stale_locked,   // lease expired and StalePolicy::fail (exit 75 until released)
};

struct ClaimRequest {
  std::string scope;
  std::string key;
  std::string fingerprint;
  Duration lease{};
  Duration ttl{};
  StalePolicy stale = StalePolicy::steal;
  Holder holder = Holder::none;
};

struct Claim {
  Decision decision = Decision::proceed;
  std::optional<KeyRow> row;  // the row as it now is (proceed: the new claim)
};

// The pure decision for a request against the stored row (nullopt when there is none). A key
// whose run lock is held by a live process is never taken: not after its lease expired, and
// not when it is new or expired either (an earlier attempt's command still runs).
Decision decide(const std::optional<KeyRow>& row, std::string_view fingerprint, Instant now,
                StalePolicy stale, Holder holder = Holder::none);

// Keys and scopes follow the toolkit's one key rule (sluice/keys.hpp).
using sluice::is_valid_key;
using sluice::validate_key;

// The stored 64-bit hash of (scope, key) that the key index is built on.
std::int64_t key_hash(std::string_view scope, std::string_view key);

// IDEMKEY_DOWNSTREAM_KEY: a stable key derived from scope and key.
std::string downstream_key(std::string_view scope, std::string_view key);

using db::RowLock;

class Store {
 public:
  // Opens (creating unless must_exist) and migrates the state file.
  Store(const std::string& location, db::OpenOptions options);

  db::Database& database() { return database_; }

  // Reads a row; outputs are loaded only with `with_outputs`.
  std::optional<KeyRow> find(std::string_view scope, std::string_view key, bool with_outputs,
                             RowLock lock = RowLock::none);

  // Decides and, on proceed, writes the claim (new token, attempt, lease) in one transaction.
  Claim claim(const ClaimRequest& request, Instant now);

  // Stores the result if `token` still holds the key. Returns false (and changes nothing)
  // when the token is stale: the key was released, stolen by a newer attempt, or completed.
  // With OutputKept::dropped the outputs given are ignored and only the status is kept.
  bool complete(std::string_view scope, std::string_view key, std::string_view token,
                int exit_status, std::string_view stdout_bytes, std::string_view stderr_bytes,
                Instant now, OutputKept kept = OutputKept::stored);

  // Extends a live claim's lease. Returns false when the token no longer holds the key.
  bool renew(std::string_view scope, std::string_view key, std::string_view token,
             Instant lease_until);

  // Deletes the key (only if `token` holds it, when given). Returns whether a row was deleted.
  bool release(std::string_view scope, std::string_view key, std::optional<std::string_view> token);

  // Deletes completed keys whose expiry is at or before `now`, `batch` rows per transaction.
  std::int64_t collect_garbage(Instant now, int batch);

  // For filter on SQLite, inside the caller's write transaction: records a new (or expired)
  // key as completed with no saved output and returns nullopt; for a live key, changes
  // nothing and returns the fingerprint it was first seen with.
  std::optional<std::string> remember_if_new(std::string_view scope, std::string_view key,
                                             std::string_view fingerprint, Instant now,
                                             Duration ttl);
  // remember_if_new for many keys at once (distinct keys, in the order given), inside the
  // caller's write transaction: one answer per key. On a server this is two statements for the
  // whole batch, whatever its size.
  struct Sighting {
    std::string_view key;
    std::string_view fingerprint;
  };
  std::vector<std::optional<std::string>> remember_all(std::string_view scope,
                                                       const std::vector<Sighting>& sightings,
                                                       Instant now, Duration ttl);

  // The fingerprint of a live (unexpired) key, or nullopt when it is absent or expired.
  std::optional<std::string> live_fingerprint(std::string_view scope, std::string_view key,
                                              Instant now);

  // Visits the rows of `scope` (every scope when empty) ordered by scope and key, without
  // outputs, inside one read transaction.
  void list(std::string_view scope, const std::function<void(const KeyRow&)>& visit);

  // The clock leases and expiry are judged by: the server's on PostgreSQL unless --now.
  Clock clock(const Clock& requested) { return database_.clock(requested); }

 private:
  // Writes the claim `result` decided on; false when another host inserted the key first.
  bool write_claim(const ClaimRequest& request, Instant now, Claim& result);
  db::Database database_;
};

}  // namespace sluice::idemkey
