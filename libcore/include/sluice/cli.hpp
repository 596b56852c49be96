// cli: what every tool's command line shares. run_main is the one main wrapper: it owns
// CLI11 setup, maps parse errors to exit 2 (never CLI11's own codes), catches sluice::Error
// (printing `TOOL: error: ...` and returning its code) and any other exception (70, a bug),
// and checks that stdout was written successfully.
//
// This header only declares CLI11's classes: CLI11 is header-only and each translation unit
// that includes <CLI/CLI.hpp> compiles its validators and App's virtual members again (about
// 8 s), so only the files that declare options (each tool's *_cli.cpp) include it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/clock.hpp"
#include "sluice/db.hpp"
#include "sluice/format.hpp"
#include "sluice/jsonl.hpp"
#include "sluice/names.hpp"
#include "sluice/progress.hpp"
#include "sluice/timeutil.hpp"

namespace CLI {
class App;
class Option;
class Validator;
}  // namespace CLI

namespace sluice::cli {

// What a tool's define function returns: the work to do once the command line is parsed.
using Action = std::function<int()>;
using Define = std::function<Action(CLI::App&)>;

// Builds the app, calls `define` to declare options, parses argv and runs the action.
// Returns the process exit status. With a default_subcommand, a command line whose first word
// is neither a subcommand nor --help/--help-all/--version is read as if that subcommand came
// first (`backoff -- CMD` is `backoff run -- CMD`). `TOOL --completion bash|zsh|fish` prints
// the shell completion script made from the definitions (see completion.hpp) and exits 0.
int run_main(int argc, char** argv, std::string_view tool, std::string_view description,
             const Define& define, std::string_view default_subcommand = {});

// "idemkey 0.1.0 (git abc1234)".
std::string version_text(std::string_view tool);

// Options every stateful tool shares (docs/ARCHITECTURE.md, "Command line").
struct StateOptions {
  std::string db_path;                              // --db; empty means the default state file
  Duration busy_timeout = std::chrono::seconds(5);  // --busy-timeout
  std::string now;                                  // --now; empty means the system clock
};

// Whether a command offers --now: not one whose only time is the monotonic clock, or that
// never looks at the clock.
enum class WithNow { yes, no };

// Adds --db, --busy-timeout and (with WithNow::yes) --now to `app`.
void add_state_options(CLI::App& app, StateOptions& options, WithNow with_now = WithNow::yes);

// Whether a command may create its state file: one that only reads state refuses a missing
// file (exit 66) rather than create an empty one.
enum class StateFile { create, must_exist };

// $SLUICE_STATE_DIR/<tool>.db, where SLUICE_STATE_DIR defaults to
// ${XDG_STATE_HOME:-$HOME/.local/state}/sluice. With StateFile::create, the directory is
// created (mode 0700) when missing; failure throws Error(73).
std::string default_state_path(std::string_view tool, StateFile file);
// The directory of default_state_path, made the same way: for files a tool keeps on this host
// beside state it keeps on a server.
std::string default_state_directory(StateFile file);
// The file of a tool's TreeLocks (tree_lock.hpp) for its state: beside an SQLite state file
// (STATE.SUFFIX); for state on a server, in this host's state directory, one file per server,
// TOOL-HASH.SUFFIX with HASH = stable_hash({"server", URL}) in 16 hex digits, so that two
// servers' locks never share a file.
std::string tree_lock_path(const db::Database& database, std::string_view tool,
                           std::string_view suffix);

// Where a tool's state may live: SQLite files only (cohort and zscore keep per-shard files that
// merge; reindex works in the application's own file), or also a PostgreSQL server.
enum class Backends { sqlite_only, sqlite_or_postgresql };

// The --db location (a file, or with Backends::sqlite_or_postgresql a postgresql:// URL);
// without --db, $SLUICE_STATE_URL for a tool that may use a server, else the default file. A
// URL for a tool that keeps files, a password in a --db URL (argv is visible to every user of
// the host: ~/.pgpass is the place), or a SLUICE_STATE_URL that is no postgresql:// URL is
// Error(2).
std::string state_path(const StateOptions& options, std::string_view tool, StateFile file,
                       Backends backends = Backends::sqlite_only);

// What a command opens as its state: where (state_path) and the open options every tool
// shares (must_exist from `file`, --busy-timeout). The tool's store adds its own (synchronous
// level, serialised writers, cache size) before opening it.
//
// A fully static tool cannot load libpq: given a server, it re-executes here, with the same
// arguments and environment, its dynamically linked twin (libexec/sluice/TOOL beside bin/), so
// a tool must call this before it reads input or starts anything. A missing twin is Error(69).
struct StateTarget {
  std::string location;
  db::OpenOptions options;
};
StateTarget state_target(const StateOptions& options, std::string_view tool, StateFile file,
                         Backends backends = Backends::sqlite_only);

// Opens a tool's state as its Store, constructed from (location, open options) of the
// state_target: every tool finds, creates and refuses state files the same way.
template <typename Store>
Store open_state(const StateOptions& options, std::string_view tool, StateFile file,
                 Backends backends = Backends::sqlite_only) {
  StateTarget target = state_target(options, tool, file, backends);
  return Store(target.location, target.options);
}

// The clock --now asks for. Throws Error(2) naming --now on bad text.
Clock make_clock(const StateOptions& options);

// Parses a duration option's value, naming the option in the error (exit 2).
Duration duration_option(std::string_view option, std::string_view text);

// Adds a DURATION option whose value is parsed into `target` as the command line is parsed
// (a bad value is Error(2) naming the option, before any work starts); `target`'s value
// beforehand is the default, written once where the settings are declared, and --help shows
// it as format_duration writes it.
CLI::Option* add_duration_option(CLI::App& app, const std::string& name, Duration& target,
                                 const std::string& help);

// Parses an RFC 3339 or @EPOCH option's value, naming the option in the error (exit 2).
Instant instant_option(std::string_view option, std::string_view text);

// Parses a YYYY-MM-DD option's value, naming the option in the error (exit 2).
std::chrono::year_month_day date_option(std::string_view option, std::string_view text);

// A duration option that must be a whole number of `unit` (named `unit_name` in the error,
// e.g. "milliseconds", "days"): the count of units. Error(2) naming the option otherwise.
std::int64_t duration_in_units(std::string_view option, std::string_view text, Duration unit,
                               std::string_view unit_name);

// One subcommand of a tool, a row of its table: `define` declares its options (bound to the
// tool's settings), `run` does its work once the command line is parsed.
struct Subcommand {
  std::string name;
  std::string help;
  std::function<void(CLI::App&)> define;
  Action run;
};

// Adds each row of `table` as a subcommand of `app`, exactly one of which must be given, and
// returns the Action that runs the row chosen.
Action add_subcommands(CLI::App& app, std::vector<Subcommand> table);

// The same for a command that does its own work when no row is named (`price quote` quotes,
// `price quote show` shows one): at most one row may be given, and `otherwise` runs without.
Action add_subcommands(CLI::App& app, std::vector<Subcommand> table, Action otherwise);

// A row whose subcommands are a table of their own (`price rates load`, `price rates show`).
Subcommand subcommand_group(std::string name, std::string help, std::vector<Subcommand> table);

// Declares `subcommand`'s options only when the command line selects it and gives it options
// (or asks for --help-all): a tool with several subcommands then pays at start-up only for
// the options it uses, and `TOOL SUBCOMMAND -- CMD` for none, which matters for wrappers run
// thousands of times (CLI11 option setup is costly). Declare positionals outside `define`.
void define_when_used(CLI::App& subcommand, std::function<void(CLI::App&)> define);

// Adds the operand of a wrapper (`TOOL ... -- CMD [ARG...]`): every word after "--" kept
// exactly as given. (CLI11 would otherwise split a word like "[a,b]" as a list.)
CLI::Option* add_command_operand(CLI::App& app, std::vector<std::string>& command);

// The operands of a wrapper that takes operands of its own before the command (`lock run NAME
// [NAME...] -- CMD [ARG...]`): `leading` gets the operands before "--", `command` every word
// after it, kept exactly as given. Here "--" is required to end the wrapper's operands (no
// "--" leaves `command` empty, for the tool to refuse), and options may come between the
// operands (`lock run a --ttl 1m b -- CMD`).
CLI::Option* add_command_operand(CLI::App& app, std::vector<std::string>& leading,
                                 std::vector<std::string>& command);

// A set of exit statuses written like "1,75,100-120". Throws Error(2) naming the option.
std::set<int> exit_code_set(std::string_view option, std::string_view text);

// A byte count: "1048576", "64KiB", "16MiB", "1GiB" (also kB/MB/GB, powers of 1000).
std::uint64_t size_option(std::string_view option, std::string_view text);

// The byte counts a SIZE option accepts.
struct SizeRange {
  std::uint64_t minimum = 0;
  std::uint64_t maximum = UINT64_MAX;
};

// Adds a SIZE option parsed (size_option) into `target` as the command line is parsed; a
// value outside `range` is Error(2) naming the option. `target`'s value beforehand is the
// default, and --help shows it in the largest binary unit that divides it ("16MiB").
CLI::Option* add_size_option(CLI::App& app, const std::string& name, std::uint64_t& target,
                             const std::string& help, SizeRange range = {});

// A check for an integer option: its text must be decimal digits (a leading '-' only when
// `minimum` is negative) whose value lies in [minimum, maximum]. CLI11's own conversion
// accepts octal and hex, and turns a number past the type's range into its largest value, or
// "-3" into a huge unsigned one; this check runs on the text before that conversion.
CLI::Validator whole_number(long long minimum, long long maximum);
// The same for unsigned 64-bit values in [0, maximum] (seeds): "-1" and numbers past maximum
// are refused instead of wrapped or clamped.
CLI::Validator unsigned_whole_number(std::uint64_t maximum);

// Whether a command that reads JSON Lines offers the shared --skip-invalid (one that must not
// skip lines, or declares its own, says no).
enum class WithSkipInvalid { yes, no };

// --skip-invalid (with WithSkipInvalid::yes) and --max-line-bytes SIZE, the options of every
// command that reads JSON Lines.
void add_input_options(CLI::App& app, InputOptions& options,
                       WithSkipInvalid with_skip_invalid = WithSkipInvalid::yes);

// The words shell completion offers as `option`'s value, instead of file names: for an option
// whose value is one of a few words that the tool checks itself (add_word_option registers
// its own). completion_words is nullptr for an option without any.
CLI::Option* complete_with(CLI::Option* option, std::vector<std::string> words);
const std::vector<std::string>* completion_words(const CLI::Option* option);

// An option whose value is one of `words` (CLI11's "not in {...}" error, exit 2 otherwise):
// `store` receives the word given, and --help shows `default_word`. add_choice_option is the
// typed form; use this one directly only for a word that is not an enum's.
CLI::Option* add_word_option(CLI::App& app, const std::string& name, std::vector<std::string> words,
                             std::string default_word,
                             std::function<void(const std::string&)> store,
                             const std::string& help);

// An option whose value is a word of `table`, stored in `target` as the matching enum value;
// `target`'s value beforehand is the default.
template <typename Enum, std::size_t Count>
CLI::Option* add_choice_option(CLI::App& app, const std::string& name, Enum& target,
                               const NameTable<Enum, Count>& table, const std::string& help) {
  return add_word_option(
      app, name, table.words(), std::string(table.name(target)),
      [&target, table](const std::string& word) { target = *table.find(word); }, help);
}

// --format jsonl|table|csv.
void add_format_option(CLI::App& app, Format& format);

// --progress auto|always|never.
void add_progress_option(CLI::App& app, ProgressMode& mode);

}  // namespace sluice::cli
