// rollup_commands: the store's subcommands (ingest, query, compact, rebuild), from their
// settings to the rows they print.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rollup_store.hpp"
#include "sluice/fdio.hpp"
#include "sluice/format.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::rollup {

struct IngestRequest {
  StoreSettings settings;
  std::vector<std::string> files;  // one batch each
  InputOptions input;
  LatePolicy late_policy = LatePolicy::merge;
  std::string reject_file;  // with LatePolicy::reject
  std::int64_t now = 0;
};

// Ingests each file as one batch (one transaction, keyed by the SHA-256 of its contents) and
// prints one row per file: file, batch, status (ingested or already ingested), events, late,
// too_old, rejected, cells. Returns the exit status (1 when --skip-invalid skipped lines).
int ingest_files(Store& store, const IngestRequest& request, RecordPrinter& printer);

struct QueryRequest {
  std::string tier;  // as --tier gives it: a tier's width
  std::int64_t from = INT64_MIN;
  std::int64_t to = INT64_MAX;
  std::optional<std::vector<std::string>> by;  // a subset of the store's --by
  std::optional<double> xff;
};

// Prints the rows of one tier; Error(66) for a store without settings yet, Error(2) for a
// tier or --by field the store does not have.
int query_store(Store& store, const QueryRequest& request, RecordPrinter& printer);

}  // namespace sluice::rollup
