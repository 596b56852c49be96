#include "lock_cli.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "lock.hpp"
#include "sluice/error.hpp"

namespace sluice::lock {
namespace {

// Everything the command line can set; the subcommands read the parts they use.
struct Settings {
  cli::StateOptions state;
  bool local = false;
  std::vector<std::string> names;
  std::vector<std::string> flock_files;
  std::vector<std::string> command;
  Duration ttl = default_ttl;
  Duration renew_every{};
  Duration wait{};
  bool nonblock = false;
  bool shared = false;
  int conflict_exit = exit_code::temporary;
  std::string owner;
  std::string token;
  bool force = false;
  Format format = Format::jsonl;
};

void add_owner(CLI::App& command, Settings& settings, const std::string& help) {
  command.add_option("--owner", settings.owner, help)->type_name("ID");
}

void add_token(CLI::App& command, Settings& settings, const std::string& help) {
  command.add_option("--token", settings.token, help)->required()->type_name("TOKEN");
}

void add_ttl(CLI::App& command, Settings& settings) {
  cli::add_duration_option(command, "--ttl", settings.ttl,
                           "How long the lease lasts without renewal");
}

void add_waiting(CLI::App& command, Settings& settings) {
  CLI::Option* wait = cli::add_duration_option(
      command, "--wait", settings.wait,
      "Wait at most this long for a lock held elsewhere (default: until interrupted on a "
      "terminal, 10m otherwise)");
  command.add_flag("--nonblock,-n", settings.nonblock, "Fail at once if a lock is held elsewhere")
      ->excludes(wait);
  command.add_flag("--shared,-s", settings.shared,
                   "Take shared locks (many shared holders, or one exclusive)");
}

void add_run_options(CLI::App& command, Settings& settings) {
  add_ttl(command, settings);
  cli::add_duration_option(command, "--renew-every", settings.renew_every,
                           "How often the leases are renewed while CMD runs (default: ttl/3)");
  add_waiting(command, settings);
  command
      .add_option("--conflict-exit", settings.conflict_exit,
                  "Exit status when a lock is held elsewhere (flock -E; 1 as flock)")
      ->check(cli::whole_number(1, 255))
      ->capture_default_str();
  command
      .add_option("--flock", settings.flock_files,
                  "Take a kernel flock(2) on FILE instead of a lease (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false);
  add_owner(command, settings, "Who holds the leases (default: HOST:PID)");
}

void add_acquire_options(CLI::App& command, Settings& settings) {
  add_ttl(command, settings);
  add_waiting(command, settings);
  add_owner(command, settings, "Who holds the leases (default: HOST:PID of the calling process)");
}

Store open_store(const Settings& settings, cli::StateFile file) {
  return cli::open_state<Store>(settings.state, "lock", file, cli::Backends::sqlite_or_postgresql);
}

// The names given, checked and put in canonical order. Error(2) before any state is opened.
std::vector<std::string> checked_names(const std::vector<std::string>& names) {
  for (const auto& name : names) validate_name(name);
  return canonical_names(names);
}

Duration checked_ttl(Duration ttl) {
  if (ttl <= Duration::zero()) throw Error(exit_code::usage, "--ttl must be longer than 0");
  return ttl;
}

// --nonblock is a wait of zero; without --wait, a terminal waits until interrupted and
// anything else (cron) for default_unattended_wait.
Duration chosen_wait(const CLI::App& command, const Settings& settings) {
  if (settings.nonblock) return Duration::zero();
  if (command.count("--wait") > 0) return settings.wait;
  return ::isatty(STDIN_FILENO) ? wait_forever : default_unattended_wait;
}

Mode chosen_mode(const Settings& settings) {
  return settings.shared ? Mode::shared : Mode::exclusive;
}

void refuse_local(const Settings& settings, std::string_view subcommand) {
  if (settings.local) {
    throw Error(exit_code::usage,
                fmt::format("--local: only 'lock run' takes kernel locks ('{}' works on leases)",
                            subcommand));
  }
}

RunOptions run_options(const CLI::App& command, const Settings& settings) {
  RunOptions options;
  options.names = checked_names(settings.names);
  options.mode = chosen_mode(settings);
  options.owner = settings.owner.empty() ? default_owner(::getpid()) : settings.owner;
  options.ttl = checked_ttl(settings.ttl);
  options.renew_every = command.count("--renew-every") > 0 ? settings.renew_every : options.ttl / 3;
  if (options.renew_every <= Duration::zero() || options.renew_every >= options.ttl) {
    throw Error(exit_code::usage,
                fmt::format("--renew-every ({}) must be longer than 0 and shorter than --ttl ({})",
                            format_duration(options.renew_every), format_duration(options.ttl)));
  }
  options.wait = chosen_wait(command, settings);
  options.conflict_exit = settings.conflict_exit;
  options.command = settings.command;
  if (options.command.empty()) {
    throw Error(exit_code::usage, "no command given: lock run NAME... [OPTIONS] -- CMD [ARG...]");
  }
  bool local = settings.local || !settings.flock_files.empty();
  if (options.names.empty() && settings.flock_files.empty()) {
    throw Error(exit_code::usage, "no lock named: lock run NAME... -- CMD (or --flock FILE)");
  }
  if (!local) check_environment_names(options.names);
  return options;
}

int run_command(const CLI::App& command, const Settings& settings) {
  RunOptions options = run_options(command, settings);
  if (settings.local || !settings.flock_files.empty()) {
    std::vector<std::string> files = settings.flock_files;
    if (!options.names.empty()) {
      std::string directory = cli::default_state_directory(cli::StateFile::create) + "/lock.d";
      if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
        throw Error(exit_code::cannot_create,
                    fmt::format("cannot create '{}': {}", directory, std::strerror(errno)));
      }
      for (const auto& name : options.names) files.push_back(local_lock_file(directory, name));
    }
    return run_local(files, options);
  }
  Store store = open_store(settings, cli::StateFile::create);
  return run_leased(store, store.clock(cli::make_clock(settings.state)), options);
}

// Runs a subcommand's work with stdout (flushed after, so that a write error surfaces).
template <typename Work>
int with_output(Work&& work) {
  return with_stdout([&](OutputStream& out) { return work(out); });
}

std::string single_name(const Settings& settings) {
  if (settings.names.size() != 1) {
    throw Error(exit_code::usage,
                fmt::format("expected one lock name, got {}", settings.names.size()));
  }
  validate_name(settings.names.front());
  return settings.names.front();
}

std::string breaker(const Settings& settings) {
  if (!settings.owner.empty()) return settings.owner;
  const char* user = std::getenv("USER");
  std::string who = user != nullptr && *user != '\0' ? user : std::to_string(::getuid());
  return who + "@" + default_owner(::getppid());
}

void add_names(CLI::App& command, Settings& settings, const std::string& help, bool required) {
  CLI::Option* names = command.add_option("names", settings.names, help);
  if (required) names->required();
}

std::vector<cli::Subcommand> subcommands(CLI::App& app, const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  auto subcommand = [&app](const char* name) { return app.get_subcommand(name); };
  return {
      {"run", "Run CMD while holding every named lock: run NAME... [OPTIONS] -- CMD [ARG...]",
       [&s](CLI::App& command) { add_run_options(command, s); },
       [settings, subcommand] { return run_command(*subcommand("run"), *settings); }},
      {"acquire", "Take leases and print their tokens",
       [&s](CLI::App& command) {
         add_names(command, s, "The locks to take", true);
         add_acquire_options(command, s);
       },
       [settings, subcommand] {
         const Settings& given = *settings;
         refuse_local(given, "acquire");
         AcquireOptions options;
         options.names = checked_names(given.names);
         options.mode = chosen_mode(given);
         options.owner = given.owner.empty() ? default_owner(::getppid()) : given.owner;
         options.ttl = checked_ttl(given.ttl);
         options.wait = chosen_wait(*subcommand("acquire"), given);
         return with_output([&](OutputStream& out) {
           Store store = open_store(given, cli::StateFile::create);
           return acquire(store, store.clock(cli::make_clock(given.state)), options, out);
         });
       }},
      {"renew", "Extend a lease held with TOKEN",
       [&s](CLI::App& command) {
         add_names(command, s, "The lock", true);
         add_token(command, s, "The token acquire printed");
         add_ttl(command, s);
       },
       [settings] {
         const Settings& given = *settings;
         refuse_local(given, "renew");
         std::string name = single_name(given);
         std::int64_t token = parse_token("--token", given.token);
         Duration ttl = checked_ttl(given.ttl);
         return with_output([&](OutputStream& out) {
           Store store = open_store(given, cli::StateFile::create);
           return renew(store, store.clock(cli::make_clock(given.state)), name, token, ttl, out);
         });
       }},
      {"release", "Give a lease back",
       [&s](CLI::App& command) {
         add_names(command, s, "The lock", true);
         add_token(command, s, "The token acquire printed");
       },
       [settings] {
         const Settings& given = *settings;
         refuse_local(given, "release");
         std::string name = single_name(given);
         std::int64_t token = parse_token("--token", given.token);
         return with_output([&](OutputStream& out) {
           Store store = open_store(given, cli::StateFile::create);
           return release(store, store.clock(cli::make_clock(given.state)), name, token, out);
         });
       }},
      {"status", "Print the holders of one lock or of every lock",
       [&s](CLI::App& command) { cli::add_format_option(command, s.format); },
       [settings] {
         const Settings& given = *settings;
         refuse_local(given, "status");
         if (given.names.size() > 1) single_name(given);
         if (!given.names.empty()) validate_name(given.names.front());
         std::string name = given.names.empty() ? std::string() : given.names.front();
         return with_output([&](OutputStream& out) {
           Store store = open_store(given, cli::StateFile::must_exist);
           return status(store, store.clock(cli::make_clock(given.state)), name, given.format, out);
         });
       }},
      {"break", "Remove every lease of a lock (recorded with who and when)",
       [&s](CLI::App& command) {
         add_names(command, s, "The lock", true);
         command.add_flag("--force", s.force, "Required: break the lock even if it is held");
         add_owner(command, s, "Who breaks it (default: USER@HOST:PID)");
       },
       [settings] {
         const Settings& given = *settings;
         refuse_local(given, "break");
         std::string name = single_name(given);
         if (!given.force) {
           throw Error(exit_code::usage, "break: give --force to break a lock others may hold");
         }
         return with_output([&](OutputStream& out) {
           Store store = open_store(given, cli::StateFile::create);
           return break_lock(store, store.clock(cli::make_clock(given.state)), name, breaker(given),
                             out);
         });
       }},
      {"fence", "Accept TOKEN if no newer token of the lock was seen (the resource's check)",
       [&s](CLI::App& command) {
         add_names(command, s, "The lock", true);
         add_token(command, s, "The token of the write to check");
       },
       [settings] {
         const Settings& given = *settings;
         refuse_local(given, "fence");
         std::string name = single_name(given);
         std::int64_t token = parse_token("--token", given.token);
         return with_output([&](OutputStream& out) {
           Store store = open_store(given, cli::StateFile::create);
           return fence(store, name, token, out);
         });
       }},
      {"waits", "Print who waits for whom, and any cycle (deadlock)",
       [&s](CLI::App& command) { cli::add_format_option(command, s.format); },
       [settings] {
         const Settings& given = *settings;
         refuse_local(given, "waits");
         return with_output([&](OutputStream& out) {
           Store store = open_store(given, cli::StateFile::must_exist);
           return waits(store, store.clock(cli::make_clock(given.state)), given.format, out);
         });
       }},
  };
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  cli::add_state_options(app, settings->state);
  app.add_flag("--local", settings->local,
               "Kernel flock(2) locks on this host instead of leases (lock run only)");
  app.fallthrough();
  std::vector<cli::Subcommand> table = subcommands(app, settings);
  cli::Action action = cli::add_subcommands(app, std::move(table));
  cli::add_command_operand(*app.get_subcommand("run"), settings->names, settings->command);
  // status takes an optional name; the others declared theirs in their definitions.
  app.get_subcommand("status")->add_option("names", settings->names, "The lock (default: all)");
  return action;
}

}  // namespace sluice::lock
