#include "qcache_cli.hpp"

#include <cctype>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "qcache.hpp"
#include "sluice/error.hpp"

namespace sluice::qcache {
namespace {

// Everything the command line can set; the subcommands read the parts they use.
struct Settings {
  cli::StateOptions state;
  RunOptions run;
  std::string cache_statuses = "0";
  std::string if_none_match;
  bool weak = false;
  std::string key;
  std::string file = "-";
  int gc_batch = 1000;
  Format format = Format::jsonl;
};

// The options that make the key: key, run and check share them.
void add_key_options(CLI::App& command, Settings& settings) {
  RunOptions& run = settings.run;
  command
      .add_option("--tag", run.tags,
                  "Tag the entry (e.g. table:users); 'qcache invalidate' of a tag makes its "
                  "entries miss (repeatable)")
      ->type_name("TAG[,TAG...]")
      ->delimiter(',')
      ->allow_extra_args(false);
  command.add_option("--key-extra", run.key_extra, "Add TEXT to the cache key")->type_name("TEXT");
  command
      .add_option("--env", run.environment_names,
                  "Include this environment variable in the cache key (repeatable)")
      ->type_name("NAME[,NAME...]")
      ->delimiter(',')
      ->allow_extra_args(false);
  command.add_flag("--stdin", run.use_stdin,
                   "Read stdin, include it in the cache key and feed it to CMD");
}

void add_run_options(CLI::App& command, Settings& settings) {
  RunOptions& run = settings.run;
  add_key_options(command, settings);
  cli::add_duration_option(command, "--ttl", run.ttl, "How long an entry is fresh (required)");
  cli::add_duration_option(command, "--stale-while-revalidate", run.stale_while_revalidate,
                           "After --ttl, serve the stale entry this long while one process "
                           "refreshes it");
  cli::add_duration_option(command, "--lock-wait", run.lock_wait,
                           "How long to wait for another process computing the same key, "
                           "then run CMD anyway");
  cli::add_duration_option(command, "--lease", run.lease,
                           "How long a computing process's claim lasts without renewal");
  command
      .add_option("--cache-status", settings.cache_statuses,
                  "Exit statuses whose result is cached (e.g. 0,1)")
      ->type_name("CODES")
      ->capture_default_str();
  command.add_flag("--etag", run.etag, "Store the ETag of the output with the entry");
  cli::add_size_option(command, "--max-output", run.max_output, "Largest stdout or stderr cached");
}

// Names given to --env: environment variable names.
std::vector<std::string> checked_environment_names(const std::vector<std::string>& names) {
  for (const auto& name : names) {
    bool valid = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
    for (char c : name) valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!valid) {
      throw Error(exit_code::usage,
                  fmt::format("--env: '{}' is not a valid environment variable name", name));
    }
  }
  return names;
}

// The options checked, before any state is opened.
RunOptions key_options(const Settings& settings) {
  RunOptions options = settings.run;
  options.tags = checked_tags(options.tags);
  options.environment_names = checked_environment_names(options.environment_names);
  if (options.command.empty()) throw Error(exit_code::usage, "no command given (-- CMD [ARG...])");
  return options;
}

RunOptions run_options(const Settings& settings) {
  RunOptions options = key_options(settings);
  if (options.ttl <= Duration::zero()) throw Error(exit_code::usage, "--ttl is required (> 0)");
  // The holder renews every lease/3; below a second, scheduling delays could let a live
  // holder's lease lapse while its command still runs.
  if (options.lease < std::chrono::seconds(1)) {
    throw Error(exit_code::usage, "--lease must be at least 1s");
  }
  options.cache_statuses = cli::exit_code_set("--cache-status", settings.cache_statuses);
  return options;
}

Store open_store(const Settings& settings, cli::StateFile file) {
  return cli::open_state<Store>(settings.state, "qcache", file,
                                cli::Backends::sqlite_or_postgresql);
}

// Runs a subcommand's work with the clock and stdout (flushed after, so that a write error
// surfaces).
template <typename Work>
int with_output(const Settings& settings, Work&& work) {
  Clock clock = cli::make_clock(settings.state);
  return with_stdout([&](OutputStream& out) { return work(clock, out); });
}

std::vector<cli::Subcommand> subcommands(const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  auto existing = [settings] { return open_store(*settings, cli::StateFile::must_exist); };
  return {
      {"run", "Replay CMD's cached result, or run CMD and cache it",
       [&s](CLI::App& command) {
         cli::add_command_operand(command, s.run.command);
         cli::define_when_used(command, [&s](CLI::App& run) { add_run_options(run, s); });
       },
       [settings] {
         RunOptions options = run_options(*settings);
         Store store = open_store(*settings, cli::StateFile::create);
         return run(store, store.clock(cli::make_clock(settings->state)), options);
       }},
      {"check", "Exit 3 if the cached entry's ETag matches --if-none-match, else as run --etag",
       [&s](CLI::App& command) {
         cli::add_command_operand(command, s.run.command);
         cli::define_when_used(command, [&s](CLI::App& check) {
           add_run_options(check, s);
           check
               .add_option("--if-none-match", s.if_none_match,
                           "The If-None-Match header: \"*\" or entity tags, W/\"...\" or \"...\"")
               ->type_name("ETAGS");
         });
       },
       [settings] {
         RunOptions options = run_options(*settings);
         EtagCondition condition = parse_if_none_match(settings->if_none_match);
         Store store = open_store(*settings, cli::StateFile::create);
         return check(store, store.clock(cli::make_clock(settings->state)), options, condition);
       }},
      {"key", "Print the cache key run would use for CMD now",
       [&s](CLI::App& command) {
         cli::add_command_operand(command, s.run.command);
         cli::define_when_used(command, [&s](CLI::App& key) { add_key_options(key, s); });
       },
       [settings] {
         RunOptions options = key_options(*settings);
         return with_output(*settings, [&](const Clock&, OutputStream& out) {
           Store store = open_store(*settings, cli::StateFile::create);
           return print_key(store, options, out);
         });
       }},
      {"invalidate", "Bump tag versions: every entry with one of the tags misses",
       [&s](CLI::App& command) {
         command.add_option("--tag", s.run.tags, "A tag to invalidate (repeatable)")
             ->type_name("TAG[,TAG...]")
             ->delimiter(',')
             ->allow_extra_args(false)
             ->required();
       },
       [settings] {
         std::vector<std::string> tags = checked_tags(settings->run.tags);
         return with_output(*settings, [&](const Clock&, OutputStream& out) {
           Store store = open_store(*settings, cli::StateFile::create);
           return invalidate(store, tags, out);
         });
       }},
      {"gc", "Delete expired and unreachable entries in batches",
       [&s](CLI::App& command) {
         command.add_option("--batch", s.gc_batch, "Rows deleted per transaction")
             ->check(cli::whole_number(1, 1000000))
             ->capture_default_str();
       },
       [settings, existing] {
         return with_output(*settings, [&](const Clock& clock, OutputStream& out) {
           Store store = existing();
           return collect_garbage(store, store.clock(clock), settings->gc_batch, out);
         });
       }},
      {"stats", "Print hits, misses, coalesced waits and bytes",
       [&s](CLI::App& command) { cli::add_format_option(command, s.format); },
       [settings, existing] {
         return with_output(*settings, [&](const Clock&, OutputStream& out) {
           Store store = existing();
           return stats(store, settings->format, out);
         });
       }},
      {"show", "Print one entry's record",
       [&s](CLI::App& command) {
         command.add_option("key", s.key, "The cache key ('qcache key' prints it)")->required();
         cli::add_format_option(command, s.format);
       },
       [settings, existing] {
         return with_output(*settings, [&](const Clock& clock, OutputStream& out) {
           Store store = existing();
           return show(store, store.clock(clock), settings->key, settings->format, out);
         });
       }},
      {"etag", "Print the strong (or --weak) ETag of FILE's content",
       [&s](CLI::App& command) {
         command.add_flag("--weak", s.weak, "Print a weak ETag, W/\"...\"");
         command.add_option("file", s.file, "The content (- or none is stdin)");
       },
       [settings] {
         return with_stdout([&](OutputStream& out) {
           return print_etag(settings->file,
                             settings->weak ? EtagStrength::weak : EtagStrength::strong, out);
         });
       }},
  };
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  cli::add_state_options(app, settings->state);
  app.fallthrough();
  return cli::add_subcommands(app, subcommands(settings));
}

}  // namespace sluice::qcache
