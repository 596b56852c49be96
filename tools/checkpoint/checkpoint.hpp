// checkpoint's commands. `run` reads the input's lines from the job's next line on and feeds
// them to CMD in chunks, one process per chunk (the chunk on its stdin, then end of input):
// the job's next line moves past a chunk only once CMD has exited 0 on it, so every line is
// processed at least once whatever is killed when, and a rerun repeats at most one chunk.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint_store.hpp"
#include "sluice/clock.hpp"
#include "sluice/error.hpp"
#include "sluice/fdio.hpp"
#include "sluice/format.hpp"

namespace sluice::checkpoint {

// Exit status of `run` for a job that already completed on this input (nothing is run): not 1,
// which a failed command (grep, false, a script's error) passes through so often that a
// caller could not tell the two apart.
inline constexpr int already_complete_exit = 3;
// Exit status of show and reset for a job that does not exist.
inline constexpr int no_such_job_exit = exit_code::definite_no;

// The bytes of a regular file's head that its fingerprint covers.
inline constexpr std::size_t fingerprint_head_bytes = 64 * 1024;

struct RunOptions {
  std::string job;
  std::int64_t every = 10000;  // lines per chunk
  Duration every_time{0};      // also end a chunk this long after it started (0: never)
  std::string input = "-";
  bool restart = false;
  bool quiet = false;
  std::vector<std::string> command;
};

// The fingerprint of an open input (nothing for a pipe or a terminal).
Fingerprint fingerprint_of(int fd, const std::string& name);

int run(Store& store, const Clock& clock, const RunOptions& options);

// Prints one job (no_such_job_exit when there is none), or every job.
int show(Store& store, const std::string& job, Format format, OutputStream& out);
int list(Store& store, Format format, OutputStream& out);
// Forgets a job, so that its next run starts at line 1 (no_such_job_exit when there is none).
int reset(Store& store, const std::string& job);

}  // namespace sluice::checkpoint
