#include "sluice/cli.hpp"

#include "sluice/completion.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <type_traits>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include "sluice/error.hpp"
#include "sluice/install_dirs.hpp"
#include "sluice/keys.hpp"
#include "sluice/pg.hpp"
#include "sluice/proc.hpp"
#include "sluice/signals.hpp"
#include "sluice/version.hpp"

namespace sluice::cli {

std::string version_text(std::string_view tool) {
  return fmt::format("{} {} (sluice, git {})", tool, version::number, version::revision);
}

namespace {

void define_postponed(const CLI::App* subcommand);

int report_parse_error(const CLI::App& app, const CLI::ParseError& error,
                       std::string_view default_subcommand) {
  if (error.get_exit_code() == 0) {
    // --help or --version: CLI11 prints them to stdout.
    app.exit(error, std::cout, std::cerr);
    // `TOOL --help` of a tool whose command lines may leave the subcommand out: the default
    // subcommand's options too, which such a command line takes.
    bool top_level_help =
        dynamic_cast<const CLI::CallForHelp*>(&error) != nullptr && app.get_subcommands().empty();
    if (top_level_help && !default_subcommand.empty()) {
      const CLI::App* subcommand = app.get_subcommand(std::string(default_subcommand));
      define_postponed(subcommand);
      std::cout << "\nWithout a subcommand, " << default_subcommand << " runs:\n"
                << subcommand->help(app.get_name());
    }
    return exit_code::success;
  }
  print_diagnostic(Severity::error, {}, error.what());
  note(fmt::format("run '{} --help' for usage", program_name()));
  return exit_code::usage;
}

int report_error(const Error& error) {
  if (std::string_view(error.what()).empty()) return error.code();
  print_diagnostic(Severity::error, error.location(), error.what());
  return error.code();
}

// The definitions define_when_used postponed, run for every subcommand by --help-all.
struct PostponedDefinition {
  const CLI::App* subcommand;
  std::function<void()> define;
};
std::vector<PostponedDefinition>& postponed_definitions() {
  static std::vector<PostponedDefinition> definitions;
  return definitions;
}

void define_postponed(const CLI::App* subcommand) {
  for (auto& definition : postponed_definitions()) {
    if (subcommand == nullptr || definition.subcommand == subcommand) definition.define();
  }
}

// True when the command line is `TOOL SUBCOMMAND -- ...`: the subcommand is given no options,
// so defining them would be wasted start-up time (`backoff -- CMD` is the common case).
bool subcommand_without_options = false;

// Decides, before parsing `words`, which postponed definitions are needed.
void plan_postponed_definitions(const std::vector<char*>& words) {
  subcommand_without_options = words.size() > 2 && std::string_view(words[2]) == "--";
  for (std::size_t index = 1; index < words.size(); ++index) {
    std::string_view word = words[index];
    if (word == "--") return;
    if (word == "--help-all") {
      define_postponed(nullptr);
      return;
    }
  }
}

// The wrapper operand add_command_operand declared, if any, and its subcommand. CLI11 reads a
// positional word such as "[a,b]" as a list and drops "[]"; run_main puts the words after "--"
// back verbatim.
std::vector<std::string>* command_operand = nullptr;
const CLI::App* wrapper_command = nullptr;
// With add_command_operand's leading form: where the wrapper's own operands go, and those
// delimit_wrapped_command took out of the words before its "--" (CLI11 never sees them).
std::vector<std::string>* leading_operand = nullptr;
std::vector<std::string> leading_words;

// The option `word` names in `app` or, for a subcommand, in the apps above it (whose options
// it also accepts); nullptr when none does.
const CLI::Option* find_option(const CLI::App& app, std::string_view word) {
  std::string name(word.substr(0, word.find('=')));
  for (const CLI::App* level = &app; level != nullptr; level = level->get_parent()) {
    if (const CLI::Option* option = level->get_option_no_throw(name)) return option;
  }
  return nullptr;
}

// Whether the option word `word` takes the next word as its value ("--ttl 1h", "-k KEY"; not
// "--ttl=1h", "-kKEY", a flag, or an unknown option, which CLI11 reports).
bool takes_next_word(const CLI::App& app, std::string_view word) {
  bool attached = word.starts_with("--") ? word.find('=') != word.npos : word.size() > 2;
  if (attached) return false;
  const CLI::Option* option = find_option(app, word);
  return option != nullptr && option->get_items_expected_max() > 0;  // 0: a flag
}

// Inserts "--" before the first operand of the wrapper subcommand, so that the wrapped
// command's own words reach it untouched: `backoff --attempts 2 ./upload --timeout 1s` runs
// `./upload --timeout 1s`, as timeout(1) and flock(1) do. Options of the wrapper come before
// its command; a "--" already there is kept as it is.
void delimit_wrapped_command(std::vector<char*>& words, const CLI::App& app) {
  if (wrapper_command == nullptr) return;
  static char separator[] = "--";
  const CLI::App* level = &app;
  for (std::size_t index = 1; index < words.size(); ++index) {
    std::string_view word = words[index];
    if (word == "--") return;
    if (word.size() > 1 && word[0] == '-') {
      if (takes_next_word(*level, word)) ++index;
      continue;
    }
    if (level == wrapper_command && leading_operand != nullptr) {
      // Its own operand ("--" ends them): kept aside, so that CLI11's one positional (the
      // command) sees only the words after "--".
      leading_words.emplace_back(word);
      words.erase(words.begin() + static_cast<std::ptrdiff_t>(index));
      --index;
      continue;
    }
    if (level == wrapper_command) {
      words.insert(words.begin() + static_cast<std::ptrdiff_t>(index), separator);
      return;
    }
    if (level != &app) return;  // an operand of another subcommand
    level = nullptr;
    for (const CLI::App* subcommand : app.get_subcommands({})) {
      if (word == subcommand->get_name()) level = subcommand;
    }
    if (level == nullptr) return;
    // Its options are needed to tell their values from the command (define_when_used); with
    // leading operands, options may follow them.
    if (level == wrapper_command && index + 1 < words.size() &&
        (words[index + 1][0] == '-' || leading_operand != nullptr))
      define_postponed(level);
  }
}

void restore_command_words(int argc, char** argv) {
  if (command_operand == nullptr) return;
  if (leading_operand != nullptr) {
    if (!wrapper_command->parsed()) return;  // another subcommand may share the variables
    *leading_operand = leading_words;
    command_operand->clear();
  }
  for (int index = 1; index < argc; ++index) {
    if (std::string_view(argv[index]) == "--") {
      command_operand->assign(argv + index + 1, argv + argc);
      return;
    }
  }
}

// Shows a flag with an optional value (declared "--wait{forever}") as "--wait[=DURATION]"
// rather than CLI11's "--wait{forever} [=DURATION]": the braces are declaration syntax. A
// required option shows no default: always_capture_default() records every option's initial
// value, and "--months INT=0 REQUIRED" would read as if 0 were a value it could be left at.
class Formatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* option, bool is_positional) const override {
    std::string name = CLI::Formatter::make_option_name(option, is_positional);
    for (auto open = name.find('{'); open != std::string::npos; open = name.find('{')) {
      auto close = name.find('}', open);
      if (close == std::string::npos) break;
      name.erase(open, close - open + 1);
    }
    return name;
  }
  std::string make_option_opts(const CLI::Option* option) const override {
    std::string options = CLI::Formatter::make_option_opts(option);
    // The type name of such a flag starts with "[=": glue it to the name.
    if (options.rfind(" [=", 0) == 0) options.erase(0, 1);
    if (option->get_required() && !option->get_default_str().empty()) {
      // CLI11 writes " TYPE=DEFAULT" first: the first "=DEFAULT" is the default.
      std::string shown_default = "=" + option->get_default_str();
      auto at = options.find(shown_default);
      if (at != std::string::npos) options.erase(at, shown_default.size());
    }
    return options;
  }
};

