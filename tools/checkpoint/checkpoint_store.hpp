// The checkpoint state: one row per job in checkpoint_jobs, holding the number of the next
// input line to process (Kafka's committed-offset convention: the first line not yet done)
// and the fingerprint of the input it counts lines of.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/clock.hpp"
#include "sluice/db.hpp"

namespace sluice::checkpoint {

// What identifies an input between runs: for a regular file its size, modification time and
// the SHA-256 of its first 64 KiB; for a pipe or terminal nothing (unset fields).
struct Fingerprint {
  std::optional<std::int64_t> size;
  std::optional<std::int64_t> mtime_ns;
  std::optional<std::string> head_sha256;
  friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
};

enum class JobState { running, complete };
std::string_view job_state_name(JobState state);

struct Job {
  std::string name;
  std::int64_t next_line = 1;
  JobState state = JobState::running;
  std::string input;  // the file name, or <stdin>
  Fingerprint fingerprint;
  Instant updated_at;
};

class Store {
 public:
  Store(const std::string& location, db::OpenOptions options);
  db::Database& database() { return database_; }
  Clock clock(const Clock& requested) { return database_.clock(requested); }

  std::optional<Job> find(std::string_view name);
  // Writes the job's row whole, in one transaction.
  void save(const Job& job);
  // Deletes the job; returns whether it existed.
  bool reset(std::string_view name);
  void list(const std::function<void(const Job&)>& visit);

 private:
  db::Database database_;
};

}  // namespace sluice::checkpoint
