// The lease-mode commands: acquire (with waiting), run, renew, release, status, break, fence.
#include "lock.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/json.hpp"
#include "sluice/keys.hpp"
#include "sluice/proc.hpp"
#include "sluice/signals.hpp"

namespace sluice::lock {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The longest pause between two tries of a waiting acquisition: short enough that a freed
// lock is taken soon, long enough that a few waiters do not keep the state busy.
constexpr Duration longest_poll = std::chrono::milliseconds(50);
// A wait record lasts this long unless refreshed, so a waiter that was killed drops out of
// the graph by itself.
constexpr Duration wait_record_life = std::chrono::seconds(10);

std::string hostname() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return "localhost";
  return buffer;
}

// Removes the wait records of a waiter however its wait ends.
class WaitRecords {
 public:
  WaitRecords(Store& store, std::string owner) : store_(store), owner_(std::move(owner)) {}
  ~WaitRecords() {
    if (!recorded_) return;
    try {
      store_.forget_wait(owner_);
    } catch (const Error&) {
      // They expire by themselves.
    }
  }
  WaitRecords(const WaitRecords&) = delete;
  WaitRecords& operator=(const WaitRecords&) = delete;

  void record(const std::vector<Holder>& blocking, Instant now) {
    auto steady = SteadyClock::now();
    if (recorded_ && steady < refresh_at_) return;
    for (const Holder& holder : blocking) {
      store_.record_wait(owner_, holder.name, now, now + wait_record_life);
    }
    recorded_ = true;
    refresh_at_ = steady + wait_record_life / 3;
  }

 private:
  Store& store_;
  std::string owner_;
  bool recorded_ = false;
  SteadyClock::time_point refresh_at_{};
};

JsonValue optional_instant(const std::optional<Instant>& instant) {
  return instant ? JsonValue::string(format_instant(*instant)) : JsonValue::null();
}

std::string lease_json(const Holder& lease) {
  return ObjectWriter()
      .add_string("name", lease.name)
      .add_int("token", lease.token)
      .add_string("expires", format_instant(lease.expires_at))
      .add_string("owner", lease.owner)
      .add_string("mode", mode_name(lease.mode))
      .finish();
}

// Releases leases after CMD ended; a failure only warns, as the lease then expires anyway.
void release_all(Store& store, const Clock& clock, const std::vector<Holder>& leases) {
  for (const Holder& lease : leases) {
    try {
      store.release(lease.name, lease.token, clock.now());
    } catch (const Error& error) {
      warn(fmt::format("could not release lock '{}' (token {}); it frees at {}: {}", lease.name,
                       lease.token, format_instant(lease.expires_at), error.what()));
    }
  }
}

// Renews every lease each tick. A lease found lost, or state that stays unreachable until the
// lease may have expired, throws Error(75): proc then kills CMD (and its group) before the
// error reaches run_leased's caller.
class LeaseKeeper {
 public:
  LeaseKeeper(Store& store, const Clock& clock, const RunOptions& options,
              const std::vector<Holder>& leases)
      : store_(store),
        clock_(clock),
        options_(options),
        leases_(leases),
        renewed_at_(SteadyClock::now()) {}

  void renew() {
    auto started = SteadyClock::now();
    const Holder* gone = nullptr;
    try {
      Instant now = clock_.now();
      for (const Holder& lease : leases_) {
        if (!store_.renew(lease.name, lease.token, now, now + options_.ttl)) {
          gone = &lease;
          break;
        }
      }
      renewed_at_ = started;
    } catch (const Error& error) {
      if (error.code() != exit_code::temporary && error.code() != exit_code::unavailable) throw;
      // Keep trying while the lease certainly still holds; past that another process may have
      // taken it, and CMD must not go on as if it were alone.
      if (SteadyClock::now() + options_.renew_every >= renewed_at_ + options_.ttl) {
        throw Error(exit_code::temporary,
                    fmt::format("could not renew the lease of lock '{}' before it expired ({}); "
                                "the command was killed",
                                leases_.front().name, error.what()));
      }
      warn(fmt::format("could not renew the lease of lock '{}': {}", leases_.front().name,
                       error.what()));
    }
    if (gone != nullptr) lost(*gone);
  }

