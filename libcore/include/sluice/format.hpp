// format: prints flat records (JSON objects) as JSON Lines, an aligned table for people, or
// CSV (RFC 4180) for spreadsheets, as chosen by --format. Column order is the key order of
// the first record; nested values print as compact JSON in table and CSV cells.
#pragma once

#include <string>
#include <vector>

#include "sluice/fdio.hpp"
#include "sluice/json.hpp"

namespace sluice {

// What --format (cli::add_format_option) chooses.
enum class Format { jsonl, table, csv };

class RecordPrinter {
 public:
  RecordPrinter(OutputStream& out, Format format) : out_(out), format_(format) {}
  // `record` must be an object. JSON Lines and CSV are written at once; a table waits for
  // finish() to know its column widths.
  void print(const JsonValue& record);
  void finish();

 private:
  static std::string cell(const JsonValue& value);
  void print_csv_row(const std::vector<std::string>& cells);
  OutputStream& out_;
  Format format_;
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Prints one record in `format` (a one-row table or CSV with its header).
void print_record(OutputStream& out, Format format, const JsonValue& record);

}  // namespace sluice
