// record_reader: JSON Lines records read for a few fields (docs/ARCHITECTURE.md, "libcore
// modules"): funnel and sample look at a handful of keys of every line, and building the whole
// line as a JsonValue cost them more than everything else. When every field wanted is a
// top-level key, each line is validated in full (the strict reader's rules) but only those
// members are built, as a small object; a field that is a path ("props.plan"), or a wanted
// member that is an object or array, makes the line be built whole.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/json.hpp"
#include "sluice/jsonl.hpp"
#include "sluice/record_condition.hpp"

namespace sluice {

class RecordReader {
 public:
  // Every named file must exist (Error(66), as JsonlReader).
  RecordReader(std::vector<std::string> paths, InputOptions options,
               const std::vector<FieldPath>& fields);
  // The next valid record (holding at least the wanted fields), or nullptr at the end of all
  // inputs; valid until the next call.
  const JsonValue* next();
  // The line's text as read, and its number.
  [[nodiscard]] std::string_view text() const { return text_; }
  [[nodiscard]] long long line() const { return line_; }
  // The reader's policy for a record the caller finds invalid: Error(65) at its location, or
  // reported and counted under --skip-invalid.
  void reject(std::string_view message);
  [[nodiscard]] std::uint64_t skipped() const { return reader_.skipped(); }

 private:
  const JsonValue* whole_line();
  JsonlReader reader_;
  bool only_top_level_ = true;
  std::vector<std::string> names_;
  std::vector<std::string_view> name_views_;
  std::vector<FieldView> views_;
  JsonParser parser_;
  JsonValue record_;
  std::string_view text_;
  long long line_ = 0;
};

}  // namespace sluice
