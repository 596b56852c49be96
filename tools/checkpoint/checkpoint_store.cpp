#include "checkpoint_store.hpp"

#include <array>

namespace sluice::checkpoint {
namespace {

constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE checkpoint_jobs (
  job TEXT PRIMARY KEY,
  next_line INTEGER NOT NULL CHECK (next_line >= 1),
  state TEXT NOT NULL CHECK (state IN ('running', 'complete')),
  input TEXT NOT NULL,
  input_size INTEGER,
  input_mtime_ns INTEGER,
  input_head_sha256 TEXT,
  updated_at INTEGER NOT NULL
) STRICT;
)sql";

constexpr std::array<std::string_view, 1> migrations{schema_v1};
constexpr db::Schema schema{migrations};

// A checkpoint is what a rerun trusts to skip work: it must survive a power cut.
db::OpenOptions open_options(db::OpenOptions options) {
  options.synchronous = db::Synchronous::full;
  options.serialize_writers = true;
  return options;
}

std::optional<std::int64_t> optional_integer(db::Statement& row, int column) {
  if (row.is_null(column)) return std::nullopt;
  return row.integer(column);
}

Job read_job(db::Statement& row) {
  Job job;
  job.name = row.text(0);
  job.next_line = row.integer(1);
  job.state = row.text(2) == "complete" ? JobState::complete : JobState::running;
  job.input = row.text(3);
  job.fingerprint.size = optional_integer(row, 4);
  job.fingerprint.mtime_ns = optional_integer(row, 5);
  if (!row.is_null(6)) job.fingerprint.head_sha256 = row.text(6);
  job.updated_at = Instant(Duration(row.integer(7)));
  return job;
}

constexpr std::string_view job_columns =
    "job, next_line, state, input, input_size, input_mtime_ns, input_head_sha256, updated_at";

}  // namespace

std::string_view job_state_name(JobState state) {
  return state == JobState::complete ? "complete" : "running";
}

Store::Store(const std::string& location, db::OpenOptions options)
    : database_(location, open_options(options)) {
  db::migrate(database_, "checkpoint", schema);
}

std::optional<Job> Store::find(std::string_view name) {
  static const std::string sql =
      std::string("SELECT ") + std::string(job_columns) + " FROM checkpoint_jobs WHERE job = ?1";
  auto query = database_.query(sql, name);
  if (!query.step()) return std::nullopt;
  return read_job(query.row());
}

void Store::save(const Job& job) {
  db::WriteTransaction transaction(database_);
  database_.execute(
      "INSERT INTO checkpoint_jobs (job, next_line, state, input, input_size, input_mtime_ns, "
      "input_head_sha256, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
      "ON CONFLICT (job) DO UPDATE SET next_line = excluded.next_line, state = excluded.state, "
      "input = excluded.input, input_size = excluded.input_size, "
      "input_mtime_ns = excluded.input_mtime_ns, input_head_sha256 = excluded.input_head_sha256, "
      "updated_at = excluded.updated_at",
      job.name, job.next_line, job_state_name(job.state), job.input, job.fingerprint.size,
      job.fingerprint.mtime_ns, job.fingerprint.head_sha256,
      job.updated_at.time_since_epoch().count());
  transaction.commit();
}

bool Store::reset(std::string_view name) {
  db::WriteTransaction transaction(database_);
  int deleted = database_.execute("DELETE FROM checkpoint_jobs WHERE job = ?1", name);
  transaction.commit();
  return deleted == 1;
}

void Store::list(const std::function<void(const Job&)>& visit) {
  static const std::string sql =
      std::string("SELECT ") + std::string(job_columns) + " FROM checkpoint_jobs ORDER BY job";
  db::ReadTransaction read(database_);
  auto query = database_.query(sql);
  while (query.step()) visit(read_job(query.row()));
}

}  // namespace sluice::checkpoint
