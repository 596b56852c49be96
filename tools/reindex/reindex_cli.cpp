#include "reindex_cli.hpp"

#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "reindex_commands.hpp"
#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::reindex {

namespace {

struct Settings {
  cli::StateOptions state;  // --db (required here), --busy-timeout, --now
  std::string job;
  std::string lock_timeout = "3s";
  StartOptions start;
  std::string dest_ddl_file;
  BackfillOptions backfill;
  std::string max_runtime;
  std::string lock_pause = "30ms";
  bool force = false;
  bool drop_old = false;
};

void add_common(CLI::App& command, Settings& settings) {
  cli::add_state_options(command, settings.state);
  command.get_option("--db")->description("The application's SQLite file")->required();
  command.add_option("--job", settings.job, "The job's name (default: the table's name)");
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
}

void add_backfill_options(CLI::App& command, Settings& settings) {
  command.add_option("--batch", settings.backfill.batch, "Rows per transaction")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
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
  command
      .add_option("--lock-pause", settings.lock_pause,
                  "After each 50ms holding the write lock, leave it free this long so "
                  "that waiting writers get in (0: never)")
      ->type_name("DURATION")
      ->capture_default_str();
  command.add_flag("--report", settings.backfill.report,
                   "Print progress as JSON Lines on stdout (once a second and at the end)");
  cli::add_progress_option(command, settings.backfill.progress);
}

void add_lock_timeout(CLI::App& command, Settings& settings) {
  command
      .add_option("--lock-timeout", settings.lock_timeout,
                  "How long the switch waits for the write lock before exit 75")
      ->type_name("DURATION")
      ->capture_default_str();
}

void define_subcommands(CLI::App& app, Settings& settings) {
  auto* start = app.add_subcommand("start", "Create the new table and the triggers that fill it");
  add_start_options(*start, settings);
  auto* backfill = app.add_subcommand("backfill", "Copy the rows, in batches; resumable");
  add_backfill_options(*backfill, settings);
  app.add_subcommand("verify",
                     "Compare the new table with the projection of the old (exit 1 "
                     "on a difference)");
  auto* switch_command = app.add_subcommand("switch", "Point the alias at the new table");
  add_lock_timeout(*switch_command, settings);
  auto* rollback = app.add_subcommand("rollback", "Point the alias back at the old table");
  rollback->add_flag("--force", settings.force,
                     "Roll back even though the new table's writes would be lost");
  add_lock_timeout(*rollback, settings);
  auto* cleanup = app.add_subcommand("cleanup", "Remove the job's triggers after a switch");
  cleanup->add_flag("--drop-old", settings.drop_old, "Also drop the old table");
  app.add_subcommand("abort", "Remove the new table and the triggers; the source stays as it was");
  app.add_subcommand("status", "Print the jobs (or --job's) as JSON Lines");
  auto* run = app.add_subcommand("run",
                                 "start, backfill, verify and switch, resuming where a "
                                 "previous run stopped");
  add_start_options(*run, settings);
  add_backfill_options(*run, settings);
  add_lock_timeout(*run, settings);
  for (auto* command : app.get_subcommands({})) add_common(*command, settings);
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

// `run` checks the same when it has a job to start (not when it resumes one).
void finish_start_options(Settings& settings, bool starting) {
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

int dispatch(CLI::App& app, Settings& settings) {
  CLI::App* command = app.get_subcommands().front();
  const std::string name = command->get_name();
  bool bulk = name == "backfill" || name == "run";
  if (!settings.max_runtime.empty()) {
    settings.backfill.max_runtime = cli::duration_option("--max-runtime", settings.max_runtime);
  }
  Duration lock_timeout = cli::duration_option("--lock-timeout", settings.lock_timeout);
  settings.backfill.lock_pause = cli::duration_option("--lock-pause", settings.lock_pause);
  if (name == "start" || name == "run") finish_start_options(settings, name == "start");
  db::Database database(settings.state.db_path, open_options(settings, bulk));
  JobStore store(database);
  resolve_job_name(settings, store, database, name == "status");
  OutputStream out(STDOUT_FILENO);
  Context context{database, store, cli::make_clock(settings.state), out, settings.job};
  if (name == "start") {
    out.write_line(to_json(job_record(start(context, settings.start))));
    return exit_code::success;
  }
  if (name == "backfill") return backfill(context, settings.backfill);
  if (name == "verify") return verify(context);
  if (name == "status") return status(context);
  if (name == "run") return run(context, settings.start, settings.backfill, lock_timeout);
  // The commands that move the job print it as it now is.
  if (name == "cleanup") cleanup(context, settings.drop_old);
  if (name == "abort") abort_job(context);
  database.set_busy_timeout(lock_timeout);
  if (name == "switch") switch_alias(context);
  if (name == "rollback") rollback(context, settings.force);
  return status(context);
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  app.require_subcommand(1);
  define_subcommands(app, *settings);
  return [&app, settings] { return dispatch(app, *settings); };
}

}  // namespace sluice::reindex
