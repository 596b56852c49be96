// audit's commands: appending entries, reading and following them, and the tamper evidence
// (verify, head, prove, check-proof). Each takes its settings as a plain struct and writes to
// an OutputStream, so that the tests can call them in-process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit_store.hpp"
#include "sluice/clock.hpp"
#include "sluice/fdio.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::audit {

// Exit status of verify and check-proof when the log or the proof does not verify.
inline constexpr int mismatch_exit = exit_code::definite_no;

struct AppendOptions {
  // Both set: each line is the payload. Both unset: each line is {"actor", "action",
  // "payload"}.
  std::optional<std::string> actor;
  std::optional<std::string> action;
  // Entries per transaction; 0: the whole input is one batch.
  std::int64_t batch = 0;
  InputOptions input;
  std::vector<std::string> inputs;
};

// Reads every line first (a bad line is Error(65) at its SOURCE:LINE and nothing of its batch
// is appended), then appends. Returns the seqs appended.
AppendResult append(Store& store, const Clock& clock, const AppendOptions& options);

// Prints the selected entries, one JSON object per line. Returns how many.
std::int64_t read(Store& store, const ReadFilter& filter, OutputStream& out);

struct FollowOptions {
  std::optional<std::string> cursor;
  std::int64_t after = 0;             // where to start without a cursor
  std::optional<std::int64_t> limit;  // stop after this many entries
  Duration poll = std::chrono::milliseconds(500);
};

// Prints entries as they are appended (like tail -f) until interrupted or `limit` entries.
// With a cursor, starts after its position and advances it only once the entries were
// written to stdout.
int follow(Store& store, const Clock& clock, const FollowOptions& options, OutputStream& out);

// The first bad entry verify found: its seq, the kind of problem (changed, chain, missing)
// and the diagnostic's wording.
struct Problem {
  std::int64_t seq = 0;
  std::string kind;
  std::string detail;
};

struct ArchiveOptions {
  Instant before;
  std::string out;
  bool quiet = false;
};

// Moves the live entries older than `before` into a gzip-compressed JSONL segment at `out`
// (a header line, then the entries as read prints them), keeping their chain hash and leaf in
// the state: heads, proofs and verify still cover them.
int archive(Store& store, const Clock& clock, const ArchiveOptions& options);

// Checks a segment against the log: every entry's recomputed chain hash and leaf must be the
// ones the log kept for it. Returns the first problem.
std::optional<Problem> check_segment(Store& store, const std::string& path);

struct VerifyOptions {
  // Segments written by archive, checked too.
  std::vector<std::string> archives;
  // A head kept elsewhere: the first `size` entries must have this root.
  std::optional<std::int64_t> size;
  std::optional<std::string> root;
};

// Recomputes the chain and the tree; prints {"valid":true,"size","root"} (0), or names the
// first entry changed, missing or out of place (mismatch_exit).
int verify(Store& store, const VerifyOptions& options, OutputStream& out);

// Prints {"size","root"}.
int head(Store& store, OutputStream& out);

struct ProveOptions {
  std::optional<std::int64_t> seq;   // inclusion proof of this entry
  std::optional<std::int64_t> from;  // consistency proof from this size
  std::optional<std::int64_t> size;  // the tree's size (default: the current one)
};
int prove(Store& store, const ProveOptions& options, OutputStream& out);

struct CheckOptions {
  std::string input = "-";
  std::optional<std::string> root;      // the root the proof must end at
  std::optional<std::string> old_root;  // a consistency proof's old root
};
// Verifies a proof offline; prints {"valid":..} and returns 0 or mismatch_exit.
int check_proof(const CheckOptions& options, OutputStream& out);

}  // namespace sluice::audit
