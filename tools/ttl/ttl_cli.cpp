#include "ttl_cli.hpp"

#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "sluice/error.hpp"
#include "sluice/fdio.hpp"
#include "sluice/json.hpp"
#include "sluice/pg.hpp"
#include "ttl_sweep.hpp"

namespace sluice::ttl {

namespace {

struct Settings {
  cli::StateOptions state;  // --db (required here), --busy-timeout, --now
  SweepOptions sweep;
};

void add_common(CLI::App& command, Settings& settings) {
  cli::add_state_options(command, settings.state);
  command.get_option("--db")
      ->description("The application's database: an SQLite file or a postgresql:// URL")
      ->required();
  command.add_option("--table", settings.sweep.table, "The table whose rows expire")->required();
}

void add_sweep_options(CLI::App& command, Settings& settings) {
  SweepOptions& sweep = settings.sweep;
  command
      .add_option("--column", sweep.column,
                  "The time column: a timestamp, epoch seconds or milliseconds, or RFC 3339 text")
      ->required();
  cli::add_duration_option(command, "--older-than", sweep.older_than,
                           "Rows whose time is before now minus this have expired")
      ->required();
  command
      .add_option("--where", sweep.where,
                  "Delete only expired rows for which this SQL expression over the table is "
                  "true (checked, see ttl(1))")
      ->type_name("SQL");
  command.add_option("--batch", sweep.batch, "Rows deleted per transaction")
      ->check(cli::whole_number(1, 1'000'000))
      ->capture_default_str();
  cli::add_duration_option(command, "--pause", sweep.pause,
                           "Between batches, leave the table to the application this long");
  cli::add_duration_option(command, "--max-time", sweep.max_time,
                           "Stop after this long with exit 75 (run again to go on; 0: no limit)");
  command.add_flag("--dry-run", sweep.dry_run, "Count the expired rows; delete nothing");
  cli::add_progress_option(command, sweep.progress);
}

db::Database open_database(const Settings& settings) {
  cli::StateTarget target = cli::state_target(settings.state, "ttl", cli::StateFile::must_exist,
                                              cli::Backends::sqlite_or_postgresql);
  target.options.foreign_file = true;
  // A server's database exists once it answers; sluice keeps nothing of its own in it.
  target.options.must_exist = !pg::is_url(target.location);
  // A batch lost to a power cut is found again by the next sweep.
  target.options.synchronous = db::Synchronous::normal;
  return db::Database(target.location, target.options);
}

int run_sweep(Settings& settings) {
  if (!settings.sweep.where.empty()) check_where_text(settings.sweep.where);
  db::Database database = open_database(settings);
  Instant now = database.clock(cli::make_clock(settings.state)).now();
  SweepResult result = sweep(database, settings.sweep, now);
  OutputStream out(STDOUT_FILENO);
  out.write_line(to_json(sweep_record(result, settings.sweep.dry_run)));
  out.flush();
  if (!result.complete) {
    note(fmt::format("stopped by --max-time after {} rows; run the sweep again to go on",
                     result.rows));
    return exit_code::temporary;
  }
  return exit_code::success;
}

std::vector<cli::Subcommand> subcommands(const std::shared_ptr<Settings>& shared) {
  Settings& s = *shared;
  return {
      {"sweep", "Delete the expired rows in short batches by key range; resumable",
       [&s](CLI::App& command) {
         add_common(command, s);
         add_sweep_options(command, s);
       },
       [shared] { return run_sweep(*shared); }},
  };
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  return cli::add_subcommands(app, subcommands(std::make_shared<Settings>()));
}

}  // namespace sluice::ttl
