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
  std::string max_output = "16MiB";
  std::vector<std::string> command;
  std::string fingerprint;
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
  command.add_option("--max-output", settings.max_output, "Largest output or response stored")
      ->type_name("SIZE");
}

CLI::App* add_run(CLI::App& app, Settings& settings) {
  auto* run = app.add_subcommand("run", "Run CMD once per key; replay the saved result after");
  add_key(*run, settings);
  add_ttl(*run, settings);
  add_lease(*run, settings);
  // A flag with an optional "=DURATION", like GNU --color[=WHEN]: a separate word after
  // --wait is never taken as its value, so "--wait -- CMD" keeps its "--".
  run->add_flag("--wait{forever}", settings.wait,
                "Wait for a running attempt (--wait=DURATION: at most that long), then replay")
      ->type_name("[=DURATION]");
  cli::add_choice_option(*run, "--stale", settings.stale, stale_policy_names,
                         "When a lease expired: steal (run again) or fail");
  run->add_option("--release-on-exit", settings.release_on_exit,
                  "Exit statuses that store nothing and release the key (e.g. 75,69)")
      ->type_name("CODES");
  run->add_option("--env", settings.environment_names,
                  "Include this environment variable in the request fingerprint (repeatable)")
      ->type_name("NAME[,NAME...]")
      ->delimiter(',')
      ->allow_extra_args(false);
  run->add_flag("--stdin", settings.use_stdin,
                "Read stdin, include it in the fingerprint and feed it to CMD");
  run->add_option("--status-file", settings.status_file,
                  "Write what happened as one JSON object to FILE")
      ->type_name("FILE");
  add_max_output(*run, settings);
  cli::add_command_operand(*run, settings.command)->required();
  return run;
}

void add_admin_commands(CLI::App& app, Settings& settings) {
  auto* begin = app.add_subcommand("begin", "Claim a key for work done elsewhere");
  add_key(*begin, settings);
  begin->add_option("--fingerprint", settings.fingerprint, "The request's fingerprint (hex)")
      ->required();
  add_lease(*begin, settings);
  add_ttl(*begin, settings);

  auto* finish = app.add_subcommand("finish", "Store the result of a begun key");
  add_key(*finish, settings);
  finish->add_option("--token", settings.token, "The token begin printed")->required();
  finish->add_option("--status", settings.status, "The outcome's exit status")
      ->required()
      ->check(CLI::Range(0, 255));
  finish
      ->add_option("--response-file", settings.response_file, "The response to store (- is stdin)")
      ->type_name("FILE");
  add_max_output(*finish, settings);

  auto* release = app.add_subcommand("release", "Forget a key so that the next run executes");
  add_key(*release, settings);
  release->add_option("--token", settings.token, "Release only if this token holds the key");

  auto* show = app.add_subcommand("show", "Print one key's record");
  add_key(*show, settings);
  cli::add_format_option(*show, settings.format);

  auto* list = app.add_subcommand("list", "Print every key's record");
  list->add_option("--state", settings.state_filter, "Only keys in this state")
      ->check(CLI::IsMember({"in_progress", "completed", "expired"}));
  cli::add_format_option(*list, settings.format);

  auto* gc = app.add_subcommand("gc", "Delete expired keys");
  gc->add_option("--batch", settings.gc_batch, "Rows deleted per transaction")
      ->check(CLI::Range(1, 1000000));

  auto* stats = app.add_subcommand("stats", "Count keys by state");
  cli::add_format_option(*stats, settings.format);
}

