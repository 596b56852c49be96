#include "audit_cli.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "audit.hpp"
#include "sluice/error.hpp"
#include "sluice/keys.hpp"

namespace sluice::audit {
namespace {

constexpr long long max_seq = INT64_MAX;

// Everything the command line can set; the subcommands read the parts they use. An option
// whose absence means something keeps its CLI::Option, to ask whether it was given.
struct Settings {
  cli::StateOptions state;
  bool quiet = false;
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::int64_t batch = 0;
  InputOptions input;
  std::vector<std::string> inputs;
  std::int64_t after = 0;
  std::optional<std::int64_t> limit;
  std::string since;
  std::string until;
  std::string cursor;
  Duration poll = std::chrono::milliseconds(500);
  std::optional<std::int64_t> seq;
  std::optional<std::int64_t> from;
  std::optional<std::int64_t> size;
  std::string root;
  std::string old_root;
  std::string proof_file = "-";
  std::vector<std::string> archives;
  std::string before;
  std::string out;
  Format format = Format::jsonl;
};

// A hash given on the command line: 64 hexadecimal digits, else a usage error naming it.
std::optional<std::string> hash_option(std::string_view option, const std::string& text) {
  if (text.empty()) return std::nullopt;
  try {
    hash_from_hex(text, option);
  } catch (const Error& error) {
    throw Error(exit_code::usage, error.what());
  }
  return text;
}

// Actors, actions and cursor names follow the toolkit's key rule (sluice/keys.hpp).
std::optional<std::string> name_option(std::string_view what,
                                       const std::optional<std::string>& text) {
  if (text) validate_key(what, *text);
  return text;
}

template <typename Target>
CLI::Option* add_seq_option(CLI::App& command, const std::string& name, Target& target,
                            const std::string& help, long long minimum = 0) {
  return command.add_option(name, target, help)
      ->check(cli::whole_number(minimum, max_seq))
      ->type_name("SEQ");
}

void add_append_options(CLI::App& command, Settings& s) {
  auto* actor = command.add_option("--actor", s.actor, "Who acted (each line is the payload)");
  auto* action =
      command.add_option("--action", s.action, "What was done (each line is the payload)");
  actor->needs(action);
  action->needs(actor);
  command
      .add_option("--batch", s.batch,
                  "Entries per transaction (0: the whole input is one transaction)")
      ->check(cli::whole_number(0, 100000000))
      ->capture_default_str();
  cli::add_input_options(command, s.input, cli::WithSkipInvalid::no);
  command.add_option("files", s.inputs, "Input files (none or - is stdin)");
}

void add_filter_options(CLI::App& command, Settings& s) {
  add_seq_option(command, "--after", s.after, "Only entries after this seq");
  command.add_option("--limit", s.limit, "At most this many entries")
      ->check(cli::whole_number(0, max_seq))
      ->type_name("N");
  command.add_option("--actor", s.actor, "Only entries of this actor");
  command.add_option("--action", s.action, "Only entries of this action");
  command.add_option("--since", s.since, "Only entries at or after TIME")->type_name("TIME");
  command.add_option("--until", s.until, "Only entries before TIME")->type_name("TIME");
}

void add_follow_options(CLI::App& command, Settings& s) {
  command.add_option("--cursor", s.cursor, "Resume after this named cursor and advance it")
      ->type_name("NAME");
  add_seq_option(command, "--after", s.after, "Start after this seq (without a stored cursor)");
  command.add_option("--limit", s.limit, "Stop after this many entries")
      ->check(cli::whole_number(1, max_seq))
      ->type_name("N");
  cli::add_duration_option(command, "--poll", s.poll, "How often to look for new entries");
}

void add_prove_options(CLI::App& command, Settings& s) {
  auto* seq = add_seq_option(command, "--seq", s.seq, "Prove that entry SEQ is in the log", 1);
  auto* from = add_seq_option(command, "--from", s.from,
                              "Prove that the log of this size is a prefix of the log", 1);
  seq->excludes(from);
  add_seq_option(command, "--size", s.size,
                 "The size of the tree to prove against (default: the log's)", 1);
}

ReadFilter read_filter(const Settings& s) {
  ReadFilter filter;
  filter.after = s.after;
  filter.limit = s.limit;
  filter.actor = name_option("--actor", s.actor);
  filter.action = name_option("--action", s.action);
  if (!s.since.empty()) filter.since = cli::instant_option("--since", s.since);
  if (!s.until.empty()) filter.until = cli::instant_option("--until", s.until);
  return filter;
}

Store open_store(const Settings& settings, cli::StateFile file) {
  return cli::open_state<Store>(settings.state, "audit", file, cli::Backends::sqlite_or_postgresql);
}

// Runs a subcommand's work on the opened state with stdout (flushed after, so that a write
// error surfaces) and the clock (the server's on PostgreSQL unless --now).
template <typename Work>
cli::Action with_store(const std::shared_ptr<Settings>& settings, cli::StateFile file, Work work) {
  return [settings, file, work] {
    Clock requested = cli::make_clock(settings->state);
    return with_stdout([&](OutputStream& out) {
      Store store = open_store(*settings, file);
      Clock clock = store.clock(requested);
      return work(store, clock, out);
    });
  };
}

int run_append(const Settings& s, Store& store, const Clock& clock) {
  AppendOptions options;
  options.actor = name_option("--actor", s.actor);
  options.action = name_option("--action", s.action);
  options.batch = s.batch;
  options.input = s.input;
  options.inputs = s.inputs;
  AppendResult result = append(store, clock, options);
  if (!s.quiet) {
    if (result.first == 0) {
      note("appended nothing (empty input)");
    } else {
      note(fmt::format("appended {} entries ({} to {})", result.last - result.first + 1,
                       result.first, result.last));
    }
  }
  return exit_code::success;
}

int run_follow(const Settings& s, Store& store, const Clock& clock, OutputStream& out) {
  FollowOptions options;
  if (!s.cursor.empty()) options.cursor = name_option("--cursor", s.cursor);
  options.after = s.after;
  options.limit = s.limit;
  options.poll = s.poll;
  return follow(store, clock, options, out);
}

int run_prove(const Settings& s, Store& store, OutputStream& out) {
  if (!s.seq && !s.from) throw Error(exit_code::usage, "prove needs --seq SEQ or --from SIZE");
  ProveOptions options{s.seq, s.from, s.size};
  return prove(store, options, out);
}

int list_cursors(Store& store, Format format, OutputStream& out) {
  RecordPrinter printer(out, format);
  for (const Cursor& cursor : store.cursors()) {
    printer.print(
        JsonValue::object({{"name", JsonValue::string(cursor.name)},
                           {"after", JsonValue::integer(cursor.after)},
                           {"updated_at", JsonValue::string(format_instant(cursor.updated_at))}}));
  }
  printer.finish();
  return exit_code::success;
}

cli::Subcommand cursor_group(const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  auto cursor_name = [settings] {
    validate_key("cursor", settings->cursor);
    return settings->cursor;
  };
  auto add_name = [&s](CLI::App& command) {
    command.add_option("name", s.cursor, "The cursor's name")->required();
  };
  return cli::subcommand_group(
      "cursor", "Followers' named cursors",
      {{"list", "Print every cursor",
        [&s](CLI::App& command) { cli::add_format_option(command, s.format); },
        with_store(settings, cli::StateFile::must_exist,
                   [settings](Store& store, const Clock&, OutputStream& out) {
                     return list_cursors(store, settings->format, out);
                   })},
       {"set", "Place a cursor after SEQ",
        [&s, add_name](CLI::App& command) {
          add_name(command);
          add_seq_option(command, "--after", s.after, "The last seq the reader has seen")
              ->required();
        },
        with_store(settings, cli::StateFile::create,
                   [settings, cursor_name](Store& store, const Clock& clock, OutputStream&) {
                     store.set_cursor(cursor_name(), settings->after, clock.now());
                     return exit_code::success;
                   })},
       {"delete", "Forget a cursor", add_name,
        with_store(settings, cli::StateFile::must_exist,
                   [cursor_name](Store& store, const Clock&, OutputStream&) {
                     std::string name = cursor_name();
                     if (!store.delete_cursor(name)) {
                       throw Error(exit_code::no_input, fmt::format("no cursor '{}'", name));
                     }
                     return exit_code::success;
                   })}});
}

std::vector<cli::Subcommand> subcommands(const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  using cli::StateFile;
  return {
      {"append", "Append JSON objects (one per line) as entries",
       [&s](CLI::App& command) { add_append_options(command, s); },
       with_store(settings, StateFile::create,
                  [settings](Store& store, const Clock& clock, OutputStream&) {
                    return run_append(*settings, store, clock);
                  })},
      {"read", "Print entries, optionally filtered",
       [&s](CLI::App& command) { add_filter_options(command, s); },
       [settings] {
         ReadFilter filter = read_filter(*settings);
         return with_store(settings, StateFile::must_exist,
                           [filter](Store& store, const Clock&, OutputStream& out) {
                             read(store, filter, out);
                             return exit_code::success;
                           })();
       }},
      {"follow", "Print entries as they are appended, resuming at a cursor",
       [&s](CLI::App& command) { add_follow_options(command, s); },
       with_store(settings, StateFile::create,
                  [settings](Store& store, const Clock& clock, OutputStream& out) {
                    return run_follow(*settings, store, clock, out);
                  })},
      cursor_group(settings),
      {"verify", "Recompute the chain and the Merkle tree; name the first bad entry",
       [&s](CLI::App& command) {
         auto* size =
             add_seq_option(command, "--size", s.size, "The size of a head kept elsewhere");
         command.add_option("--root", s.root, "The root of that head (hex)")
             ->type_name("HEX")
             ->needs(size);
         command
             .add_option("--archive", s.archives,
                         "Also check this segment written by archive (repeatable)")
             ->type_name("FILE")
             ->allow_extra_args(false);
       },
       with_store(settings, StateFile::must_exist,
                  [settings](Store& store, const Clock&, OutputStream& out) {
                    VerifyOptions options;
                    options.root = hash_option("--root", settings->root);
                    options.size = settings->size;
                    options.archives = settings->archives;
                    return verify(store, options, out);
                  })},
      {"archive", "Move entries older than TIME into a gzip JSONL segment",
       [&s](CLI::App& command) {
         command.add_option("--before", s.before, "Archive the entries before TIME")
             ->type_name("TIME")
             ->required();
         command.add_option("--out", s.out, "The segment file to write (must not exist)")
             ->type_name("FILE")
             ->required();
       },
       [settings] {
         ArchiveOptions options;
         options.before = cli::instant_option("--before", settings->before);
         options.out = settings->out;
         options.quiet = settings->quiet;
         return with_store(settings, StateFile::must_exist,
                           [options](Store& store, const Clock& clock, OutputStream&) {
                             return archive(store, clock, options);
                           })();
       }},
      {"head", "Print the tree head: size and Merkle root", [](CLI::App&) {},
       with_store(settings, StateFile::must_exist,
                  [](Store& store, const Clock&, OutputStream& out) { return head(store, out); })},
      {"prove", "Print an inclusion (--seq) or consistency (--from) proof",
       [&s](CLI::App& command) { add_prove_options(command, s); },
       with_store(settings, StateFile::must_exist,
                  [settings](Store& store, const Clock&, OutputStream& out) {
                    return run_prove(*settings, store, out);
                  })},
      {"check-proof", "Verify a proof offline (JSON from stdin or FILE)",
       [&s](CLI::App& command) {
         command.add_option("--root", s.root, "The root the proof must end at (hex)")
             ->type_name("HEX");
         command.add_option("--old-root", s.old_root, "A consistency proof's old root (hex)")
             ->type_name("HEX");
         command.add_option("file", s.proof_file, "The proof (default: stdin)");
       },
       [settings] {
         CheckOptions options;
         options.input = settings->proof_file;
         options.root = hash_option("--root", settings->root);
         options.old_root = hash_option("--old-root", settings->old_root);
         return with_stdout([&](OutputStream& out) { return check_proof(options, out); });
       }},
  };
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  cli::add_state_options(app, settings->state);
  app.add_flag("--quiet,-q", settings->quiet, "Print no notes (errors still print)");
  app.fallthrough();
  return cli::add_subcommands(app, subcommands(settings));
}

}  // namespace sluice::audit
