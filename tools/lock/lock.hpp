// lock: leases with fencing tokens on SQLite or PostgreSQL state, kernel flock(2) locks for
// one host, and `lock run`, which holds locks while a command runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lock_store.hpp"
#include "sluice/clock.hpp"
#include "sluice/fdio.hpp"
#include "sluice/format.hpp"

namespace sluice::lock {

// How long a lease lasts without renewal when --ttl is not given.
inline constexpr Duration default_ttl = std::chrono::seconds(30);
// How long a command waits for a lock held elsewhere when stdin is not a terminal (cron) and
// neither --wait nor --nonblock is given; on a terminal it waits until interrupted.
inline constexpr Duration default_unattended_wait = std::chrono::minutes(10);
// A wait of Duration::max() lasts until interrupted.
inline constexpr Duration wait_forever = Duration::max();

// Names follow the toolkit's key rule (1 to 255 printable ASCII characters without spaces):
// Error(2) naming the name otherwise.
void validate_name(std::string_view name);

// A token given on the command line: a whole number from 1. Error(2) otherwise.
std::int64_t parse_token(std::string_view option, std::string_view text);

// LOCK_TOKEN_<NAME>: NAME in upper case, each character other than A-Z and 0-9 written '_'.
std::string environment_name(std::string_view name);
// Error(2) when two of the names give the same variable (`a-b` and `a.b`).
void check_environment_names(const std::vector<std::string>& names);

// LOCK_TOKEN (the tokens in the order of the names, comma-separated) and one LOCK_TOKEN_<NAME>
// per lease.
std::vector<std::pair<std::string, std::string>> token_environment(
    const std::vector<Holder>& leases);

// "HOST:PID" of `pid`: who holds a lease unless --owner says otherwise.
std::string default_owner(long pid);

// Takes every lease of `request`, polling until `wait` runs out (zero: one try). While it
// waits it records what it waits for, so that `lock waits` can draw the graph.
Acquisition acquire_waiting(Store& store, const Clock& clock, const AcquireRequest& request,
                            Duration wait);

// "lock 'a' is held by HOST:PID (token 7, exclusive, until 2026-...)".
std::string conflict_message(const std::vector<Holder>& blocking);

struct RunOptions {
  std::vector<std::string> names;  // canonical
  Mode mode = Mode::exclusive;
  std::string owner;
  Duration ttl = default_ttl;
  Duration renew_every{};  // zero: ttl / 3
  Duration wait{};
  int conflict_exit = 75;
  std::vector<std::string> command;
};

// lock run in lease mode: acquire, run CMD with the tokens in its environment while renewing,
// release. Returns CMD's status; 75 when a renewal finds a lease lost (CMD's process group is
// killed first); conflict_exit when the locks could not be had.
int run_leased(Store& store, const Clock& clock, const RunOptions& options);

// lock run --local / --flock: flock(2) on each file (in sorted order), CMD inheriting the
// descriptors, as flock(1) does.
int run_local(const std::vector<std::string>& files, const RunOptions& options);

// A name's lock file under `directory` for --local: '%', '/' and a leading '.' written as
// %25, %2F and %2E, so that every valid name is one file name.
std::string local_lock_file(std::string_view directory, std::string_view name);

struct AcquireOptions {
  std::vector<std::string> names;  // canonical
  Mode mode = Mode::exclusive;
  std::string owner;
  Duration ttl{};
  Duration wait{};
};

int acquire(Store& store, const Clock& clock, const AcquireOptions& options, OutputStream& out);
int renew(Store& store, const Clock& clock, std::string_view name, std::int64_t token, Duration ttl,
          OutputStream& out);
int release(Store& store, const Clock& clock, std::string_view name, std::int64_t token,
            OutputStream& out);
int status(Store& store, const Clock& clock, std::string_view name, Format format,
           OutputStream& out);
int break_lock(Store& store, const Clock& clock, std::string_view name, std::string_view by,
               OutputStream& out);
int fence(Store& store, std::string_view name, std::int64_t token, OutputStream& out);
int waits(Store& store, const Clock& clock, Format format, OutputStream& out);

// The cycles of a waits-for graph (edges waiter -> holder), each once, starting at its
// smallest member and ending where it started: {"a", "b", "a"}.
std::vector<std::vector<std::string>> find_cycles(const std::vector<WaitEdge>& edges);

}  // namespace sluice::lock