int finish_stdout(int status) {
  std::cout.flush();
  if (!std::cout.good() && status == exit_code::success) {
    print_diagnostic(Severity::error, {}, "cannot write to stdout");
    return exit_code::io;
  }
  return status;
}

// argv with `subcommand` inserted after the program name when the first word is not already
// a subcommand or a top-level flag.
std::vector<char*> with_default_subcommand(int argc, char** argv, const CLI::App& app,
                                           std::string_view subcommand) {
  std::vector<char*> words(argv, argv + argc);
  if (subcommand.empty()) return words;
  if (argc > 1) {
    std::string_view first = argv[1];
    for (std::string_view flag : {"--help", "-h", "--help-all", "--version"}) {
      if (first == flag) return words;
    }
    for (const CLI::App* command : app.get_subcommands({})) {
      if (first == command->get_name()) return words;
    }
  }
  words.insert(words.begin() + 1, const_cast<char*>(subcommand.data()));
  return words;
}

// The edit distance between two words (insertions, deletions, substitutions).
std::size_t edit_distance(std::string_view from, std::string_view to) {
  std::vector<std::size_t> row(to.size() + 1);
  for (std::size_t j = 0; j <= to.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= from.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= to.size(); ++j) {
      std::size_t above = row[j];
      row[j] =
          std::min({row[j] + 1, row[j - 1] + 1, diagonal + (from[i - 1] == to[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[to.size()];
}

// `idemkey runn`: a first word that is not an option must name a subcommand when the tool has
// no default one (CLI11 would only say that a subcommand is required).
void check_subcommand_word(const std::vector<char*>& words, const CLI::App& app) {
  std::vector<const CLI::App*> subcommands = app.get_subcommands({});
  if (words.size() < 2 || subcommands.empty()) return;
  std::string_view first = words[1];
  if (first.empty() || first.front() == '-') return;
  std::vector<std::string> names;
  const std::string* closest = nullptr;
  std::size_t best = 3;  // suggest only a name at most two edits away
  for (const CLI::App* subcommand : subcommands) {
    if (subcommand->get_name() == first) return;
    names.push_back(subcommand->get_name());
    std::size_t distance = edit_distance(first, subcommand->get_name());
    if (distance < best) {
      best = distance;
      closest = &subcommand->get_name();
    }
  }
  throw Error(exit_code::usage,
              fmt::format("'{}' is not a subcommand{} (subcommands: {})", first,
                          closest ? fmt::format("; did you mean '{}'?", *closest) : "",
                          fmt::join(names, ", ")));
}

// The program's own arguments, for re-executing its twin.
char** program_arguments = nullptr;

}  // namespace

int run_main(int argc, char** argv, std::string_view tool, std::string_view description,
             const Define& define, std::string_view default_subcommand) {
  program_arguments = argv;
  set_program_name(tool);
  install_termination_handlers();
  CLI::App app{std::string(description), std::string(tool)};
  app.set_version_flag("--version", version_text(tool));
  app.set_help_all_flag("--help-all", "Print help for every subcommand and exit");
  app.option_defaults()->always_capture_default();
  app.formatter(std::make_shared<Formatter>());
  Action action;
  try {
    action = define(app);
    if (argc == 3 && std::string_view(argv[1]) == "--completion") {
      define_postponed(nullptr);
      std::cout << completion_script(app, argv[2], default_subcommand);
      return finish_stdout(exit_code::success);
    }
    std::vector<char*> words = with_default_subcommand(argc, argv, app, default_subcommand);
    if (default_subcommand.empty()) check_subcommand_word(words, app);
    delimit_wrapped_command(words, app);
    plan_postponed_definitions(words);
    app.parse(static_cast<int>(words.size()), words.data());
    restore_command_words(static_cast<int>(words.size()), words.data());
  } catch (const CLI::ParseError& error) {
    return report_parse_error(app, error, default_subcommand);
  } catch (const Error& error) {
    return report_error(error);
  }
  try {
    return finish_stdout(action ? action() : exit_code::success);
  } catch (const Error& error) {
    return finish_stdout(report_error(error));
  } catch (const std::bad_alloc&) {
    print_diagnostic(Severity::error, {}, "out of memory");
    return exit_code::internal;
  } catch (const std::exception& error) {
    print_diagnostic(
        Severity::error, {},
        fmt::format("internal error: {} (this is a bug; please report it)", error.what()));
    return exit_code::internal;
  }
}

void add_state_options(CLI::App& app, StateOptions& options, WithNow with_now) {
  app.add_option("--db", options.db_path, "State file (default: $SLUICE_STATE_DIR/<tool>.db)")
      ->type_name("FILE");
  add_duration_option(app, "--busy-timeout", options.busy_timeout,
                      "How long to wait for a busy state file before exit 75");
  if (with_now == WithNow::no) return;
  app.add_option("--now", options.now, "Use this time as now (RFC 3339 or @EPOCH)")
      ->type_name("TIME");
}

std::string default_state_path(std::string_view tool, StateFile file) {
  return fmt::format("{}/{}.db", default_state_directory(file), tool);
}

std::string tree_lock_path(const db::Database& database, std::string_view tool,
                           std::string_view suffix) {
  if (database.backend() == db::Backend::sqlite)
    return database.side_file(fmt::format(".{}", suffix));
  return fmt::format("{}/{}-{:016x}.{}", default_state_directory(StateFile::create), tool,
                     stable_hash({"server", database.path()}), suffix);
}

std::string default_state_directory(StateFile file) {
  std::string directory;
  if (const char* explicit_dir = std::getenv("SLUICE_STATE_DIR"); explicit_dir && *explicit_dir) {
    directory = explicit_dir;
  } else if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) {
    directory = fmt::format("{}/sluice", xdg);
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    directory = fmt::format("{}/.local/state/sluice", home);
  } else {
    throw Error(exit_code::cannot_create,
                "no state directory: set SLUICE_STATE_DIR or HOME, or pass --db");
  }
  if (file == StateFile::create) {
    // mkdir -p, component by component.
    for (std::size_t slash = directory.find('/', 1); slash != std::string::npos;
         slash = directory.find('/', slash + 1)) {
      std::string prefix = directory.substr(0, slash);
      if (!prefix.empty() && ::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
        throw Error(exit_code::cannot_create, fmt::format("cannot create state directory '{}': {}",
                                                          prefix, std::strerror(errno)));
      }
    }
    if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
      throw Error(exit_code::cannot_create, fmt::format("cannot create state directory '{}': {}",
                                                        directory, std::strerror(errno)));
    }
  }
  // Whoever may write the directory may replace the state file in it (unless the sticky bit
  // keeps each user to their own files, as in /tmp).
  struct stat info {};
  if (::stat(directory.c_str(), &info) == 0 && (info.st_mode & 022) != 0 &&
      (info.st_mode & S_ISVTX) == 0) {
    warn(fmt::format("state directory '{}' may be written by others (mode {:04o}): chmod 700 it",
                     directory, info.st_mode & 07777));
  }
  return directory;
}

std::string state_path(const StateOptions& options, std::string_view tool, StateFile file,
                       Backends backends) {
  const bool server_allowed = backends == Backends::sqlite_or_postgresql;
  if (options.db_path.empty()) {
    const char* url = std::getenv("SLUICE_STATE_URL");
    if (!server_allowed || url == nullptr || *url == 0) return default_state_path(tool, file);
    if (!pg::is_url(url)) {
      throw Error(exit_code::usage,
                  fmt::format("SLUICE_STATE_URL: '{}' is not a postgresql:// URL", url));
    }
    return url;
  }
  if (pg::is_url(options.db_path)) {
    if (!server_allowed) {
      throw Error(exit_code::usage,
                  fmt::format("--db: {} keeps its state in SQLite files, not on a server", tool));
    }
    pg::check_no_password(options.db_path, "--db");
  }
  return options.db_path;
}

namespace {

// Replaces this static executable by its dynamically linked twin (which can load libpq), run
// with the same arguments; returns only by throwing.
[[noreturn]] void execute_dynamic_twin(std::string_view tool) {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  std::filesystem::path twin =
      (self.parent_path() / install_dirs::twins_from_binaries / tool).lexically_normal();
  std::string reason = error ? error.message() : "not started through run_main";
  if (!error && program_arguments != nullptr)
    reason = proc::replace_program(twin, program_arguments);
  throw Error(exit_code::unavailable,
              fmt::format("this static build of {} needs {} for a postgresql:// state: {}", tool,
                          twin.string(), reason));
}

}  // namespace

StateTarget state_target(const StateOptions& options, std::string_view tool, StateFile file,
                         Backends backends) {
  StateTarget target{state_path(options, tool, file, backends), {}};
  if (pg::is_url(target.location) && !pg::can_load_libpq()) execute_dynamic_twin(tool);
  target.options.must_exist = file == StateFile::must_exist;
  target.options.busy_timeout = options.busy_timeout;
  return target;
}

namespace {

// A line is held whole (and copied once for parsing): beyond this, memory not data decides.
constexpr std::uint64_t max_line_bytes_limit = std::uint64_t{1} << 30;

}  // namespace

Clock make_clock(const StateOptions& options) {
  if (options.now.empty()) return Clock();
  return Clock(instant_option("--now", options.now));
}

Instant instant_option(std::string_view option, std::string_view text) {
  return with_context(exit_code::usage, option, [&] { return parse_instant(text); });
}

CLI::Option* add_duration_option(CLI::App& app, const std::string& name, Duration& target,
                                 const std::string& help) {
  return app
      .add_option_function<std::string>(
          name, [&target, name](const std::string& text) { target = duration_option(name, text); },
          help)
      ->type_name("DURATION")
      ->default_str(format_duration(target));
}

Duration duration_option(std::string_view option, std::string_view text) {
  return with_context(exit_code::usage, option, [&] { return parse_duration(text); });
}

std::chrono::year_month_day date_option(std::string_view option, std::string_view text) {
  return with_context(exit_code::usage, option, [&] { return parse_date(text); });
}

std::int64_t duration_in_units(std::string_view option, std::string_view text, Duration unit,
                               std::string_view unit_name) {
  Duration duration = duration_option(option, text);
  if (duration.count() % unit.count() != 0) {
    throw Error(exit_code::usage,
                fmt::format("{}: '{}' is not a whole number of {}", option, text, unit_name));
  }
  return duration.count() / unit.count();
}

void define_when_used(CLI::App& subcommand, std::function<void(CLI::App&)> define) {
  auto defined = std::make_shared<bool>(false);
  auto once = [&subcommand, define = std::move(define), defined] {
    if (*defined) return;
    *defined = true;
    define(subcommand);
  };
  subcommand.preparse_callback([once](std::size_t) {
    if (!subcommand_without_options) once();
  });
  postponed_definitions().push_back({&subcommand, once});
}

namespace {

using SubcommandActions = std::vector<std::pair<const CLI::App*, Action>>;

SubcommandActions add_rows(CLI::App& app, std::vector<Subcommand>& table) {
  SubcommandActions actions;
  for (Subcommand& row : table) {
    CLI::App* command = app.add_subcommand(row.name, row.help);
    if (row.define) row.define(*command);
    actions.emplace_back(command, std::move(row.run));
  }
  return actions;
}

}  // namespace

Action add_subcommands(CLI::App& app, std::vector<Subcommand> table) {
  app.require_subcommand(1);
  return [actions = add_rows(app, table)]() -> int {
    for (const auto& [command, run] : actions) {
      if (command->parsed()) return run();
    }
    throw Error(exit_code::internal, "no subcommand was chosen");  // require_subcommand(1)
  };
}

Action add_subcommands(CLI::App& app, std::vector<Subcommand> table, Action otherwise) {
  app.require_subcommand(0, 1);
  return [actions = add_rows(app, table), otherwise = std::move(otherwise)]() -> int {
    for (const auto& [command, run] : actions) {
      if (command->parsed()) return run();
    }
    return otherwise();
  };
}

Subcommand subcommand_group(std::string name, std::string help, std::vector<Subcommand> table) {
  // The group's action exists once its define has added the nested table.
  auto chosen = std::make_shared<Action>();
  return {std::move(name), std::move(help),
          [chosen, table = std::move(table)](CLI::App& group) {
            *chosen = add_subcommands(group, table);
          },
          [chosen] { return (*chosen)(); }};
}

CLI::Option* add_command_operand(CLI::App& app, std::vector<std::string>& command) {
  command_operand = &command;
  wrapper_command = &app;
  leading_operand = nullptr;
  return app.add_option("command", command,
                        "The command to run (its options after it are its own)");
}

CLI::Option* add_command_operand(CLI::App& app, std::vector<std::string>& leading,
                                 std::vector<std::string>& command) {
  command_operand = &command;
  wrapper_command = &app;
  leading_operand = &leading;
  leading_words.clear();
  // run_main takes the operands out of the words before CLI11 parses them
  // (delimit_wrapped_command) and puts them and the command's words back as given
  // (restore_command_words).
  return app.add_option("command", command,
                        "The command to run after -- (its options after it are its own)");
}

std::set<int> exit_code_set(std::string_view option, std::string_view text) {
  std::set<int> codes;
  auto fail = [&] {
    throw Error(exit_code::usage,
                fmt::format("{}: invalid exit status list '{}' (expected e.g. 1,75,100-120 with "
                            "statuses 0-255)",
                            option, text));
  };
  auto number = [&](std::string_view part) {
    int value = -1;
    auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (error != std::errc() || end != part.data() + part.size() || value < 0 || value > 255)
      fail();
    return value;
  };
  if (text.empty()) return codes;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string_view part =
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    std::size_t dash = part.find('-');
    int low = number(dash == part.npos ? part : part.substr(0, dash));
    int high = dash == part.npos ? low : number(part.substr(dash + 1));
    if (high < low) fail();
    for (int code = low; code <= high; ++code) codes.insert(code);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return codes;
}

std::uint64_t size_option(std::string_view option, std::string_view text) {
  static const std::map<std::string_view, std::uint64_t> units{
      {"", 1},      {"B", 1},        {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
      {"kB", 1000}, {"MB", 1000000}, {"GB", 1000000000}};
  std::uint64_t amount = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), amount);
  auto unit = units.find(text.substr(static_cast<std::size_t>(end - text.data())));
  if (error != std::errc() || end == text.data() || unit == units.end() ||
      amount > UINT64_MAX / unit->second) {
    throw Error(exit_code::usage,
                fmt::format("{}: invalid size '{}' (expected bytes or e.g. 64KiB, 16MiB, 1GiB)",
                            option, text));
  }
  return amount * unit->second;
}

namespace {

// "16MiB" for 16 << 20; a count no binary unit divides stays plain bytes.
std::string size_text(std::uint64_t bytes) {
  for (auto [unit, shift] : {std::pair{"GiB", 30}, {"MiB", 20}, {"KiB", 10}}) {
    std::uint64_t size = std::uint64_t{1} << shift;
    if (bytes != 0 && bytes % size == 0) return fmt::format("{}{}", bytes / size, unit);
  }
  return std::to_string(bytes);
}

}  // namespace

CLI::Option* add_size_option(CLI::App& app, const std::string& name, std::uint64_t& target,
                             const std::string& help, SizeRange range) {
  return app
      .add_option_function<std::string>(
          name,
          [&target, name, range](const std::string& text) {
            std::uint64_t bytes = size_option(name, text);
            if (bytes < range.minimum || bytes > range.maximum) {
              throw Error(exit_code::usage,
                          fmt::format("{}: {} is not between {} and {}", name, text,
                                      size_text(range.minimum), size_text(range.maximum)));
            }
            target = bytes;
          },
          help)
      ->type_name("SIZE")
      ->default_str(size_text(target));
}

namespace {

// Whether `text` is decimal digits (a leading '-' only when `minimum` is negative) whose value
// fits in Number and lies in [minimum, maximum].
template <typename Number>
bool is_whole_number(const std::string& text, Number minimum, Number maximum) {
  Number value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  bool negative_allowed = false;
  if constexpr (std::is_signed_v<Number>) negative_allowed = minimum < 0;
  bool digits = !text.empty() && (text[0] != '-' || negative_allowed) &&
                text.find_first_not_of("0123456789", text[0] == '-' ? 1 : 0) == text.npos;
  auto [end, error] = std::from_chars(first, last, value);
  return digits && error == std::errc() && end == last && value >= minimum && value <= maximum;
}

template <typename Number>
CLI::Validator whole_number_validator(Number minimum, Number maximum) {
  auto check = [minimum, maximum](std::string& text) -> std::string {
    if (is_whole_number(text, minimum, maximum)) return {};
    return fmt::format("'{}' is not a whole number from {} to {}", text, minimum, maximum);
  };
  return {check, fmt::format("INT in [{} - {}]", minimum, maximum), "whole number"};
}

}  // namespace

CLI::Validator whole_number(long long minimum, long long maximum) {
  return whole_number_validator(minimum, maximum);
}

CLI::Validator unsigned_whole_number(std::uint64_t maximum) {
  return whole_number_validator(std::uint64_t{0}, maximum);
}

namespace {

std::map<const CLI::Option*, std::vector<std::string>>& completion_registry() {
  static std::map<const CLI::Option*, std::vector<std::string>> words;
  return words;
}

}  // namespace

CLI::Option* complete_with(CLI::Option* option, std::vector<std::string> words) {
  completion_registry()[option] = std::move(words);
  return option;
}

const std::vector<std::string>* completion_words(const CLI::Option* option) {
  auto found = completion_registry().find(option);
  return found == completion_registry().end() ? nullptr : &found->second;
}

CLI::Option* add_word_option(CLI::App& app, const std::string& name, std::vector<std::string> words,
                             std::string default_word,
                             std::function<void(const std::string&)> store,
                             const std::string& help) {
  CLI::Option* option = app.add_option_function<std::string>(name, std::move(store), help)
                            ->check(CLI::IsMember(words))
                            ->default_str(std::move(default_word));
  return complete_with(option, std::move(words));
}

namespace {

constexpr NameTable<Format, 3> format_names(
    {{{"jsonl", Format::jsonl}, {"table", Format::table}, {"csv", Format::csv}}});

constexpr NameTable<ProgressMode, 3> progress_names({{{"auto", ProgressMode::automatic},
                                                      {"always", ProgressMode::always},
                                                      {"never", ProgressMode::never}}});

}  // namespace

void add_format_option(CLI::App& app, Format& format) {
  add_choice_option(app, "--format", format, format_names, "Output format: jsonl, table or csv");
}

void add_input_options(CLI::App& app, InputOptions& options, WithSkipInvalid with_skip_invalid) {
  if (with_skip_invalid == WithSkipInvalid::yes) {
    app.add_flag("--skip-invalid", options.skip_invalid, "Report bad lines, go on, exit 1");
  }
  add_size_option(app, "--max-line-bytes", options.max_line_bytes,
                  "Longest input line accepted, e.g. 1MiB; a longer one is a bad line",
                  {1, max_line_bytes_limit});
}

void add_progress_option(CLI::App& app, ProgressMode& mode) {
  add_choice_option(app, "--progress", mode, progress_names,
                    "Progress meter on stderr: auto (when a terminal), always, never");
}

}  // namespace sluice::cli