void add_filter(CLI::App& app, Settings& settings) {
  auto* filter =
      app.add_subcommand("filter", "Pass each JSONL record whose key is new; drop duplicates");
  filter->add_option("--key-field", settings.key_field, "The field holding the record's key")
      ->required();
  filter
      ->add_option("--fingerprint-fields", settings.fingerprint_fields,
                   "Fields whose canonical JSON is the fingerprint (default: the whole record)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->type_name("A,B,...");
  filter->add_option("--duplicates", settings.duplicates_file, "Append dropped duplicates to FILE")
      ->type_name("FILE");
  filter->add_flag("--skip-invalid", settings.input.skip_invalid,
                   "Report bad lines and conflicts, go on, and exit 1 at the end");
  cli::add_input_options(*filter, settings.input, cli::WithSkipInvalid::no);
  filter->add_option("--batch", settings.filter_batch, "Records per commit")
      ->check(CLI::Range(1, 1000000));
  add_ttl(*filter, settings);
  cli::add_progress_option(*filter, settings.progress);
  filter->add_option("files", settings.inputs, "Input files (none or - is stdin)");
}

Store open_store(const Settings& settings, cli::StateFile file) {
  bool must_exist = file == cli::StateFile::must_exist;
  db::OpenOptions options;
  options.must_exist = must_exist;
  options.synchronous = db::Synchronous::full;
  options.busy_timeout = settings.state.busy_timeout;
  options.serialize_writers = true;
  // filter inserts keys in random order; a 64 MiB cache (allocated only as used) keeps the
  // key index in memory instead of re-reading pages for every batch.
  options.cache_kib = 64 * 1024;
  return Store(cli::state_path(settings.state, "idemkey", !must_exist), options);
}

// Names given to --env (environment variable names) or --fingerprint-fields (non-empty).
std::vector<std::string> checked_names(std::string_view option,
                                       const std::vector<std::string>& names, bool environment) {
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
  options.environment_names = checked_names("--env", settings.environment_names, true);
  options.use_stdin = settings.use_stdin;
  options.status_file = settings.status_file;
  options.max_output = cli::size_option("--max-output", settings.max_output);
  options.command = settings.command;
  return options;
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
      checked_names("--fingerprint-fields", settings.fingerprint_fields, false);
  options.duplicates_file = settings.duplicates_file;
  options.input = settings.input;
  options.batch = static_cast<std::size_t>(settings.filter_batch);
  options.ttl = settings.ttl;
  options.inputs = settings.inputs;
  options.progress = settings.progress;
  FilterCounts counts = filter(store, cli::make_clock(settings.state), options, out);
  if (!settings.quiet) {
    note(fmt::format("{} passed, {} duplicates dropped, {} invalid", counts.passed,
                     counts.duplicates, counts.invalid));
  }
  return counts.invalid > 0 ? exit_code::definite_no : exit_code::success;
}

int dispatch(CLI::App& app, Settings& settings) {
  validate_key("scope", settings.scope);
  for (const char* keyed : {"run", "begin", "finish", "release", "show"}) {
    if (app.got_subcommand(keyed)) validate_key("key", settings.key);
  }
  // list and stats cover every scope unless --scope names one.
  const std::string chosen_scope = app.count("--scope") > 0 ? settings.scope : std::string();
  Clock clock = cli::make_clock(settings.state);
  OutputStream out(STDOUT_FILENO);
  int status = exit_code::success;
  if (auto* run = app.get_subcommand("run"); run->parsed()) {
    Store store = open_store(settings, cli::StateFile::create);
    return idemkey::run(store, clock, run_options(*run, settings));
  }
  if (app.got_subcommand("filter")) {
    status = run_filter(settings, out);
  } else if (app.got_subcommand("begin")) {
    Store store = open_store(settings, cli::StateFile::create);
    BeginOptions options{settings.scope, settings.key, validated_fingerprint(settings.fingerprint),
                         lease_option(settings), settings.ttl};
    status = begin(store, clock, options, out);
  } else if (app.got_subcommand("finish")) {
    Store store = open_store(settings, cli::StateFile::must_exist);
    FinishOptions options{
        settings.scope,         settings.key,
        settings.token,         settings.status,
        settings.response_file, cli::size_option("--max-output", settings.max_output)};
    status = finish(store, clock, options);
  } else if (app.got_subcommand("release")) {
    Store store = open_store(settings, cli::StateFile::must_exist);
    auto token = settings.token.empty() ? std::nullopt : std::optional<std::string>(settings.token);
    status = release(store, settings.scope, settings.key, token, out);
  } else {
    Store store = open_store(settings, cli::StateFile::must_exist);
    if (app.got_subcommand("show")) {
      status = show(store, clock, settings.scope, settings.key, settings.format, out);
    } else if (app.got_subcommand("list")) {
      status = list(store, clock, chosen_scope, settings.state_filter, settings.format, out);
    } else if (app.got_subcommand("gc")) {
      status = collect_garbage(store, clock, settings.gc_batch, out);
    } else {
      status = stats(store, clock, chosen_scope, settings.format, out);
    }
  }
  out.flush();
  return status;
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  cli::add_state_options(app, settings->state);
  app.add_option("--scope", settings->scope, "Namespace for keys (independent sets)");
  app.add_flag("--quiet,-q", settings->quiet, "Print no notes (errors still print)");
  app.require_subcommand(1);
  app.fallthrough();
  add_run(app, *settings);
  add_admin_commands(app, *settings);
  add_filter(app, *settings);
  return [&app, settings] { return dispatch(app, *settings); };
}

}  // namespace sluice::idemkey
