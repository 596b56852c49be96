// run and check: look the request up, replay or serve stale, or compute it once.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "qcache.hpp"
#include "sluice/command_result.hpp"
#include "sluice/crypto.hpp"
#include "sluice/json.hpp"
#include "sluice/keys.hpp"
#include "sluice/proc.hpp"
#include "sluice/signals.hpp"

namespace sluice::qcache {
namespace {

// Where a computed result's output goes while the command runs.
enum class Passthrough {
  live,      // to our stdout and stderr as it comes (run)
  buffered,  // kept, printed after unless not modified (check); a stream larger than
             // --max-output is printed as it comes once it is (it cannot be kept)
  none,      // kept only (a stale entry's refresh, after the caller was answered)
};

// The request as run and check see it: the options, the stdin bytes, the tag versions read
// and the key they make.
struct Request {
  const RunOptions& options;
  std::optional<std::string> input;
  std::vector<TagVersion> versions;
  std::string key;
};

// What the caller is answered from an entry (or a computed result).
struct Answer {
  const EtagCondition* condition = nullptr;  // check: If-None-Match
};

// The argv as qcache_entries.command keeps it: each word followed by a NUL.
std::string stored_command(const std::vector<std::string>& command) {
  std::string stored;
  for (const std::string& word : command) {
    stored += word;
    stored += '\0';
  }
  return stored;
}

// Counters are best effort: a count that cannot be written (the state stayed busy) is dropped
// rather than turn a run that answered into a failure, or add to a replayed stderr.
void tally(Store& store, Counter counter) {
  try {
    store.count(counter);
  } catch (const Error&) {
  }
}

// An entry's ETag is its output's (content_etag): one that run stored without --etag gets
// it computed here, so that check matches whichever run stored the entry.
std::string etag_of(const Entry& entry) {
  return entry.etag ? *entry.etag : content_etag(entry.stdout_bytes);
}

int answer_from(const Answer& answer, const Entry& entry) {
  if (answer.condition != nullptr && etag_matches(*answer.condition, etag_of(entry))) {
    return not_modified;
  }
  return replay_result(entry.stdout_bytes, entry.stderr_bytes, entry.exit_status);
}

struct Computed {
  proc::Outcome outcome;
  OutputCapture out;
  OutputCapture err;

  Computed(Passthrough passthrough, std::uint64_t max_output)
      : out(passthrough == Passthrough::none ? -1 : STDOUT_FILENO, max_output,
            pass_on(passthrough)),
        err(passthrough == Passthrough::none ? -1 : STDERR_FILENO, max_output,
            pass_on(passthrough)) {}

  [[nodiscard]] bool overflowed() const { return out.overflowed() || err.overflowed(); }