 private:
  [[noreturn]] void lost(const Holder& lease) {
    throw Error(exit_code::temporary,
                fmt::format("the lease of lock '{}' (token {}) was lost (expired, broken or taken "
                            "over); the command was killed",
                            lease.name, lease.token));
  }
  Store& store_;
  const Clock& clock_;
  const RunOptions& options_;
  const std::vector<Holder>& leases_;
  SteadyClock::time_point renewed_at_;
};

}  // namespace

void validate_name(std::string_view name) {
  validate_key("lock name", name);
}

std::int64_t parse_token(std::string_view option, std::string_view text) {
  std::int64_t value = 0;
  bool digits = !text.empty() && text.size() <= 18 &&
                std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) std::from_chars(text.data(), text.data() + text.size(), value);
  if (!digits || value < 1) {
    throw Error(exit_code::usage,
                fmt::format("{}: '{}' is not a token (a whole number from 1)", option, text));
  }
  return value;
}

std::string environment_name(std::string_view name) {
  std::string variable = "LOCK_TOKEN_";
  for (char c : name) {
    bool kept = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (c >= 'a' && c <= 'z') {
      variable += static_cast<char>(c - 'a' + 'A');
    } else {
      variable += kept ? c : '_';
    }
  }
  return variable;
}

void check_environment_names(const std::vector<std::string>& names) {
  std::map<std::string, std::string> seen;
  for (const auto& name : names) {
    auto [entry, inserted] = seen.emplace(environment_name(name), name);
    if (!inserted) {
      throw Error(exit_code::usage, fmt::format("locks '{}' and '{}' would both set {}; rename one",
                                                entry->second, name, entry->first));
    }
  }
}

std::vector<std::pair<std::string, std::string>> token_environment(
    const std::vector<Holder>& leases) {
  std::vector<std::pair<std::string, std::string>> variables;
  std::string all;
  for (const Holder& lease : leases) {
    if (!all.empty()) all += ',';
    all += std::to_string(lease.token);
    variables.emplace_back(environment_name(lease.name), std::to_string(lease.token));
  }
  variables.emplace(variables.begin(), "LOCK_TOKEN", all);
  return variables;
}

std::string default_owner(long pid) {
  return fmt::format("{}:{}", hostname(), pid);
}

std::string conflict_message(const std::vector<Holder>& blocking) {
  std::string message;
  for (const Holder& holder : blocking) {
    if (!message.empty()) message += "; ";
    message +=
        fmt::format("lock '{}' is held by {} (token {}, {}, until {})", holder.name, holder.owner,
                    holder.token, mode_name(holder.mode), format_instant(holder.expires_at));
  }
  return message;
}

Acquisition acquire_waiting(Store& store, const Clock& clock, const AcquireRequest& request,
                            Duration wait) {
  const auto started = SteadyClock::now();
  WaitRecords records(store, request.owner);
  Duration pause = std::chrono::milliseconds(2);
  for (;;) {
    Instant now = clock.now();
    Acquisition attempt = store.acquire(request, now);
    if (attempt.succeeded() || wait == Duration::zero()) return attempt;
    Duration waited = std::chrono::duration_cast<Duration>(SteadyClock::now() - started);
    if (wait != wait_forever && waited >= wait) return attempt;
    records.record(attempt.blocking, now);
    Duration sleep = pause;
    if (wait != wait_forever) sleep = std::min(sleep, wait - waited);
    if (!sleep_unless_interrupted(sleep)) throw_if_interrupted();
    pause = std::min(pause * 2, longest_poll);
  }
}

