// idemkey: run an operation at most once per key and replay its saved result.
// Each function here is one subcommand's logic; idemkey_cli.cpp maps the command line onto
// them. All of them take the Store, the Clock and an output stream so tests can call them
// in-process.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "idemkey_store.hpp"
#include "sluice/cli.hpp"
#include "sluice/clock.hpp"
#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::idemkey {

inline constexpr std::uint64_t default_max_output = 16u << 20;
// --ttl and --lease when not given (idemkey(1)).
inline constexpr Duration default_ttl = std::chrono::hours(24);
inline constexpr Duration default_lease = std::chrono::seconds(90);

struct RunOptions {
  std::string scope = "default";
  std::string key;
  Duration ttl = default_ttl;
  Duration lease = default_lease;
  // nullopt: do not wait for a live holder; Duration::max(): wait as long as it lives.
  std::optional<Duration> wait;
  StalePolicy stale = StalePolicy::steal;
  std::set<int> release_on_exit;
  std::vector<std::string> environment_names;  // --env: part of the fingerprint
  // --fingerprint TEXT: the request is TEXT, not the command line, --env and stdin (a deploy
  // that moves ./charge to /srv/app/charge is then the same request).
  std::optional<std::string> given_fingerprint;
  // --conflict-exit: the status when the key is held by another run (flock -E).
  int conflict_exit = exit_code::temporary;
  bool use_stdin = false;
  std::string status_file;
  std::uint64_t max_output = default_max_output;
  std::vector<std::string> command;
  // The file whose byte-range locks tell that a key's command still runs on this host (see
  // TreeLock): beside an SQLite state file, or in the state directory for state on a server.
  std::string run_lock_path;
};

// The request fingerprint of `run`: SHA-256 (hex) over a framed encoding of the argv, the
// named environment variables (set or unset, and their values) and, with --stdin, the bytes;
// or, with --fingerprint TEXT, over TEXT alone (framed apart, so it never equals a computed
// one).
std::string run_fingerprint(const RunOptions& options, const std::optional<std::string>& input);

// `idemkey run`: claims the key and runs the command, or replays the saved result. Returns
// the exit status (the command's own, or 65/75/73 as documented).
int run(Store& store, const Clock& clock, const RunOptions& options);

struct BeginOptions {
  std::string scope = "default";
  std::string key;
  std::string fingerprint;
  Duration lease = default_lease;
  Duration ttl = default_ttl;
};
int begin(Store& store, const Clock& clock, const BeginOptions& options, OutputStream& out);

struct FinishOptions {
  std::string scope = "default";
  std::string key;
  std::string token;
  int status = 0;
  std::string response_file;  // "-" is stdin, empty is no response
  std::uint64_t max_output = default_max_output;
};
int finish(Store& store, const Clock& clock, const FinishOptions& options);

int release(Store& store, const std::string& scope, const std::string& key,
            const std::optional<std::string>& token, OutputStream& out);

int show(Store& store, const Clock& clock, const std::string& scope, const std::string& key,
         Format format, OutputStream& out);

// scope: "" lists every scope. state_filter: "", "in_progress", "completed" or "expired".
int list(Store& store, const Clock& clock, const std::string& scope,
         const std::string& state_filter, Format format, OutputStream& out);

int collect_garbage(Store& store, const Clock& clock, int batch, OutputStream& out);

// scope: "" counts every scope.
int stats(Store& store, const Clock& clock, const std::string& scope, Format format,
          OutputStream& out);

struct FilterOptions {
  std::string scope = "default";
  std::string key_field;
  std::vector<std::string> fingerprint_fields;  // empty: the whole record
  std::string duplicates_file;                  // where dropped duplicates go, if anywhere
  InputOptions input;                           // --skip-invalid, --max-line-bytes
  std::size_t batch = 65536;
  // A batch is settled early once its records' text reaches this many bytes, so that --batch
  // long lines are not all held at once.
  std::size_t batch_bytes = std::size_t{64} << 20;
  Duration ttl = default_ttl;
  std::vector<std::string> inputs;
  ProgressMode progress = ProgressMode::never;
};

struct FilterCounts {
  std::uint64_t passed = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t invalid = 0;  // bad lines and conflicts skipped under --skip-invalid
};

// The key of one `filter` record: the member `key_field` when it is a string, or an integer
// (no fraction, no exponent) as its text, and a valid key (is_valid_key). Otherwise `key` is
// empty and `problem` says what is wrong, for the reader to reject the record with.
struct FilterKey {
  std::optional<std::string> key;
  std::string problem;
};
[[nodiscard]] FilterKey filter_key(const JsonValue& record, const std::string& key_field);

// `idemkey filter`: passes each record whose key is new, drops exact duplicates, treats a
// known key with another fingerprint as a conflict. Commits after each batch is flushed.
FilterCounts filter(Store& store, const Clock& clock, const FilterOptions& options,
                    OutputStream& out);

}  // namespace sluice::idemkey
