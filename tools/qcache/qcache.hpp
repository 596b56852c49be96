// qcache: a look-aside cache of a command's output, keyed by its command line, with tag
// invalidation (versioned tags), request coalescing, stale-while-revalidate and ETags. Each
// function here is one subcommand's logic; qcache_cli.cpp maps the command line onto them.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "qcache_store.hpp"
#include "sluice/clock.hpp"
#include "sluice/error.hpp"
#include "sluice/fdio.hpp"
#include "sluice/format.hpp"

namespace sluice::qcache {

inline constexpr std::uint64_t default_max_output = 16u << 20;
inline constexpr Duration default_lease = std::chrono::seconds(30);
inline constexpr Duration default_lock_wait = std::chrono::seconds(60);

// check's answer when the cached entry's ETag matches If-None-Match (qcache(1)).
inline constexpr int not_modified = 3;

struct RunOptions {
  Duration ttl{};
  Duration stale_while_revalidate{0};
  Duration lease = default_lease;
  Duration lock_wait = default_lock_wait;
  std::vector<std::string> tags;
  std::optional<std::string> key_extra;
  std::vector<std::string> environment_names;
  bool use_stdin = false;
  std::set<int> cache_statuses{0};
  bool etag = false;
  std::uint64_t max_output = default_max_output;
  std::vector<std::string> command;
};

// The cache key: SHA-256 (hex) over a framed encoding of the argv, the named environment
// variables (set or unset, and their values), the stdin bytes when read, the --key-extra text
// and each tag with its current version. Tags and names are a set: order and repetition do
// not matter.
std::string cache_key(const RunOptions& options, const std::optional<std::string>& input,
                      const std::vector<TagVersion>& versions);

// The tags of --tag, each checked by the key rule (printable ASCII, no spaces; Error(2)),
// sorted and without repeats.
std::vector<std::string> checked_tags(const std::vector<std::string>& tags);

// Strong ETag of content: the first 128 bits of its SHA-256 in hex, quoted; weak: W/ before.
enum class EtagStrength { strong, weak };
std::string content_etag(std::string_view content, EtagStrength strength = EtagStrength::strong);

// An If-None-Match field value (RFC 9110, 13.1.2): "*" or a comma-separated list of entity
// tags, [W/]"opaque". Error(2) naming --if-none-match when it is malformed.
struct EtagCondition {
  bool any = false;                 // "*"
  std::vector<std::string> opaque;  // each tag's quoted part, W/ dropped (weak comparison)
};
EtagCondition parse_if_none_match(std::string_view text);
// Weak comparison: whether `etag` (of a current entry) matches the condition.
bool etag_matches(const EtagCondition& condition, const std::optional<std::string>& etag);

// `qcache run`: replays a fresh entry, serves a stale one (refreshing it once), or runs the
// command (one process per key at a time; the others wait for its result). Returns the exit
// status to exit with.
int run(Store& store, const Clock& clock, const RunOptions& options);

// `qcache check`: not_modified (printing nothing) when the entry for the request matches
// If-None-Match; otherwise what `run --etag` does, except that a computed result whose ETag
// matches is not_modified too.
int check(Store& store, const Clock& clock, const RunOptions& options,
          const EtagCondition& condition);

// `qcache key`: prints the key `run` would use now.
int print_key(Store& store, const RunOptions& options, OutputStream& out);

int invalidate(Store& store, const std::vector<std::string>& tags, OutputStream& out);
int collect_garbage(Store& store, const Clock& clock, int batch, OutputStream& out);
int stats(Store& store, Format format, OutputStream& out);
int show(Store& store, const Clock& clock, const std::string& key, Format format,
         OutputStream& out);
// `qcache etag FILE|-`.
int print_etag(const std::string& file, EtagStrength strength, OutputStream& out);

}  // namespace sluice::qcache