int run_leased(Store& store, const Clock& clock, const RunOptions& options) {
  AcquireRequest request{options.names, options.mode, options.owner, options.ttl};
  Acquisition acquisition = acquire_waiting(store, clock, request, options.wait);
  if (!acquisition.succeeded()) {
    throw Error(options.conflict_exit, conflict_message(acquisition.blocking));
  }
  const std::vector<Holder>& leases = acquisition.granted;
  proc::Command command;
  command.argv = options.command;
  command.environment = token_environment(leases);
  // Its own process group, so that a lost lease kills every process of the command; not when
  // the command may read our terminal (a background group cannot).
  command.own_process_group = ::isatty(STDIN_FILENO) == 0;
  LeaseKeeper keeper(store, clock, options, leases);
  proc::Handlers handlers;
  handlers.tick_interval = options.renew_every;
  handlers.on_tick = [&keeper] { keeper.renew(); };
  proc::Outcome outcome;
  try {
    outcome = proc::run(command, handlers);
  } catch (...) {
    release_all(store, clock, leases);
    throw;
  }
  if (outcome.descendants_remain) {
    // CMD ended but processes it started still run in its group (`work &`): released now,
    // the lock would let the next holder in beside them. They keep the leases until these
    // expire; proc cannot name the group once its leader is reaped, so nothing kills them.
    warn(
        fmt::format("processes started by the command still run; its leases are kept until "
                    "they expire (within {})",
                    format_duration(options.ttl)));
  } else {
    release_all(store, clock, leases);
  }
  if (outcome.launch_failed) {
    print_diagnostic(Severity::error, options.command.front(), outcome.launch_error);
  }
  return outcome.exit_status;
}

int acquire(Store& store, const Clock& clock, const AcquireOptions& options, OutputStream& out) {
  AcquireRequest request{options.names, options.mode, options.owner, options.ttl};
  Acquisition acquisition = acquire_waiting(store, clock, request, options.wait);
  if (!acquisition.succeeded()) {
    throw Error(exit_code::temporary, conflict_message(acquisition.blocking));
  }
  for (const Holder& lease : acquisition.granted) out.write_line(lease_json(lease));
  return exit_code::success;
}

int renew(Store& store, const Clock& clock, std::string_view name, std::int64_t token, Duration ttl,
          OutputStream& out) {
  Instant now = clock.now();
  if (!store.renew(name, token, now, now + ttl)) {
    throw Error(exit_code::definite_no,
                fmt::format("token {} does not hold lock '{}' (released, broken or expired); "
                            "nothing changed",
                            token, name));
  }
  out.write_line(ObjectWriter()
                     .add_string("name", name)
                     .add_int("token", token)
                     .add_string("expires", format_instant(now + ttl))
                     .finish());
  return exit_code::success;
}

int release(Store& store, const Clock& clock, std::string_view name, std::int64_t token,
            OutputStream& out) {
  bool released = store.release(name, token, clock.now());
  out.write_line(ObjectWriter()
                     .add_string("name", name)
                     .add_int("token", token)
                     .add_bool("released", released)
                     .finish());
  if (!released) {
    warn(
        fmt::format("token {} does not hold lock '{}' (released, broken, expired or taken "
                    "over); nothing changed",
                    token, name));
    return exit_code::definite_no;
  }
  return exit_code::success;
}

int status(Store& store, const Clock& clock, std::string_view name, Format format,
           OutputStream& out) {
  Instant now = clock.now();
  std::vector<NameStatus> names = store.status(name);
  if (names.empty() && !name.empty()) names.push_back(NameStatus{std::string(name)});
  RecordPrinter printer(out, format);
  for (const NameStatus& entry : names) {
    auto row = [&](const Holder* holder) {
      std::vector<JsonValue::Member> members;
      members.emplace_back("name", JsonValue::string(entry.name));
      std::string state = holder == nullptr           ? "free"
                          : holder->expires_at <= now ? "expired"
                                                      : "held";
      members.emplace_back("state", JsonValue::string(state));
      auto text = [&](auto value) {
        return holder ? JsonValue::string(std::string(value)) : JsonValue::null();
      };
      members.emplace_back("mode", text(holder ? mode_name(holder->mode) : ""));
      members.emplace_back("token", holder ? JsonValue::integer(holder->token) : JsonValue::null());
      members.emplace_back("owner", text(holder ? holder->owner : ""));
      members.emplace_back("acquired_at",
                           holder ? optional_instant(holder->acquired_at) : JsonValue::null());
      members.emplace_back("expires",
                           holder ? optional_instant(holder->expires_at) : JsonValue::null());
      members.emplace_back("last_token", JsonValue::integer(entry.last_token));
      members.emplace_back("fenced", JsonValue::integer(entry.fenced));
      members.emplace_back(
          "broken_by", entry.broken_by ? JsonValue::string(*entry.broken_by) : JsonValue::null());
      members.emplace_back("broken_at", optional_instant(entry.broken_at));
      printer.print(JsonValue::object(std::move(members)));
    };
    if (entry.holders.empty()) row(nullptr);
    for (const Holder& holder : entry.holders) row(&holder);
  }
  printer.finish();
  return exit_code::success;
}