 private:
  static PassOn pass_on(Passthrough passthrough) {
    return passthrough == Passthrough::buffered ? PassOn::after_overflow : PassOn::live;
  }
};

proc::Command child_command(const Request& request) {
  proc::Command command;
  command.argv = request.options.command;
  command.environment = {{"QCACHE_KEY", request.key}};
  command.input = request.input;
  // Its own process group, so that a forwarded SIGTERM reaches every process of the command;
  // not when the command may read our terminal.
  command.own_process_group = request.input.has_value() || ::isatty(STDIN_FILENO) == 0;
  command.capture_stdout = true;
  command.capture_stderr = true;
  return command;
}

void compute(Store& store, const Clock& clock, const Request& request,
             const std::optional<std::string>& token, Computed& computed) {
  proc::Handlers handlers = capture_handlers(computed.out, computed.err);
  const RunOptions& options = request.options;
  if (token) {
    LeaseRenewal renewal;
    renewal.lease = options.lease;
    renewal.renew = [&store, &clock, &request, &token, &options] {
      return store.renew(request.key, *token, clock.now() + options.lease);
    };
    renewal.on_lost = [] {
      warn("another process took this computation over (the lease lapsed); both results count");
    };
    renewal.on_error = [](const Error& error) {
      warn(fmt::format("could not renew the lease: {}", error.what()));
    };
    renew_while_running(handlers, std::move(renewal));
  }
  try {
    computed.outcome = proc::run(child_command(request), handlers);
  } catch (...) {
    if (token) store.release(request.key, *token);
    throw;
  }
}

void release_quietly(Store& store, const Request& request,
                     const std::optional<std::string>& token) {
  if (!token) return;
  try {
    store.release(request.key, *token);
  } catch (const Error& error) {
    warn(fmt::format("could not end the claim on the key (it lapses with its lease): {}",
                     error.what()));
  }
}

// Stores a computed result when its status is one to cache, or ends the claim. Returns whether
// the result counts as the request's current content (it ended normally with such a status).
bool settle(Store& store, const Clock& clock, const Request& request,
            const std::optional<std::string>& token, const Computed& computed) {
  const RunOptions& options = request.options;
  const proc::Outcome& outcome = computed.outcome;
  if (outcome.launch_failed) {
    release_quietly(store, request, token);
    throw Error(outcome.exit_status,
                fmt::format("{}: {}", options.command.front(),
                            outcome.exit_status == exit_code::not_found ? "command not found"
                                                                        : outcome.launch_error));
  }
  bool interrupted = outcome.forwarded_signal != 0 && outcome.signal != 0;
  bool cacheable = !interrupted && options.cache_statuses.contains(outcome.exit_status);
  bool overflowed = computed.overflowed();
  if (cacheable && overflowed) {
    warn(fmt::format("the output is larger than --max-output ({} bytes); it is not cached",
                     options.max_output));
  }
  if (!cacheable || overflowed) {
    release_quietly(store, request, token);
    return cacheable;
  }
  Instant now = clock.now();
  Entry entry;
  entry.key = request.key;
  entry.command = stored_command(options.command);
  entry.created_at = now;
  entry.fresh_until = now + options.ttl;
  entry.stale_until = entry.fresh_until + options.stale_while_revalidate;
  entry.exit_status = outcome.exit_status;
  entry.stdout_bytes = computed.out.bytes();
  entry.stderr_bytes = computed.err.bytes();
  if (options.etag) entry.etag = content_etag(entry.stdout_bytes);
  entry.tags = request.versions;
  try {
    store.store(entry, token);
  } catch (const Error& error) {
    // The caller has its result already; only the next run pays for the failure.
    warn(fmt::format("the result could not be cached: {}", error.what()));
    release_quietly(store, request, token);
  }
  return true;
}

// Runs the command (claimed by `token`, or not after --lock-wait), stores the result, and
// answers the caller.
int compute_and_answer(Store& store, const Clock& clock, const Request& request,
                       const std::optional<std::string>& token, const Answer& answer) {
  Passthrough passthrough = answer.condition != nullptr ? Passthrough::buffered : Passthrough::live;
  Computed computed(passthrough, request.options.max_output);
  compute(store, clock, request, token, computed);
  bool current = settle(store, clock, request, token, computed);
  const proc::Outcome& outcome = computed.outcome;
  if (outcome.forwarded_signal != 0 && outcome.signal != 0) {
    return exit_code::signal_base + outcome.forwarded_signal;
  }
  if (passthrough == Passthrough::buffered) {
    // An overflowed stream went out as it came (its bytes() are empty): the rest follows it,
    // and content that was not all kept has no ETag to compare.
    if (current && !computed.overflowed() &&
        etag_matches(*answer.condition, content_etag(computed.out.bytes()))) {
      return not_modified;
    }
    return replay_result(computed.out.bytes(), computed.err.bytes(), outcome.exit_status);
  }
  return outcome.exit_status;
}

// After a stale entry was served: the caller has its answer, so its stdout and stderr go to
// /dev/null (a reader of a pipe sees its end now) while this process refreshes the entry.
void detach_outputs() {
  int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null < 0) return;
  ::dup2(null, STDOUT_FILENO);
  ::dup2(null, STDERR_FILENO);
  ::close(null);
}

int serve_stale(Store& store, const Clock& clock, const Request& request, const Entry& entry,
                const Answer& answer) {
  int status = answer_from(answer, entry);
  tally(store, Counter::stale_hits);
  std::string token = random_hex(16);
  try {
    Instant now = clock.now();
    if (store.claim(request.key, token, now, now + request.options.lease) !=
        ClaimOutcome::claimed) {
      return status;  // another process refreshes it (or did)
    }
    detach_outputs();
    tally(store, Counter::refreshes);
    Computed computed(Passthrough::none, request.options.max_output);
    compute(store, clock, request, token, computed);
    settle(store, clock, request, token, computed);
  } catch (const Error& error) {
    // The caller has its answer: a refresh that could not claim, start or store (a busy
    // state, a command not found) leaves the stale entry as it was, and the status is the
    // answer's. A signal still ends the run as a signal does.
    if (error.code() > exit_code::signal_base) throw;
  }
  return status;
}

Request make_request(Store& store, const RunOptions& options) {
  Request request{options, std::nullopt, {}, {}};
  if (options.use_stdin) request.input = read_all(STDIN_FILENO, "<stdin>", options.max_output);
  request.versions = store.tag_versions(options.tags);
  request.key = cache_key(options, request.input, request.versions);
  return request;
}

int serve(Store& store, const Clock& clock, const Request& request, const Answer& answer) {
  const RunOptions& options = request.options;
  const std::string token = random_hex(16);
  const auto started = std::chrono::steady_clock::now();
  auto pause = std::chrono::milliseconds(5);
  bool waited = false;
  for (;;) {
    Instant now = clock.now();
    if (std::optional<Entry> entry = store.find(request.key)) {
      if (now < entry->fresh_until) {
        int status = answer_from(answer, *entry);
        tally(store, waited ? Counter::coalesced : Counter::hits);
        return status;
      }
      if (now < entry->fresh_until + options.stale_while_revalidate) {
        return serve_stale(store, clock, request, *entry, answer);
      }
    }
    // A waiter polls with reads, and tries to claim only once the claim it waits on is gone.
    Store::ClaimState state =
        waited ? store.claim_state(request.key, now) : Store::ClaimState::none;
    if (state == Store::ClaimState::given_back) {
      // The result it waited for was not cached (the command's status is not one to cache,
      // or it was interrupted): every waiter runs the command now, side by side, rather than
      // each wait in turn for the one before (the last would wait up to --lock-wait).
      tally(store, Counter::misses);
      return compute_and_answer(store, clock, request, std::nullopt, answer);
    }
    if (state != Store::ClaimState::live) {
      ClaimOutcome claim = store.claim(request.key, token, now, now + options.lease);
      if (claim == ClaimOutcome::fresh) continue;
      if (claim == ClaimOutcome::claimed) {
        tally(store, Counter::misses);
        return compute_and_answer(store, clock, request, token, answer);
      }
    }
    if (std::chrono::steady_clock::now() - started >= options.lock_wait) {
      tally(store, Counter::misses);
      return compute_and_answer(store, clock, request, std::nullopt, answer);
    }
    waited = true;
    sleep_unless_interrupted(pause);
    throw_if_interrupted();
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
}

}  // namespace

std::string cache_key(const RunOptions& options, const std::optional<std::string>& input,
                      const std::vector<TagVersion>& versions) {
  Sha256 hasher;
  hasher.update_framed("qcache-run-v1");
  hash_command_request(hasher, options.command, options.environment_names, input);
  hasher.update_framed(options.key_extra ? "extra" : "no-extra");
  if (options.key_extra) hasher.update_framed(*options.key_extra);
  // A set, whatever order and repeats the caller read the versions in (--tag's are sorted
  // and unique already: the key of every stored entry is unchanged).
  std::map<std::string, std::int64_t> tags;
  for (const TagVersion& tag : versions) tags.emplace(tag.tag, tag.version);
  hasher.update_framed(std::to_string(tags.size()));
  for (const auto& [tag, version] : tags) {
    hasher.update_framed(tag);
    hasher.update_framed(std::to_string(version));
  }
  return to_hex(hasher.finish());
}

std::vector<std::string> checked_tags(const std::vector<std::string>& tags) {
  for (const std::string& tag : tags) validate_key("tag", tag);
  std::set<std::string> unique(tags.begin(), tags.end());
  return {unique.begin(), unique.end()};
}

int run(Store& store, const Clock& clock, const RunOptions& options) {
  return serve(store, clock, make_request(store, options), Answer{});
}

int check(Store& store, const Clock& clock, const RunOptions& options,
          const EtagCondition& condition) {
  RunOptions with_etag = options;
  with_etag.etag = true;
  return serve(store, clock, make_request(store, with_etag), Answer{&condition});
}

int print_key(Store& store, const RunOptions& options, OutputStream& out) {
  Request request = make_request(store, options);
  out.write_line(request.key);
  return exit_code::success;
}

}  // namespace sluice::qcache
