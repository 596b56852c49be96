// record_condition: conditions on the fields of a JSON record, as tools that select events
// write them on the command line (funnel's --steps, sample's --rule; docs/ARCHITECTURE.md,
// "libcore modules"), and field paths into nested objects ("props.plan").
//
// Grammar: TERM [" AND " TERM]...; TERM is FIELD OP VALUE with OP one of = != > >= < <=
// (the first operator character in the term splits it; spaces around FIELD and VALUE are
// trimmed). FIELD is a top-level key or a path of keys joined by '.'.
//  - FIELD=VALUE holds when the field is a string with exactly VALUE's text, or a number or
//    boolean written exactly so (10 matches "10", not "10.0"). A missing, null, object or
//    array field never matches.
//  - FIELD!=VALUE is the negation of FIELD=VALUE (a missing field matches).
//  - FIELD>N, >=, <, <= need a numeric VALUE (a JSON number) and hold only when the field is
//    a JSON number comparing so (as doubles); anything else never matches.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/json.hpp"

namespace sluice {

// A field named by a key or a path of keys ("props.plan" is {"props", "plan"}).
struct FieldPath {
  std::string name;               // as written
  std::vector<std::string> keys;  // name split at '.'
  [[nodiscard]] bool nested() const { return keys.size() > 1; }
};

// Splits `name` at each '.'. An empty key ("a..b") is kept: JSON allows the key "".
FieldPath split_field_path(std::string_view name);
// The same, but Error(2) for an empty name (what a command-line option needs).
FieldPath parse_field_path(std::string_view name);

// The value at `path` in `record`, or nullptr when a key is missing or a step is no object.
const JsonValue* find_field(const JsonValue& record, const FieldPath& path);

// A scalar's text as conditions compare it: a string's text, a number's source text, "true"
// or "false"; nullopt for a missing, null, object or array value.
std::optional<std::string_view> scalar_text(const JsonValue* value);

enum class Comparison { equal, not_equal, less, less_or_equal, greater, greater_or_equal };

struct ConditionTerm {
  FieldPath field;
  Comparison comparison = Comparison::equal;
  std::string value;
  double number = 0;  // VALUE as a number, for the ordering comparisons
};

class RecordCondition {
 public:
  // Parses `text` (see the grammar above). Error(2) saying what is wrong, without naming an
  // option: callers add it with with_context.
  static RecordCondition parse(std::string_view text);
  [[nodiscard]] bool matches(const JsonValue& record) const;
  [[nodiscard]] const std::string& text() const { return text_; }
  [[nodiscard]] const std::vector<ConditionTerm>& terms() const { return terms_; }

 private:
  std::string text_;
  std::vector<ConditionTerm> terms_;
};

}  // namespace sluice
