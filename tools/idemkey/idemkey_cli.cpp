#include "idemkey_cli.hpp"

#include <unistd.h>

#include <cctype>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "idemkey.hpp"
#include "sluice/error.hpp"

namespace sluice::idemkey {
namespace {

constexpr NameTable<StalePolicy, 2> stale_policy_names({{{"steal", StalePolicy::steal},
                                                         {"fail", StalePolicy::fail}}});

// Everything the command line can set; the subcommands read the parts they use.
struct Settings {
  cli::StateOptions state;
  std::string scope = "default";
  std::string key;
  Duration ttl = default_ttl;
  Duration lease = default_lease;
  std::string wait;
  StalePolicy stale = StalePolicy::steal;
  std::string release_on_exit;
  std::vector<std::string> environment_names;
  bool use_stdin = false;
  std::string status_file;
  std::uint64_t max_output = default_max_output;
  std::vector<std::string> command;
  std::string fingerprint;
  std::optional<std::string> request_text;  // run --fingerprint
  int conflict_exit = exit_code::temporary;
  std::string token;
  int status = 0;
  std::string response_file;
  std::string state_filter;
  int gc_batch = 1000;
  int filter_batch = 65536;
  Format format = Format::jsonl;
  std::string key_field;
  std::vector<std::string> fingerprint_fields;
  std::string duplicates_file;
  InputOptions input;
  bool quiet = false;
  ProgressMode progress = ProgressMode::automatic;
  std::vector<std::string> inputs;
};

CLI::Option* add_key(CLI::App& command, Settings& settings) {
  return command.add_option("--key,-k", settings.key, "The idempotency key")->required();
}

void add_ttl(CLI::App& command, Settings& settings) {
  cli::add_duration_option(command, "--ttl", settings.ttl, "How long a completed result is kept");
}

void add_lease(CLI::App& command, Settings& settings) {
  cli::add_duration_option(command, "--lease", settings.lease,
                           "How long a claim lasts without renewal");
}

void add_max_output(CLI::App& command, Settings& settings) {
  cli::add_size_option(command, "--max-output", settings.max_output,
                       "Largest output or response stored");
}

void add_run_options(CLI::App& command, Settings& settings) {
  add_key(command, settings);
  add_ttl(command, settings);
  add_lease(command, settings);
  // A flag with an optional "=DURATION", like GNU --color[=WHEN]: a separate word after
  // --wait is never taken as its value, so "--wait -- CMD" keeps its "--".
  command
      .add_flag("--wait{forever}", settings.wait,
                "Wait for a running attempt (--wait=DURATION: at most that long), then replay")
      ->type_name("[=DURATION]");
  cli::add_choice_option(command, "--stale", settings.stale, stale_policy_names,
                         "When a lease expired: steal (run again) or fail");
  command
      .add_option("--release-on-exit", settings.release_on_exit,
                  "Exit statuses that store nothing and release the key (e.g. 75,69)")
      ->type_name("CODES");
  CLI::Option* environment =
      command
          .add_option("--env", settings.environment_names,
                      "Include this environment variable in the request fingerprint (repeatable)")
          ->type_name("NAME[,NAME...]")
          ->delimiter(',')
          ->allow_extra_args(false);
  command
      .add_option("--fingerprint", settings.request_text,
                  "The request is TEXT, not the command line (which may then change)")
      ->type_name("TEXT")
      ->excludes(environment);
  command
      .add_option("--conflict-exit", settings.conflict_exit,
                  "Exit status when another run holds the key (flock -E)")
      ->check(cli::whole_number(1, 255))
      ->capture_default_str();
  command.add_flag("--stdin", settings.use_stdin,
                   "Read stdin, include it in the fingerprint and feed it to CMD");
  command
      .add_option("--status-file", settings.status_file,
                  "Write what happened as one JSON object to FILE")
      ->type_name("FILE");
  add_max_output(command, settings);
  cli::add_command_operand(command, settings.command)->required();
}

void add_begin_options(CLI::App& begin, Settings& settings) {
  add_key(begin, settings);
  begin.add_option("--fingerprint", settings.fingerprint, "The request's fingerprint (hex)")
      ->required();
  add_lease(begin, settings);
  add_ttl(begin, settings);
}

void add_finish_options(CLI::App& finish, Settings& settings) {
  add_key(finish, settings);
  finish.add_option("--token", settings.token, "The token begin printed")->required();
  finish.add_option("--status", settings.status, "The outcome's exit status")
      ->required()
      ->check(CLI::Range(0, 255));
  finish
      .add_option("--response-file", settings.response_file, "The response to store (- is stdin)")
      ->type_name("FILE");
  add_max_output(finish, settings);
}

void add_list_options(CLI::App& list, Settings& settings) {
  const std::vector<std::string> states = {"in_progress", "completed", "expired"};
  cli::complete_with(list.add_option("--state", settings.state_filter,
                                     "Only keys in this state: in_progress, completed or expired")
                         ->check(CLI::IsMember(states)),
                     states);
  cli::add_format_option(list, settings.format);
}

void add_filter_options(CLI::App& command, Settings& settings) {
  command.add_option("--key-field", settings.key_field, "The field holding the record's key")
      ->required();
  command
      .add_option("--fingerprint-fields", settings.fingerprint_fields,
                  "Fields whose canonical JSON is the fingerprint (default: the whole record)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->type_name("A,B,...");
  command.add_option("--duplicates", settings.duplicates_file, "Append dropped duplicates to FILE")
      ->type_name("FILE");
  command.add_flag("--skip-invalid", settings.input.skip_invalid,
                   "Report bad lines and conflicts, go on, and exit 1 at the end");
  cli::add_input_options(command, settings.input, cli::WithSkipInvalid::no);
  command.add_option("--batch", settings.filter_batch, "Records per commit")
      ->check(CLI::Range(1, 1000000));
  add_ttl(command, settings);
  cli::add_progress_option(command, settings.progress);
  command.add_option("files", settings.inputs, "Input files (none or - is stdin)");
}

Store open_store(const Settings& settings, cli::StateFile file) {
  return cli::open_state<Store>(settings.state, "idemkey", file,
                                cli::Backends::sqlite_or_postgresql);
}

// Names given to --env (environment variable names) or --fingerprint-fields (non-empty).
enum class NameKind { environment_variable, field };

std::vector<std::string> checked_names(std::string_view option,
                                       const std::vector<std::string>& names, NameKind kind) {
  bool environment = kind == NameKind::environment_variable;
  for (const auto& name : names) {
    bool valid = !name.empty();
    if (environment) {
      valid = valid && !(name[0] >= '0' && name[0] <= '9');
      for (char c : name)
        valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    }
    if (!valid) {
      throw Error(exit_code::usage, fmt::format("{}: '{}' is not a valid {} name", option, name,
                                                environment ? "environment variable" : "field"));
    }
  }
  return names;
}

Duration lease_option(const Settings& settings) {
  Duration lease = settings.lease;
  // The holder renews every lease/3; below a second, scheduling delays could let a live
  // holder's lease lapse and the key be taken over while the command still runs.
  if (lease < std::chrono::seconds(1)) {
    throw Error(exit_code::usage, "--lease must be at least 1s");
  }
  return lease;
}

std::optional<Duration> wait_option(const CLI::App& run, const Settings& settings) {
  if (run.count("--wait") == 0) return std::nullopt;
  if (settings.wait == "forever") return Duration::max();
  return cli::duration_option("--wait", settings.wait);
}

RunOptions run_options(const CLI::App& run, const Settings& settings) {
  RunOptions options;
  options.scope = settings.scope;
  options.key = settings.key;
  options.ttl = settings.ttl;
  options.lease = lease_option(settings);
  options.wait = wait_option(run, settings);
  options.stale = settings.stale;
  options.release_on_exit = cli::exit_code_set("--release-on-exit", settings.release_on_exit);
  options.environment_names =
      checked_names("--env", settings.environment_names, NameKind::environment_variable);
  options.given_fingerprint = settings.request_text;
  options.conflict_exit = settings.conflict_exit;
  options.use_stdin = settings.use_stdin;
  options.status_file = settings.status_file;
  options.max_output = settings.max_output;
  options.command = settings.command;
  return options;
}

std::string run_lock_path(Store& store) {
  return cli::tree_lock_path(store.database(), "idemkey", "run.lock");
}

std::string validated_fingerprint(const std::string& text) {
  bool valid = !text.empty() && text.size() <= 128;
  std::string lower;
  for (char c : text) {
    char folded = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    valid = valid && ((folded >= '0' && folded <= '9') || (folded >= 'a' && folded <= 'f'));
    lower += folded;
  }
  if (!valid) {
    throw Error(exit_code::usage,
                fmt::format("--fingerprint: '{}' is not 1 to 128 hexadecimal digits", text));
  }
  return lower;
}

int run_filter(Settings& settings, OutputStream& out) {
  Store store = open_store(settings, cli::StateFile::create);
  FilterOptions options;
  options.scope = settings.scope;
  options.key_field = settings.key_field;
  options.fingerprint_fields =
      checked_names("--fingerprint-fields", settings.fingerprint_fields, NameKind::field);
  options.duplicates_file = settings.duplicates_file;
  options.input = settings.input;
  options.batch = static_cast<std::size_t>(settings.filter_batch);
  options.ttl = settings.ttl;
  options.inputs = settings.inputs;
  options.progress = settings.progress;
  FilterCounts counts = filter(store, store.clock(cli::make_clock(settings.state)), options, out);
  if (!settings.quiet) {
    note(fmt::format("{} passed, {} duplicates dropped, {} invalid", counts.passed,
                     counts.duplicates, counts.invalid));
  }
  return counts.invalid > 0 ? exit_code::definite_no : exit_code::success;
}

// Whether a subcommand names one key with --key (checked before any state is opened).
enum class Keyed { yes, no };

// Runs a subcommand's work with the clock and stdout (flushed after, so that a write error
// surfaces), after checking --scope and, for a keyed subcommand, --key.
template <typename Work>
int with_output(const Settings& settings, Keyed keyed, Work&& work) {
  validate_key("scope", settings.scope);
  if (keyed == Keyed::yes) validate_key("key", settings.key);
  Clock clock = cli::make_clock(settings.state);
  return with_stdout([&](OutputStream& out) { return work(clock, out); });
}

// list and stats cover every scope unless --scope names one.
std::string chosen_scope(const CLI::App& app, const Settings& settings) {
  return app.count("--scope") > 0 ? settings.scope : std::string();
}

std::vector<cli::Subcommand> subcommands(CLI::App& app, const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  auto existing = [settings] { return open_store(*settings, cli::StateFile::must_exist); };
  return {
      {"run", "Run CMD once per key; replay the saved result after",
       [&s](CLI::App& command) { add_run_options(command, s); },
       [settings, &app] {
         return with_output(*settings, Keyed::yes, [&](const Clock& clock, OutputStream&) {
           Store store = open_store(*settings, cli::StateFile::create);
           RunOptions options = run_options(*app.get_subcommand("run"), *settings);
           options.run_lock_path = run_lock_path(store);
           return idemkey::run(store, store.clock(clock), options);
         });
       }},
      {"begin", "Claim a key for work done elsewhere",
       [&s](CLI::App& command) { add_begin_options(command, s); },
       [settings] {
         const Settings& given = *settings;
         return with_output(given, Keyed::yes, [&](const Clock& clock, OutputStream& out) {
           Store store = open_store(given, cli::StateFile::create);
           BeginOptions options{given.scope, given.key, validated_fingerprint(given.fingerprint),
                                lease_option(given), given.ttl};
           return begin(store, store.clock(clock), options, out);
         });
       }},
      {"finish", "Store the result of a begun key",
       [&s](CLI::App& command) { add_finish_options(command, s); },
       [settings, existing] {
         const Settings& given = *settings;
         return with_output(given, Keyed::yes, [&](const Clock& clock, OutputStream&) {
           Store store = existing();
           FinishOptions options{given.scope,  given.key,           given.token,
                                 given.status, given.response_file, given.max_output};
           return finish(store, store.clock(clock), options);
         });
       }},
      {"release", "Forget a key so that the next run executes",
       [&s](CLI::App& command) {
         add_key(command, s);
         command.add_option("--token", s.token, "Release only if this token holds the key");
       },
       [settings, existing] {
         const Settings& given = *settings;
         return with_output(given, Keyed::yes, [&](const Clock&, OutputStream& out) {
           Store store = existing();
           auto token = given.token.empty() ? std::nullopt : std::optional(given.token);
           return release(store, given.scope, given.key, token, out);
         });
       }},
      {"show", "Print one key's record",
       [&s](CLI::App& command) {
         add_key(command, s);
         cli::add_format_option(command, s.format);
       },
       [settings, existing] {
         const Settings& given = *settings;
         return with_output(given, Keyed::yes, [&](const Clock& clock, OutputStream& out) {
           Store store = existing();
           return show(store, store.clock(clock), given.scope, given.key, given.format, out);
         });
       }},
      {"list", "Print every key's record",
       [&s](CLI::App& command) { add_list_options(command, s); },
       [settings, existing, &app] {
         const Settings& given = *settings;
         return with_output(given, Keyed::no, [&](const Clock& clock, OutputStream& out) {
           Store store = existing();
           return list(store, store.clock(clock), chosen_scope(app, given), given.state_filter,
                       given.format, out);
         });
       }},
      {"gc", "Delete expired keys",
       [&s](CLI::App& command) {
         command.add_option("--batch", s.gc_batch, "Rows deleted per transaction")
             ->check(CLI::Range(1, 1000000));
       },
       [settings, existing] {
         return with_output(*settings, Keyed::no, [&](const Clock& clock, OutputStream& out) {
           Store store = existing();
           return collect_garbage(store, store.clock(clock), settings->gc_batch, out);
         });
       }},
      {"stats", "Count keys by state",
       [&s](CLI::App& command) { cli::add_format_option(command, s.format); },
       [settings, existing, &app] {
         const Settings& given = *settings;
         return with_output(given, Keyed::no, [&](const Clock& clock, OutputStream& out) {
           Store store = existing();
           return stats(store, store.clock(clock), chosen_scope(app, given), given.format, out);
         });
       }},
      {"filter", "Pass each JSONL record whose key is new; drop duplicates",
       [&s](CLI::App& command) { add_filter_options(command, s); },
       [settings] {
         return with_output(*settings, Keyed::no, [&](const Clock&, OutputStream& out) {
           return run_filter(*settings, out);
         });
       }},
  };
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  cli::add_state_options(app, settings->state);
  app.add_option("--scope", settings->scope, "Namespace for keys (independent sets)");
  app.add_flag("--quiet,-q", settings->quiet, "Print no notes (errors still print)");
  app.fallthrough();
  return cli::add_subcommands(app, subcommands(app, settings));
}

}  // namespace sluice::idemkey
