#include "sluice/record_condition.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice {

namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

// Where the next AND between blanks (spaces or tabs) starts at or after `from`, or npos.
std::size_t next_and(std::string_view text, std::size_t from) {
  for (std::size_t at = text.find("AND", from); at != std::string_view::npos;
       at = text.find("AND", at + 1)) {
    if (at > 0 && is_blank(text[at - 1]) && at + 3 < text.size() && is_blank(text[at + 3])) {
      return at;
    }
  }
  return std::string_view::npos;
}

// The operator starting at `text[at]` and its length.
std::pair<Comparison, std::size_t> operator_at(std::string_view text, std::size_t at) {
  char first = text[at];
  bool equals_next = at + 1 < text.size() && text[at + 1] == '=';
  switch (first) {
    case '!':
      if (!equals_next) throw Error(exit_code::usage, "'!' must be followed by '='");
      return {Comparison::not_equal, 2};
    case '>':
      return equals_next ? std::pair{Comparison::greater_or_equal, std::size_t{2}}
                         : std::pair{Comparison::greater, std::size_t{1}};
    case '<':
      return equals_next ? std::pair{Comparison::less_or_equal, std::size_t{2}}
                         : std::pair{Comparison::less, std::size_t{1}};
    default:
      return {Comparison::equal, 1};
  }
}

bool orders(Comparison comparison) {
  return comparison != Comparison::equal && comparison != Comparison::not_equal;
}

ConditionTerm parse_term(std::string_view text) {
  std::size_t at = text.find_first_of("!=<>");
  if (at == std::string_view::npos) {
    throw Error(exit_code::usage,
                fmt::format("'{}' has no operator (=, !=, >, >=, <, <=)", trimmed(text)));
  }
  auto [comparison, length] = operator_at(text, at);
  ConditionTerm term;
  term.field = parse_field_path(trimmed(text.substr(0, at)));
  term.comparison = comparison;
  term.value = std::string(trimmed(text.substr(at + length)));
  if (orders(comparison)) {
    if (!is_json_number(term.value)) {
      throw Error(exit_code::usage, fmt::format("'{}' is not a number", term.value));
    }
    term.number = std::strtod(term.value.c_str(), nullptr);
  } else if (term.value.find_first_of("<>!") != std::string::npos || term.value.starts_with('=')) {
    // "a=>5" or "a==5" is more likely a typo than a value: a value with !, < or >, or that
    // starts with =, is refused (it would silently never match).
    throw Error(exit_code::usage, fmt::format("'{}' has two operators", trimmed(text)));
  }
  return term;
}

bool term_holds(const ConditionTerm& term, const JsonValue& record) {
  const JsonValue* value = find_field(record, term.field);
  if (!orders(term.comparison)) {
    std::optional<std::string_view> text = scalar_text(value);
    bool equal = text && *text == term.value;
    return term.comparison == Comparison::equal ? equal : !equal;
  }
  if (value == nullptr || !value->is_number()) return false;
  double number = std::strtod(value->text().c_str(), nullptr);
  switch (term.comparison) {
    case Comparison::less:
      return number < term.number;
    case Comparison::less_or_equal:
      return number <= term.number;
    case Comparison::greater:
      return number > term.number;
    default:
      return number >= term.number;
  }
}

}  // namespace

FieldPath split_field_path(std::string_view name) {
  FieldPath path{std::string(name), {}};
  for (std::size_t begin = 0;;) {
    std::size_t end = name.find('.', begin);
    path.keys.emplace_back(name.substr(begin, end == std::string_view::npos ? end : end - begin));
    if (end == std::string_view::npos) break;
    begin = end + 1;
  }
  return path;
}

FieldPath parse_field_path(std::string_view name) {
  if (name.empty()) throw Error(exit_code::usage, "the field name is empty");
  return split_field_path(name);
}

const JsonValue* find_field(const JsonValue& record, const FieldPath& path) {
  const JsonValue* value = &record;
  for (const std::string& key : path.keys) {
    if (!value->is_object()) return nullptr;
    value = value->find(key);
    if (value == nullptr) return nullptr;
  }
  return value;
}

std::optional<std::string_view> scalar_text(const JsonValue* value) {
  if (value == nullptr) return std::nullopt;
  switch (value->kind()) {
    case JsonValue::Kind::boolean:
      return value->as_boolean() ? "true" : "false";
    case JsonValue::Kind::string:
    case JsonValue::Kind::number:
      return std::string_view(value->text());
    default:
      return std::nullopt;
  }
}

RecordCondition RecordCondition::parse(std::string_view text) {
  RecordCondition condition;
  condition.text_ = std::string(text);
  if (trimmed(text).empty()) throw Error(exit_code::usage, "the condition is empty");
  // Terms join at AND with blanks around it; the blanks go with the terms (trimmed there).
  for (std::size_t begin = 0;;) {
    std::size_t end = next_and(text, begin);
    std::string_view term = text.substr(begin, end == std::string_view::npos ? end : end - begin);
    condition.terms_.push_back(parse_term(term));
    if (end == std::string_view::npos) break;
    begin = end + 3;
  }
  return condition;
}

bool RecordCondition::matches(const JsonValue& record) const {
  return std::all_of(terms_.begin(), terms_.end(),
                     [&record](const ConditionTerm& term) { return term_holds(term, record); });
}

}  // namespace sluice
