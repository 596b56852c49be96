#include "jobq_cli.hpp"

#include <unistd.h>

#include <climits>
#include <cstdlib>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "jobq.hpp"
#include "sluice/error.hpp"
#include "sluice/keys.hpp"
#include "sluice/random.hpp"

namespace sluice::jobq {
namespace {

constexpr NameTable<WorkMode, 3> work_mode_names(
    {{{"drain", WorkMode::drain}, {"once", WorkMode::once}, {"forever", WorkMode::forever}}});

// Everything the command line can set; the subcommands read the parts they use.
struct Settings {
  cli::StateOptions state;
  bool quiet = false;
  // add, split
  std::string queue = "default";
  std::int64_t priority = 0;
  Duration delay{};
  std::string at;
  std::string key;
  OnDuplicate on_duplicate = OnDuplicate::ignore;
  std::string group;
  int max_attempts = default_max_attempts;
  Duration backoff_base = default_backoff_base;
  Duration backoff_cap = default_backoff_cap;
  std::string payload;
  std::string batch;
  InputOptions input;
  std::vector<std::string> inputs;
  std::string file;
  std::uint64_t chunk = 64u << 20;
  // claim, work
  std::string queues = "default";
  int count = 1;
  Duration lease = default_lease;
  std::string worker;
  int slots = 1;
  bool drain = false, once = false, forever = false;
  Duration poll = std::chrono::seconds(1);
  bool ordered = false;
  std::uint64_t max_result = default_max_result;
  std::vector<std::string> command;
  // ack, fail, heartbeat, show, cancel, retry, result
  std::vector<std::int64_t> ids;
  std::int64_t token = 0;
  Duration retry_after{};
  bool permanent = false;
  std::string error;
  // list, stats, purge
  std::string state_filter;
  std::int64_t after = 0;
  std::int64_t limit = 100;
  Duration older_than{};
  int purge_batch = 1000;
  Format format = Format::jsonl;
};

void add_job_options(CLI::App& command, Settings& s) {
  command.add_option("--queue", s.queue, "The queue the jobs go to")->capture_default_str();
  command.add_option("--priority", s.priority, "Lower runs first (FIFO within a priority)")
      ->check(cli::whole_number(-1000000000, 1000000000))
      ->capture_default_str();
  command.add_option("--group", s.group, "Group within the queue; groups take turns (tenants)");
  command.add_option("--max-attempts", s.max_attempts, "Attempts before a job is dead")
      ->check(cli::whole_number(1, 1000000))
      ->capture_default_str();
  cli::add_duration_option(command, "--backoff-base", s.backoff_base,
                           "Retry delay after the first failure (doubling, full jitter)");
  cli::add_duration_option(command, "--backoff-cap", s.backoff_cap, "Longest retry delay");
  command.add_option("--batch", s.batch, "Name the jobs as one batch (jobq results)");
}

void add_add_options(CLI::App& command, Settings& s) {
  add_job_options(command, s);
  CLI::Option* delay =
      cli::add_duration_option(command, "--delay", s.delay, "Due this long from now");
  command.add_option("--at", s.at, "Due at TIME (RFC 3339 or @EPOCH)")
      ->type_name("TIME")
      ->excludes(delay);
  command.add_option("--key", s.key, "Add only if no waiting or running job has this key");
  cli::add_choice_option(command, "--on-duplicate", s.on_duplicate, on_duplicate_names,
                         "With --key taken: ignore, replace (a waiting job) or error");
  command.add_option("--payload", s.payload, "The one job's payload (a JSON object); stdin unread")
      ->type_name("JSON");
  cli::add_input_options(command, s.input, cli::WithSkipInvalid::no);
  command.add_option("files", s.inputs,
                     "Payload files, one JSON object per line (none or - is stdin)");
}

void add_queues_option(CLI::App& command, Settings& s) {
  command
      .add_option("--queues", s.queues,
                  "Queues and weights, e.g. high:5,default:3,low:1 (weighted round robin)")
      ->type_name("Q[:W],...")
      ->capture_default_str();
}

void add_lease_option(CLI::App& command, Settings& s) {
  cli::add_duration_option(command, "--lease", s.lease, "How long a claim lasts without renewal");
}

void add_claim_options(CLI::App& command, Settings& s) {
  add_queues_option(command, s);
  command.add_option("-n,--count", s.count, "Claim up to N jobs")
      ->check(cli::whole_number(1, 100000))
      ->capture_default_str();
  add_lease_option(command, s);
  command.add_option("--worker", s.worker, "Name recorded with the claim (default HOST:PID)");
}

void add_work_options(CLI::App& command, Settings& s) {
  add_queues_option(command, s);
  command.add_option("-j,--jobs", s.slots, "Run N jobs at once (N worker processes)")
      ->check(cli::whole_number(1, 1024))
      ->capture_default_str();
  add_lease_option(command, s);
  CLI::Option* drain =
      command.add_flag("--drain", s.drain, "Stop when no job is due (the default)");
  CLI::Option* once = command.add_flag("--once", s.once, "Run one job; exit 3 if none is due");
  CLI::Option* forever =
      command.add_flag("--forever", s.forever, "Wait for jobs until stopped by a signal");
  drain->excludes(once)->excludes(forever);
  once->excludes(forever);
  cli::add_duration_option(command, "--poll", s.poll, "With --forever: wait between empty claims");
  command.add_option("--worker", s.worker, "Name recorded with claims (default HOST:PID)");
  command.add_flag("--ordered", s.ordered,
                   "At the end, print the results of the jobs done, in add order");
  cli::add_size_option(command, "--max-result", s.max_result,
                       "Largest stdout stored as a job's result (larger: the attempt fails)");
  cli::add_command_operand(command, s.command)->required();
}

void add_id_operand(CLI::App& command, Settings& s, bool many) {
  CLI::Option* option = command.add_option(many ? "ids" : "id", s.ids, many ? "Job ids" : "Job id")
                            ->required()
                            ->check(cli::whole_number(1, LLONG_MAX));
  if (!many) option->expected(1);
}

void add_token_option(CLI::App& command, Settings& s) {
  command.add_option("--token", s.token, "The token the claim printed")
      ->required()
      ->check(cli::whole_number(0, LLONG_MAX));
}

void add_fail_options(CLI::App& command, Settings& s) {
  add_id_operand(command, s, false);
  add_token_option(command, s);
  CLI::Option* after = cli::add_duration_option(command, "--retry-after", s.retry_after,
                                                "Retry after this long instead of the backoff");
  command.add_flag("--permanent", s.permanent, "Dead now, no retry")->excludes(after);
  command.add_option("--error", s.error, "What went wrong (kept with the job)")->type_name("TEXT");
}

void add_list_options(CLI::App& command, Settings& s) {
  cli::complete_with(command
                         .add_option("--state", s.state_filter,
                                     "Only jobs in this state: waiting, running, done, dead "
                                     "or cancelled")
                         ->check(CLI::IsMember(job_state_names.words())),
                     job_state_names.words());
  command.add_option("--queue", s.queue, "Only jobs of this queue");
  command.add_option("--after", s.after, "Only jobs with a larger id (the last id of a page)")
      ->check(cli::whole_number(0, LLONG_MAX));
  command.add_option("--limit", s.limit, "At most N jobs")
      ->check(cli::whole_number(1, 1000000))
      ->capture_default_str();
  cli::add_format_option(command, s.format);
}

void add_split_options(CLI::App& command, Settings& s) {
  command.add_option("file", s.file, "The file to split")->required();
  cli::add_size_option(command, "--chunk", s.chunk, "Bytes per job (ranges end at a newline)",
                       cli::SizeRange{1, UINT64_MAX});
  add_job_options(command, s);
}

Store open_store(const Settings& settings, cli::StateFile file) {
  return cli::open_state<Store>(settings.state, "jobq", file, cli::Backends::sqlite_or_postgresql);
}

std::string default_worker() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  return fmt::format("{}:{}", host.data(), ::getpid());
}

std::string worker_name(const Settings& s) {
  if (s.worker.empty()) return default_worker();
  validate_key("--worker", s.worker);
  return s.worker;
}

NewJob job_template(const Settings& s) {
  validate_queue_name("--queue", s.queue);
  NewJob job;
  job.queue = s.queue;
  job.priority = s.priority;
  if (!s.group.empty()) validate_key("--group", s.group);
  job.group = s.group;
  job.max_attempts = s.max_attempts;
  job.backoff_base = s.backoff_base;
  job.backoff_cap = std::max(s.backoff_cap, Duration::zero());
  job.batch = s.batch;
  return job;
}

AddOptions add_options(const Settings& s, const CLI::App& command) {
  AddOptions options;
  options.job = job_template(s);
  if (command.count("--key") > 0) {
    validate_key("--key", s.key);
    options.job.key = s.key;
  }
  // Options that would otherwise be ignored without a word.
  if (command.count("--on-duplicate") > 0 && !options.job.key) {
    throw Error(exit_code::usage, "--on-duplicate goes with --key");
  }
  if (command.count("--payload") > 0 && !s.inputs.empty()) {
    throw Error(exit_code::usage, "--payload adds one job: no input files with it");
  }
  if (command.count("--delay") > 0) options.delay = s.delay;
  if (command.count("--at") > 0) options.at = cli::instant_option("--at", s.at);
  options.on_duplicate = s.on_duplicate;
  if (command.count("--payload") > 0) options.payload = s.payload;
  options.input = s.input;
  options.inputs = s.inputs;
  return options;
}

Duration checked_lease(const Settings& s) {
  // Renewed every lease/3: below a second, scheduling delays could let a live holder's lease
  // lapse and another worker take the job while its command still runs.
  if (s.lease < std::chrono::seconds(1))
    throw Error(exit_code::usage, "--lease must be at least 1s");
  return s.lease;
}

// For a pool's worker processes: the state options as given, so that they open the same state.
std::vector<std::string> state_arguments(const Settings& s) {
  std::vector<std::string> arguments;
  if (!s.state.db_path.empty()) arguments.insert(arguments.end(), {"--db", s.state.db_path});
  arguments.insert(arguments.end(), {"--busy-timeout", format_duration(s.state.busy_timeout)});
  if (!s.state.now.empty()) arguments.insert(arguments.end(), {"--now", s.state.now});
  return arguments;
}

std::string work_lock_path(Store& store) {
  return cli::tree_lock_path(store.database(), "jobq", "work.lock");
}

// A pool's worker process takes its pool's run name (and keeps it from its job commands);
// any other `jobq work` is a run of its own.
std::string run_name(const std::string& worker) {
  if (const char* inherited = std::getenv(run_environment); inherited && *inherited) {
    std::string run = inherited;
    ::unsetenv(run_environment);
    return run;
  }
  return fmt::format("{}#{:016x}", worker, Random(Random::os_seed()).next());
}

WorkOptions work_options(const Settings& s, Store& store) {
  WorkOptions options;
  options.queues = parse_queue_weights("--queues", s.queues);
  options.queues_text = s.queues;
  options.slots = s.slots;
  options.lease = checked_lease(s);
  options.mode = s.once ? WorkMode::once : s.forever ? WorkMode::forever : WorkMode::drain;
  options.poll = s.poll;
  options.worker = worker_name(s);
  options.run = run_name(options.worker);
  options.ordered = s.ordered;
  options.quiet = s.quiet;
  options.max_result = s.max_result;
  options.command = s.command;
  options.lock_path = work_lock_path(store);
  options.state_arguments = state_arguments(s);
  return options;
}

// Runs a subcommand's work with the state's clock and stdout.
template <typename Work>
int with_store(const Settings& s, cli::StateFile file, Work&& work) {
  Clock requested = cli::make_clock(s.state);
  return with_stdout([&](OutputStream& out) {
    Store store = open_store(s, file);
    Clock clock = store.clock(requested);
    return work(store, clock, out);
  });
}

std::vector<cli::Subcommand> subcommands(CLI::App& app, const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  auto chosen = [&app](const char* name) -> const CLI::App& { return *app.get_subcommand(name); };
  const auto create = cli::StateFile::create;
  const auto existing = cli::StateFile::must_exist;
  return {
      {"add", "Add jobs: one JSON payload per line of stdin (or --payload)",
       [&s](CLI::App& command) { add_add_options(command, s); },
       [settings, chosen, create] {
         AddOptions options = add_options(*settings, chosen("add"));
         return with_store(*settings, create,
                           [&](Store& store, const Clock& clock, OutputStream& out) {
                             return add(store, clock, options, out);
                           });
       }},
      {"claim", "Claim due jobs, queues by weighted round robin; exit 3 if none",
       [&s](CLI::App& command) { add_claim_options(command, s); },
       [settings, create] {
         ClaimOptions options{parse_queue_weights("--queues", settings->queues), settings->count,
                              checked_lease(*settings), worker_name(*settings)};
         return with_store(*settings, create,
                           [&](Store& store, const Clock& clock, OutputStream& out) {
                             return claim(store, clock, options, out);
                           });
       }},
      {"ack", "Mark a claimed job done (no ID: each {id, token} line of stdin)",
       [&s](CLI::App& command) {
         command.add_option("id", s.ids, "Job id")
             ->expected(0, 1)
             ->check(cli::whole_number(1, LLONG_MAX));
         command.add_option("--token", s.token, "The token the claim printed")
             ->check(cli::whole_number(0, LLONG_MAX));
         cli::add_input_options(command, s.input, cli::WithSkipInvalid::no);
       },
       [settings, chosen, existing] {
         bool one = !settings->ids.empty();
         if (one != (chosen("ack").count("--token") > 0)) {
           throw Error(exit_code::usage,
                       one ? "ack ID needs --token"
                           : "--token goes with an ID (without one, ack reads id and token "
                             "from each line of stdin)");
         }
         return with_store(*settings, existing,
                           [&](Store& store, const Clock& clock, OutputStream& out) {
                             if (!one) return ack_lines(store, clock, {}, settings->input, out);
                             return ack(store, clock, settings->ids.front(), settings->token, out);
                           });
       }},
      {"fail", "Record a failed attempt: retry with backoff, or dead",
       [&s](CLI::App& command) { add_fail_options(command, s); },
       [settings, chosen, existing] {
         FailOptions options;
         if (chosen("fail").count("--retry-after") > 0) options.retry_after = settings->retry_after;
         options.permanent = settings->permanent;
         options.error = settings->error;
         return with_store(
             *settings, existing, [&](Store& store, const Clock& clock, OutputStream& out) {
               return fail(store, clock, settings->ids.front(), settings->token, options, out);
             });
       }},
      {"heartbeat", "Extend a claimed job's lease; says whether a cancel was requested",
       [&s](CLI::App& command) {
         add_id_operand(command, s, false);
         add_token_option(command, s);
         add_lease_option(command, s);
       },
       [settings, existing] {
         Duration lease = checked_lease(*settings);
         return with_store(
             *settings, existing, [&](Store& store, const Clock& clock, OutputStream& out) {
               return heartbeat(store, clock, settings->ids.front(), settings->token, lease, out);
             });
       }},
      {"show", "Print a job with the history of its transitions",
       [&s](CLI::App& command) {
         add_id_operand(command, s, false);
         cli::add_format_option(command, s.format);
       },
       [settings, existing] {
         return with_store(*settings, existing, [&](Store& store, const Clock&, OutputStream& out) {
           return show(store, settings->ids.front(), settings->format, out);
         });
       }},
      {"list", "Print jobs in id order, a page at a time (--after, --limit)",
       [&s](CLI::App& command) { add_list_options(command, s); },
       [settings, chosen, existing] {
         ListFilter filter;
         if (!settings->state_filter.empty()) {
           filter.state = job_state_names.find(settings->state_filter);
         }
         if (chosen("list").count("--queue") > 0) filter.queue = settings->queue;
         filter.after = settings->after;
         filter.limit = settings->limit;
         return with_store(*settings, existing, [&](Store& store, const Clock&, OutputStream& out) {
           return list(store, filter, settings->format, out);
         });
       }},
      {"stats", "Count jobs per queue and state, with the oldest due job's age",
       [&s](CLI::App& command) { cli::add_format_option(command, s.format); },
       [settings, existing] {
         return with_store(*settings, existing,
                           [&](Store& store, const Clock& clock, OutputStream& out) {
                             return stats(store, clock, settings->format, out);
                           });
       }},
      {"cancel", "Cancel jobs: waiting ones at once, running ones by their worker",
       [&s](CLI::App& command) { add_id_operand(command, s, true); },
       [settings, existing] {
         return with_store(*settings, existing,
                           [&](Store& store, const Clock& clock, OutputStream& out) {
                             return cancel(store, clock, settings->ids, out);
                           });
       }},
      {"retry", "Put dead or cancelled jobs back to waiting",
       [&s](CLI::App& command) { add_id_operand(command, s, true); },
       [settings, existing] {
         return with_store(*settings, existing,
                           [&](Store& store, const Clock& clock, OutputStream& out) {
                             return retry(store, clock, settings->ids, out);
                           });
       }},
      {"reap", "Expired leases back to waiting, as a failed attempt", [](CLI::App&) {},
       [settings, existing] {
         return with_store(*settings, existing,
                           [&](Store& store, const Clock& clock, OutputStream& out) {
                             return reap(store, clock, out);
                           });
       }},
      {"purge", "Delete finished jobs older than a duration",
       [&s](CLI::App& command) {
         cli::add_duration_option(command, "--older-than", s.older_than,
                                  "Finished at least this long ago")
             ->required();
         command.add_option("--batch", s.purge_batch, "Jobs deleted per transaction")
             ->check(cli::whole_number(1, 1000000))
             ->capture_default_str();
       },
       [settings, existing] {
         return with_store(
             *settings, existing, [&](Store& store, const Clock& clock, OutputStream& out) {
               return purge(store, clock, settings->older_than, settings->purge_batch, out);
             });
       }},
      {"work", "Run CMD for each due job, N at a time; payload on its stdin",
       [&s](CLI::App& command) { add_work_options(command, s); },
       [settings, create] {
         return with_store(*settings, create,
                           [&](Store& store, const Clock& clock, OutputStream& out) {
                             return work(store, clock, work_options(*settings, store), out);
                           });
       }},
      {"result", "Print a done job's stored stdout",
       [&s](CLI::App& command) { add_id_operand(command, s, false); },
       [settings, existing] {
         return with_store(*settings, existing, [&](Store& store, const Clock&, OutputStream& out) {
           return print_result(store, settings->ids.front(), out);
         });
       }},
      {"results", "Print the results of a batch's jobs in add order",
       [&s](CLI::App& command) {
         command.add_option("--batch", s.batch, "The batch (add --batch, split --batch)")
             ->required();
       },
       [settings, existing] {
         // Jobs added without --batch have the batch '': they are not one batch.
         if (settings->batch.empty()) throw Error(exit_code::usage, "--batch must not be empty");
         return with_store(*settings, existing, [&](Store& store, const Clock&, OutputStream& out) {
           return print_batch_results(store, settings->batch, out);
         });
       }},
      {"split", "Add a file as line-aligned byte ranges, one job each",
       [&s](CLI::App& command) { add_split_options(command, s); },
       [settings, create] {
         SplitOptions options;
         options.file = settings->file;
         options.chunk = settings->chunk;
         options.job = job_template(*settings);
         return with_store(*settings, create,
                           [&](Store& store, const Clock& clock, OutputStream& out) {
                             return split(store, clock, options, out);
                           });
       }},
      {"chunk", "Print the bytes of the range a split job names (its payload on stdin)",
       [](CLI::App&) {},
       [] { return with_stdout([](OutputStream& out) { return print_chunk(out); }); }},
  };
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  cli::add_state_options(app, settings->state);
  app.add_flag("--quiet,-q", settings->quiet, "Print no notes (errors still print)");
  app.fallthrough();
  return cli::add_subcommands(app, subcommands(app, settings));
}

}  // namespace sluice::jobq
