// The field readers of jsonl.hpp: every tool words a bad field the same way.
#include "sluice/jsonl.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice {

namespace {

const FieldView& present_field(const FieldView& field, std::string_view name) {
  if (!field.present) throw Error(exit_code::data, fmt::format("field '{}' is missing", name));
  return field;
}

[[noreturn]] void throw_field_kind(std::string_view name, std::string_view wanted,
                                   std::string_view found) {
  throw Error(exit_code::data, fmt::format("field '{}' must be {}, not {}", name, wanted, found));
}

}  // namespace

double number_in_field(const FieldView& field, std::string_view name) {
  if (present_field(field, name).kind != JsonValue::Kind::number) {
    throw_field_kind(name, "a number", kind_name(field.kind));
  }
  double value = 0;
  const char* end = field.text.data() + field.text.size();
  auto [stop, error] = std::from_chars(field.text.data(), end, value);
  if (error != std::errc() || stop != end || !std::isfinite(value)) {
    throw Error(exit_code::data,
                fmt::format("field '{}': {} is not a finite number", name, field.text));
  }
  return value;
}

std::string_view string_in_field(const FieldView& field, std::string_view name) {
  if (present_field(field, name).kind != JsonValue::Kind::string) {
    throw_field_kind(name, "a string", kind_name(field.kind));
  }
  return field.text;
}

std::string_view key_in_field(const FieldView& field, std::string_view name) {
  bool is_number = present_field(field, name).kind == JsonValue::Kind::number;
  bool is_integer = is_number && field.text.find_first_of(".eE") == std::string_view::npos;
  if (field.kind == JsonValue::Kind::string || is_integer) return field.text;
  throw_field_kind(name, "a string or an integer",
                   is_number ? "a fraction" : kind_name(field.kind));
}

std::int64_t whole_number_in_field(const FieldView& field, std::string_view name, std::int64_t min,
                                   std::int64_t max) {
  if (present_field(field, name).kind != JsonValue::Kind::number) {
    throw_field_kind(name, "a whole number", kind_name(field.kind));
  }
  std::int64_t value = 0;
  const char* end = field.text.data() + field.text.size();
  auto [stop, error] = std::from_chars(field.text.data(), end, value);
  if (error == std::errc() && stop != end) throw_field_kind(name, "a whole number", "a fraction");
  if (error != std::errc() || value < min || value > max) {
    throw Error(exit_code::data, fmt::format("field '{}': {} is not a whole number from {} to {}",
                                             name, field.text, min, max));
  }
  return value;
}

FieldView field_in(const JsonValue& object, std::string_view name) {
  const JsonValue* member = object.find(name);
  if (member == nullptr) return {};
  std::string_view text =
      member->kind() == JsonValue::Kind::number || member->kind() == JsonValue::Kind::string
          ? std::string_view(member->text())
          : std::string_view();
  return FieldView{true, member->kind(), text};
}

Instant instant_in_field(const FieldView& field, std::string_view name) {
  present_field(field, name);
  bool is_number = field.kind == JsonValue::Kind::number;
  if (field.kind != JsonValue::Kind::string && !is_number) {
    throw_field_kind(name, "an RFC 3339 string or epoch seconds or milliseconds",
                     kind_name(field.kind));
  }
  return with_context(exit_code::data, fmt::format("field '{}'", name),
                      [&] { return instant_from_field(field.text, is_number); });
}

}  // namespace sluice
