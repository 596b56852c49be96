// reindex status and run, and the job record both print.
#include "reindex_commands.hpp"

#include <fmt/format.h>

#include "reindex_schema.hpp"
#include "sluice/error.hpp"

namespace sluice::reindex {

JsonValue job_record(const Job& job) {
  return JsonValue::object({
      {"job", JsonValue::string(job.name)},
      {"table", JsonValue::string(job.source)},
      {"phase", JsonValue::string(std::string(phase_name(job.phase)))},
      {"mode", JsonValue::string(std::string(mode_name(job.mode)))},
      {"alias", JsonValue::string(job.alias)},
      {"old_table", JsonValue::string(v1_table(job))},
      {"new_table", JsonValue::string(v2_table(job))},
      {"key", strings_json(job.key)},
      {"select", JsonValue::string(job.select)},
      {"reverse_select",
       job.reverse_select.empty() ? JsonValue::null() : JsonValue::string(job.reverse_select)},
      {"rows_copied", JsonValue::integer(job.rows_copied)},
      {"checkpoint",
       job.checkpoint.empty() ? JsonValue::null() : key_json(job.key, job.checkpoint)},
      {"writes_after_switch", JsonValue::boolean(job.writes_after_switch)},
      {"created", JsonValue::string(job.created)},
      {"updated", JsonValue::string(job.updated)},
  });
}

void check_start_options(const StartOptions& options, bool has_ddl) {
  if (options.table.empty()) throw Error(exit_code::usage, "a new job needs --table");
  int sources = (options.like ? 1 : 0) + (has_ddl ? 1 : 0) + (options.changes.empty() ? 0 : 1);
  if (sources != 1) {
    throw Error(exit_code::usage,
                "give one of --dest-ddl FILE, --like, or column operations (--type, --rename, "
                "--drop, --not-null, --default)");
  }
  if (!options.changes.empty() && !options.select.empty()) {
    throw Error(exit_code::usage,
                "--select cannot be combined with column operations: they make the projection");
  }
}

int status(Context& context) {
  std::vector<Job> jobs;
  {
    db::ReadTransaction read(context.database);
    if (context.job.empty()) {
      jobs = context.store.all();
    } else {
      jobs.push_back(context.store.load(context.job));
    }
  }
  for (const auto& job : jobs) context.out.write_line(to_json(job_record(job)));
  return exit_code::success;
}

namespace {

std::optional<Job> current_job(Context& context) {
  db::ReadTransaction read(context.database);
  return context.store.find(context.job);
}

// Whether `error` only says that another run of the job got further first (backfill and
// verify refuse a job that is already switched, which is where this run was going).
bool overtaken(Context& context, const Error& error) {
  if (error.code() != exit_code::data) return false;
  std::optional<Job> now = current_job(context);
  return now && now->phase == Phase::switched;
}

}  // namespace

int run(Context& context, const StartOptions& start_options, const BackfillOptions& options,
        Duration lock_timeout, Inserts inserts) {
  std::optional<Job> job = current_job(context);
  if (!job || job->phase == Phase::done || job->phase == Phase::aborted) {
    check_start_options(start_options, !start_options.dest_ddl.empty());
    job = start(context, start_options, true, inserts);
  } else if (inserts == Inserts::must_fit && job->phase != Phase::switched) {
    refuse_breaking_inserts(context.database, *job);  // before a copy the switch would refuse
  }
  try {
    if (job->phase == Phase::backfilling) {
      int status = backfill(context, options);
      if (status != exit_code::success) return status;
      job = current_job(context);
    }
    if (job && job->phase == Phase::backfilled) {
      verify(context);  // throws Error(1) on a mismatch
      context.database.set_busy_timeout(lock_timeout);
      switch_alias(context, inserts);
    }
  } catch (const Error& error) {
    if (!overtaken(context, error)) throw;
  }
  db::ReadTransaction read(context.database);
  context.out.write_line(to_json(job_record(context.store.load(context.job))));
  return exit_code::success;
}

}  // namespace sluice::reindex
