// reindex_commands: the subcommands of `reindex`, each one function over an open database.
// Every state change happens in one write transaction (backfill: one per batch), so a run
// killed at any instant leaves the job at its last recorded phase, from which the same command
// (or `run`) goes on.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "reindex_job.hpp"
#include "reindex_transform.hpp"
#include "sluice/batch_size.hpp"
#include "sluice/clock.hpp"
#include "sluice/db.hpp"
#include "sluice/fdio.hpp"
#include "sluice/json.hpp"
#include "sluice/progress.hpp"

namespace sluice::reindex {

struct StartOptions {
  std::string table;
  std::string dest_ddl;       // the DDL text (the CLI reads the file); empty with `like`
  std::string dest_ddl_name;  // the DDL file's name, for messages
  bool like = false;
  ColumnChanges changes;       // --type, --rename, ...: the DDL and projection made from the table
  std::string select;          // empty: every column
  std::string reverse_select;  // empty: none
  std::vector<std::string> key;
  std::string dest;  // empty: TABLE__v2
  AliasMode mode = AliasMode::rename;
  std::string alias;  // view mode
  bool allow_foreign_keys = false;
};

// Error(2) unless `options` name the table and exactly one of a DDL (`has_ddl`), --like or
// column operations, and no --select beside column operations (they make the projection).
void check_start_options(const StartOptions& options, bool has_ddl);

struct BackfillOptions {
  std::int64_t batch = 1000;  // the first batch's size with chunk_time
  // Resize batches so that each takes about this long (0: every batch holds `batch` rows).
  Duration chunk_time{};
  double max_rows_per_second = 0;  // 0: unthrottled
  std::string pause_file;
  std::optional<Duration> max_runtime;
  // After each 50 ms of holding the write lock, leave it free this long (0: never).
  Duration lock_pause = std::chrono::milliseconds(30);
  ProgressMode progress = ProgressMode::automatic;
  bool report = false;  // JSONL progress records on stdout
  // Called inside each batch's transaction after its copy (an exception there is a crash
  // before the commit) and after each commit (when other connections may write): tests
  // interleave writes and crashes with the copy through these.
  std::function<void()> before_commit;
  std::function<void()> after_commit;
};

struct Context {
  db::Database& database;
  JobStore& store;
  Clock clock;
  OutputStream& out;
  std::string job;
};

// Whether the switch first checks that the application's INSERTs, naming the old table's
// columns, still work on the new table.
enum class Inserts { must_fit, may_break };

// Each returns the exit status. Refusals throw Error(65); a busy database Error(75).
// start refuses a job of that name that is neither done nor aborted, or with join_running
// returns it as it is (another `run` started it first). A new table the application's
// INSERTs would break on (columns_breaking_inserts) is refused with Inserts::must_fit, before
// anything is created.
Job start(Context& context, const StartOptions& options, bool join_running = false,
          Inserts inserts = Inserts::may_break);
// 0 when the copy is complete, 75 when --max-runtime ended it first.
int backfill(Context& context, const BackfillOptions& options);
// Prints the comparison and returns 0 when V2 holds exactly the projection of V1 (after a
// switch with reverse triggers: V1 the reverse projection of V2); throws Error(1) otherwise.
int verify(Context& context);
// These four succeed or throw; each is a no-op when the job is already where it would take it.
// The switch refuses (65) when columns_breaking_inserts finds any, unless told they may break.
void switch_alias(Context& context, Inserts inserts = Inserts::must_fit);
void rollback(Context& context, bool force);
void cleanup(Context& context, bool drop_old);
void abort_job(Context& context);
int status(Context& context);
// start (unless the job exists), backfill, verify, switch, resuming at the recorded phase.
// The switch waits at most `lock_timeout` for the write lock. Runs of one job may overlap (two
// cron jobs, a retry): each step goes by the phase as it is then, and a step another run
// took first is not an error.
int run(Context& context, const StartOptions& start_options, const BackfillOptions& options,
        Duration lock_timeout, Inserts inserts = Inserts::must_fit);

// start --dry-run: checks and creates what start would, in a transaction that is rolled back,
// and returns the plan: what start creates, the rows and batches backfill would copy, and the
// statements the switch runs. The file is left as it was.
JsonValue plan(Context& context, const StartOptions& options, std::int64_t batch);

// The statements the switch of `job` (backfilled) runs, in order, in one transaction.
[[nodiscard]] std::vector<std::string> switch_statements(db::Database& database, const Job& job);

// Rename mode: the new table's columns that an INSERT naming only the old table's columns
// would leave without a value although they need one (NOT NULL, no default).
[[nodiscard]] std::vector<std::string> columns_breaking_inserts(db::Database& database,
                                                                const Job& job);

// A note on stderr naming the columns columns_breaking_inserts finds, if any: the switch will
// refuse them (the start subcommand says so early, before a long copy).
void note_breaking_inserts(Context& context, const Job& job);

// Error(65) naming the columns when columns_breaking_inserts finds any.
void refuse_breaking_inserts(db::Database& database, const Job& job);

// The job as the JSON record status prints.
JsonValue job_record(const Job& job);

}  // namespace sluice::reindex