int break_lock(Store& store, const Clock& clock, std::string_view name, std::string_view by,
               OutputStream& out) {
  Instant now = clock.now();
  Break broken = store.break_lock(name, by, now);
  std::vector<JsonValue> tokens;
  for (std::int64_t token : broken.tokens) tokens.push_back(JsonValue::integer(token));
  out.write_line(ObjectWriter()
                     .add_string("name", name)
                     .add_raw("broken", to_json(JsonValue::array(std::move(tokens))))
                     .add_string("by", by)
                     .add_string("at", format_instant(now))
                     .finish());
  return exit_code::success;
}

int fence(Store& store, std::string_view name, std::int64_t token, OutputStream& out) {
  FenceResult result = store.fence(name, token);
  out.write_line(ObjectWriter()
                     .add_string("name", name)
                     .add_int("token", token)
                     .add_bool("accepted", result.accepted)
                     .add_int("highest", result.highest)
                     .finish());
  if (result.never_issued(token)) {
    warn(fmt::format("token {} of lock '{}' was never handed out (the last is {}): refused", token,
                     name, result.last_token));
    return exit_code::definite_no;
  }
  if (!result.accepted) {
    warn(fmt::format("token {} of lock '{}' is older than token {}, already seen: refused", token,
                     name, result.highest));
    return exit_code::definite_no;
  }
  return exit_code::success;
}

std::vector<std::vector<std::string>> find_cycles(const std::vector<WaitEdge>& edges) {
  std::map<std::string, std::set<std::string>> next;
  for (const WaitEdge& edge : edges) next[edge.waiter].insert(edge.holder);
  std::set<std::vector<std::string>> cycles;
  // A depth-first walk from every node; a step back onto the current path closes a cycle.
  std::vector<std::string> path;
  std::function<void(const std::string&)> walk = [&](const std::string& node) {
    auto on_path = std::find(path.begin(), path.end(), node);
    if (on_path != path.end()) {
      std::vector<std::string> cycle(on_path, path.end());
      std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
      cycle.push_back(cycle.front());
      cycles.insert(cycle);
      return;
    }
    if (path.size() > next.size()) return;
    path.push_back(node);
    if (auto found = next.find(node); found != next.end()) {
      for (const auto& target : found->second) walk(target);
    }
    path.pop_back();
  };
  for (const auto& [node, targets] : next) walk(node);
  return {cycles.begin(), cycles.end()};
}

int waits(Store& store, const Clock& clock, Format format, OutputStream& out) {
  std::vector<WaitEdge> edges = store.waits(clock.now());
  std::vector<std::vector<std::string>> cycles = find_cycles(edges);
  std::set<std::pair<std::string, std::string>> in_cycle;
  for (const auto& cycle : cycles) {
    for (std::size_t i = 0; i + 1 < cycle.size(); ++i) in_cycle.emplace(cycle[i], cycle[i + 1]);
  }
  RecordPrinter printer(out, format);
  for (const WaitEdge& edge : edges) {
    printer.print(JsonValue::object({
        {"waiter", JsonValue::string(edge.waiter)},
        {"name", JsonValue::string(edge.name)},
        {"holder", JsonValue::string(edge.holder)},
        {"token", JsonValue::integer(edge.token)},
        {"in_cycle", JsonValue::boolean(in_cycle.count({edge.waiter, edge.holder}) > 0)},
    }));
  }
  printer.finish();
  for (const auto& cycle : cycles) {
    std::string text;
    for (const auto& node : cycle) text += (text.empty() ? "" : " -> ") + node;
    warn(fmt::format("deadlock: {}", text));
  }
  return cycles.empty() ? exit_code::success : exit_code::definite_no;
}

}  // namespace sluice::lock
