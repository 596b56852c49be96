#include "reindex_cli.hpp"

#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "reindex_commands.hpp"
#include "sluice/error.hpp"
#include "sluice/fdio.hpp"
#include "sluice/json.hpp"

namespace sluice::reindex {

namespace {

struct Settings {
  cli::StateOptions state;  // --db (required here), --busy-timeout, --now
  std::string job;
  Duration lock_timeout = std::chrono::seconds(3);
  StartOptions start;
  std::string dest_ddl_file;
  // Column operations as given (COLUMN=VALUE words), parsed into start.changes.
  std::vector<std::string> types;
  std::vector<std::string> renames;
  std::vector<std::string> defaults;
  bool dry_run = false;
  bool allow_breaking_inserts = false;
  BackfillOptions backfill;
  std::string max_runtime;
  bool force = false;
  bool drop_old = false;
};

void add_common(CLI::App& command, Settings& settings) {
  cli::add_state_options(command, settings.state);
  command.get_option("--db")->description("The application's SQLite file")->required();
  command.add_option("--job", settings.job, "The job's name (default: the table's name)");
}

// sqlite-utils transform's operations: the new table is the old one changed by them.
void add_column_operations(CLI::App& command, Settings& settings) {
  command.add_option("--type", settings.types, "Give a column another type (repeatable)")
      ->type_name("COLUMN=TYPE");
  command.add_option("--rename", settings.renames, "Rename a column (repeatable)")
      ->type_name("OLD=NEW");
  command.add_option("--drop", settings.start.changes.drops, "Leave columns out of the new table")
      ->type_name("COLUMN[,COLUMN...]")
      ->delimiter(',');
  command
      .add_option("--not-null", settings.start.changes.not_null,
                  "Declare columns NOT NULL in the new table")
      ->type_name("COLUMN[,COLUMN...]")
      ->delimiter(',');
  command
      .add_option("--default", settings.defaults,
                  "Give a column a default: a number, or else a string (repeatable)")
      ->type_name("COLUMN=VALUE");
}

void add_start_options(CLI::App& command, Settings& settings) {
  command.add_option("--table", settings.start.table, "The table to rebuild");
  command
      .add_option("--dest-ddl", settings.dest_ddl_file,
                  "SQL creating the new table ({name} stands for its name) and its indexes")
      ->type_name("FILE");
  command.add_flag("--like", settings.start.like,
                   "Create the new table like the old one (same columns and indexes)");
  command
      .add_option("--select", settings.start.select,
                  "Columns of the new table as a SELECT list over the old (default: all)")
      ->type_name("SQL");
  command
      .add_option("--reverse-select", settings.start.reverse_select,
                  "The old table's columns as a SELECT list over the new: keeps the old "
                  "table in step after the switch, for rollback")
      ->type_name("SQL");
  command
      .add_option("--key", settings.start.key, "The stable unique key (default: the primary key)")
      ->type_name("COLUMN[,COLUMN...]")
      ->delimiter(',');
  command.add_option("--dest", settings.start.dest, "Name of the new table (default: TABLE__v2)");
  cli::add_choice_option(
      command, "--alias-mode", settings.start.mode, alias_mode_names,
      "rename: the new table takes the old one's name; view: a view is switched");
  command.add_option("--alias", settings.start.alias, "The view to switch (--alias-mode view)");
  command.add_flag("--allow-fk", settings.start.allow_foreign_keys,
                   "Rebuild a table other tables reference by foreign key");
  add_column_operations(command, settings);
  command.add_flag("--dry-run", settings.dry_run,
                   "Print what would be created, copied and switched, as JSON; change nothing");
}

void add_backfill_options(CLI::App& command, Settings& settings) {
  command
      .add_option("--batch", settings.backfill.batch,
                  "Rows per transaction (with --chunk-time: of the first)")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  cli::add_duration_option(command, "--chunk-time", settings.backfill.chunk_time,
                           "Resize batches so that each transaction takes about this long "
                           "(0: fixed --batch)");
  command
      .add_option("--max-rows-per-sec", settings.backfill.max_rows_per_second,
                  "Throttle the copy (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  command.add_option("--pause-file", settings.backfill.pause_file, "Pause while this file exists")
      ->type_name("FILE");
  command
      .add_option("--max-runtime", settings.max_runtime,
                  "Stop after this long with exit 75 (run again to go on)")
      ->type_name("DURATION");
  cli::add_duration_option(command, "--lock-pause", settings.backfill.lock_pause,
                           "After each 50ms holding the write lock, leave it free this long so "
                           "that waiting writers get in (0: never)");
  command.add_flag("--report", settings.backfill.report,
                   "Print progress as JSON Lines on stdout (once a second and at the end)");
  cli::add_progress_option(command, settings.backfill.progress);
}

void add_lock_timeout(CLI::App& command, Settings& settings) {
  cli::add_duration_option(command, "--lock-timeout", settings.lock_timeout,
                           "How long the switch waits for the write lock before exit 75");
}

void add_switch_options(CLI::App& command, Settings& settings) {
  add_lock_timeout(command, settings);
  command.add_flag("--allow-breaking-inserts", settings.allow_breaking_inserts,
                   "Switch although a NOT NULL column without a default, new to the table, "
                   "would fail the application's INSERTs");
}

Inserts inserts(const Settings& settings) {
  return settings.allow_breaking_inserts ? Inserts::may_break : Inserts::must_fit;
}

void resolve_job_name(Settings& settings, JobStore& store, db::Database& database, bool any) {
  if (settings.job.empty()) settings.job = settings.start.table;
  if (!settings.job.empty()) {
    check_job_name(settings.job);
    return;
  }
  if (any) return;  // status without --job: every job
  db::ReadTransaction read(database);
  std::vector<std::string> active;
  for (const auto& job : store.all()) {
    if (job.phase != Phase::done && job.phase != Phase::aborted) active.push_back(job.name);
  }
  if (active.size() != 1) {
    throw Error(exit_code::usage,
                fmt::format("name the job with --job ({} jobs are in progress in '{}')",
                            active.size(), database.path()));
  }
  settings.job = active.front();
}

void parse_column_operations(Settings& settings) {
  ColumnChanges& changes = settings.start.changes;
  for (const auto& text : settings.types) {
    auto assignment = parse_assignment("--type", text);
    check_type_name("--type", assignment.second);
    changes.types.push_back(std::move(assignment));
  }
  for (const auto& text : settings.renames) {
    changes.renames.push_back(parse_assignment("--rename", text));
  }
  for (const auto& text : settings.defaults) {
    changes.defaults.push_back(parse_assignment("--default", text));
  }
}

// `run` checks the same when it has a job to start (not when it resumes one).
void finish_start_options(Settings& settings, bool starting) {
  parse_column_operations(settings);
  if (starting) check_start_options(settings.start, !settings.dest_ddl_file.empty());
  if (!settings.dest_ddl_file.empty()) {
    InputFile file(settings.dest_ddl_file);
    settings.start.dest_ddl = read_all(file.fd(), file.name(), 16 << 20);
    settings.start.dest_ddl_name = file.name();
  }
}

db::OpenOptions open_options(const Settings& settings, bool bulk) {
  db::OpenOptions options;
  options.must_exist = true;
  options.foreign_file = true;
  // A batch or a switch lost to a power cut is redone from the job's recorded phase.
  options.synchronous = bulk ? db::Synchronous::normal : db::Synchronous::full;
  options.busy_timeout = settings.state.busy_timeout;
  return options;
}

// How a subcommand uses the database: backfill and run copy rows in batches; the others
// change the schema or read.
enum class Load { bulk, schema };

// Whether a subcommand needs one job (named, or the only one in progress) or may cover them
// all (status without --job).
enum class JobChoice { one, any };

// The database, job store and stdout a subcommand works with, opened once its options are
// checked.
class Session {
 public:
  Session(Settings& settings, Load load, JobChoice choice,
          Bookkeeping bookkeeping = Bookkeeping::create)
      : database_(cli::state_path(settings.state, "reindex", cli::StateFile::must_exist),
                  open_options(settings, load == Load::bulk)),
        store_(database_, bookkeeping),
        out_(STDOUT_FILENO) {
    resolve_job_name(settings, store_, database_, choice == JobChoice::any);
    context_.emplace(
        Context{database_, store_, cli::make_clock(settings.state), out_, settings.job});
  }
  Context& context() { return *context_; }
  db::Database& database() { return database_; }

 private:
  db::Database database_;
  JobStore store_;
  OutputStream out_;
  std::optional<Context> context_;
};

// --max-runtime has no default (no limit), so it stays text until a copy needs it.
BackfillOptions backfill_options(const Settings& settings) {
  BackfillOptions options = settings.backfill;
  if (!settings.max_runtime.empty()) {
    options.max_runtime = cli::duration_option("--max-runtime", settings.max_runtime);
  }
  return options;
}

// start --dry-run and run --dry-run: the plan of a new job, and the file left as it was.
int print_plan(Settings& settings) {
  finish_start_options(settings, true);
  Session session(settings, Load::schema, JobChoice::one, Bookkeeping::only_if_present);
  session.context().out.write_line(
      to_json(plan(session.context(), settings.start, settings.backfill.batch)));
  return exit_code::success;
}

// The commands that move a job print it as it now is; those that take the alias's write lock
// wait --lock-timeout for it.
using Move = void (*)(Context&, const Settings&);
int move_job(Settings& settings, Move move, Duration lock_timeout) {
  Session session(settings, Load::schema, JobChoice::one);
  session.database().set_busy_timeout(lock_timeout);
  move(session.context(), settings);
  return status(session.context());
}

// A row of the table: every subcommand also takes --db, --busy-timeout, --now and --job.
cli::Subcommand with_common(Settings& settings, cli::Subcommand row) {
  auto define = std::move(row.define);
  row.define = [&settings, define](CLI::App& command) {
    if (define) define(command);
    add_common(command, settings);
  };
  return row;
}

std::vector<cli::Subcommand> subcommands(const std::shared_ptr<Settings>& shared) {
  Settings& s = *shared;
  std::vector<cli::Subcommand> table{
      {"start", "Create the new table and the triggers that fill it",
       [&s](CLI::App& command) { add_start_options(command, s); },
       [shared] {
         if (shared->dry_run) return print_plan(*shared);
         finish_start_options(*shared, true);
         Session session(*shared, Load::schema, JobChoice::one);
         Job job = start(session.context(), shared->start);
         session.context().out.write_line(to_json(job_record(job)));
         note_breaking_inserts(session.context(), job);
         return exit_code::success;
       }},
      {"backfill", "Copy the rows, in batches; resumable",
       [&s](CLI::App& command) { add_backfill_options(command, s); },
       [shared] {
         BackfillOptions options = backfill_options(*shared);
         Session session(*shared, Load::bulk, JobChoice::one);
         return backfill(session.context(), options);
       }},
      {"verify", "Compare the new table with the projection of the old (exit 1 on a difference)",
       nullptr,
       [shared] {
         Session session(*shared, Load::schema, JobChoice::one);
         return verify(session.context());
       }},
      {"switch", "Point the alias at the new table",
       [&s](CLI::App& command) { add_switch_options(command, s); },
       [shared] {
         return move_job(
             *shared,
             [](Context& context, const Settings& given) { switch_alias(context, inserts(given)); },
             shared->lock_timeout);
       }},
      {"rollback", "Point the alias back at the old table",
       [&s](CLI::App& command) {
         command.add_flag("--force", s.force,
                          "Roll back even though the new table's writes would be lost");
         add_lock_timeout(command, s);
       },
       [shared] {
         return move_job(
             *shared,
             [](Context& context, const Settings& given) { rollback(context, given.force); },
             shared->lock_timeout);
       }},
      {"cleanup", "Remove the job's triggers after a switch",
       [&s](CLI::App& command) {
         command.add_flag("--drop-old", s.drop_old, "Also drop the old table");
       },
       [shared] {
         return move_job(
             *shared,
             [](Context& context, const Settings& given) { cleanup(context, given.drop_old); },
             shared->state.busy_timeout);
       }},
      {"abort", "Remove the new table and the triggers; the source stays as it was", nullptr,
       [shared] {
         return move_job(
             *shared, [](Context& context, const Settings&) { abort_job(context); },
             shared->state.busy_timeout);
       }},
      {"status", "Print the jobs (or --job's) as JSON Lines", nullptr,
       [shared] {
         Session session(*shared, Load::schema, JobChoice::any);
         return status(session.context());
       }},
      {"run", "start, backfill, verify and switch, resuming where a previous run stopped",
       [&s](CLI::App& command) {
         add_start_options(command, s);
         add_backfill_options(command, s);
         add_switch_options(command, s);
       },
       [shared] {
         if (shared->dry_run) return print_plan(*shared);
         BackfillOptions options = backfill_options(*shared);
         finish_start_options(*shared, false);
         Session session(*shared, Load::bulk, JobChoice::one);
         return run(session.context(), shared->start, options, shared->lock_timeout,
                    inserts(*shared));
       }},
  };
  for (cli::Subcommand& row : table) row = with_common(s, std::move(row));
  return table;
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  return cli::add_subcommands(app, subcommands(std::make_shared<Settings>()));
}

}  // namespace sluice::reindex
