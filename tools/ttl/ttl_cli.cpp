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
#include "ttl_partitions.hpp"
#include "ttl_sweep.hpp"

namespace sluice::ttl {

namespace {

struct Settings {
  cli::StateOptions state;  // --db (required here), --busy-timeout, --now
  SweepOptions sweep;
  PartitionOptions partitions;
  Duration older_than{};  // drop
  bool dry_run = false;   // drop
};

void add_common(CLI::App& command, Settings& settings) {
  cli::add_state_options(command, settings.state);
  command.get_option("--db")
      ->description("The application's database: an SQLite file or a postgresql:// URL")
      ->required();
  command.add_option("--table", settings.sweep.table, "The table whose rows expire")
      ->type_name("TABLE")
      ->required();
}

void add_sweep_options(CLI::App& command, Settings& settings) {
  SweepOptions& sweep = settings.sweep;
  command
      .add_option("--column", sweep.column,
                  "The time column: a timestamp, epoch seconds or milliseconds, or RFC 3339 text")
      ->type_name("COLUMN")
      ->required();
  cli::add_duration_option(command, "--older-than", sweep.older_than,
                           "Rows whose time is before now minus this have expired")
      ->required();
  command
      .add_option("--where", sweep.where,
                  "Delete only expired rows for which this SQL expression over the table is "
                  "true (checked, see ttl(1))")
      ->type_name("SQL");
  command
      .add_option("--batch", sweep.batch,
                  "Rows deleted per transaction (with --chunk-time: in the first)")
      ->check(cli::whole_number(1, 1'000'000))
      ->capture_default_str();
  cli::add_duration_option(command, "--chunk-time", sweep.chunk_time,
                           "Resize batches so that each transaction takes about this long "
                           "(0: fixed --batch)");
  cli::add_duration_option(command, "--pause", sweep.pause,
                           "Between batches, leave the table to the application this long");
  cli::add_duration_option(command, "--max-time", sweep.max_time,
                           "Stop after this long with exit 75 (run again to go on; 0: no limit)");
  command.add_flag("--dry-run", sweep.dry_run, "Count the expired rows; delete nothing");
  cli::add_progress_option(command, sweep.progress);
}

void add_partitions_options(CLI::App& command, Settings& settings) {
  PartitionOptions& partitions = settings.partitions;
  command.add_option("--column", partitions.column, "The time column rows are routed by")
      ->type_name("COLUMN")
      ->required();
  cli::add_choice_option(command, "--by", partitions.period, period_names,
                         "One partition per day or month (UTC)");
  command.add_option("--ahead", partitions.ahead, "Partitions to create after the current one")
      ->check(cli::whole_number(0, 1000))
      ->capture_default_str();
}

void add_drop_options(CLI::App& command, Settings& settings) {
  cli::add_duration_option(command, "--older-than", settings.older_than,
                           "Drop the partitions whose whole period ended before now minus this")
      ->required();
  command.add_flag("--dry-run", settings.dry_run, "List the partitions to drop; drop nothing");
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

// Prints one record per partition.
int print_partitions(std::string_view table, const std::vector<Partition>& partitions) {
  OutputStream out(STDOUT_FILENO);
  for (const Partition& partition : partitions) {
    out.write_line(to_json(partition_record(table, partition)));
  }
  out.flush();
  return exit_code::success;
}

int run_partitions(Settings& settings) {
  settings.partitions.table = settings.sweep.table;
  db::Database database = open_database(settings);
  Instant now = database.clock(cli::make_clock(settings.state)).now();
  return print_partitions(settings.partitions.table,
                          make_partitions(database, settings.partitions, now));
}

int run_drop(Settings& settings) {
  db::Database database = open_database(settings);
  Instant now = database.clock(cli::make_clock(settings.state)).now();
  return print_partitions(
      settings.sweep.table,
      drop_partitions(database, settings.sweep.table, cutoff_instant(now, settings.older_than),
                      settings.dry_run));
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
      {"partitions", "Create the time partitions of a table (SQLite: tables behind a view)",
       [&s](CLI::App& command) {
         add_common(command, s);
         add_partitions_options(command, s);
       },
       [shared] { return run_partitions(*shared); }},
      {"drop", "Drop the partitions whose whole period has expired",
       [&s](CLI::App& command) {
         add_common(command, s);
         add_drop_options(command, s);
       },
       [shared] { return run_drop(*shared); }},
  };
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  return cli::add_subcommands(app, subcommands(std::make_shared<Settings>()));
}

}  // namespace sluice::ttl
