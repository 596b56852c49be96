#include "cohort_events.hpp"

#include <array>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::cohort {

namespace {

bool is_integer_text(std::string_view text) {
  return text.find_first_of(".eE") == std::string_view::npos;
}

const FieldView& required_field(const FieldView& field, const std::string& name) {
  if (!field.present) throw Error(exit_code::data, fmt::format("field '{}' is missing", name));
  return field;
}

std::string_view user_key(const FieldView& field, const std::string& name) {
  const FieldView& user = required_field(field, name);
  bool is_number = user.kind == JsonValue::Kind::number;
  if (user.kind == JsonValue::Kind::string || (is_number && is_integer_text(user.text))) {
    return user.text;
  }
  throw Error(exit_code::data, fmt::format("field '{}' must be a string or an integer, not {}",
                                           name, is_number ? "a fraction" : kind_name(user.kind)));
}

Instant event_time(const FieldView& field, const std::string& name) {
  const FieldView& time = required_field(field, name);
  bool is_number = time.kind == JsonValue::Kind::number;
  if (time.kind != JsonValue::Kind::string && !is_number) {
    throw Error(exit_code::data,
                fmt::format("field '{}' must be an RFC 3339 string or epoch seconds or "
                            "milliseconds, not {}",
                            name, kind_name(time.kind)));
  }
  try {
    return instant_from_field(time.text, is_number);
  } catch (const Error& error) {
    throw Error(exit_code::data, fmt::format("field '{}': {}", name, error.what()));
  }
}

// The event name, or nullopt when the record has none (missing or null).
std::optional<std::string_view> event_name(const FieldView& event, const std::string& name) {
  if (!event.present || event.kind == JsonValue::Kind::null) return std::nullopt;
  if (event.kind != JsonValue::Kind::string) {
    throw Error(exit_code::data,
                fmt::format("field '{}' must be a string, not {}", name, kind_name(event.kind)));
  }
  return event.text;
}

bool selected(const std::optional<std::string>& wanted, std::optional<std::string_view> event) {
  return !wanted || (event && *event == *wanted);
}

}  // namespace

ReadResult read_events(const std::vector<std::string>& inputs, const ReadOptions& options,
                       const Calendar& calendar, UserDictionary& users, Activity& activity,
                       RollingEvents* rolling) {
  JsonlReader reader(inputs, options.skip_invalid);
  const EventFields& fields = options.fields;
  std::array<std::string_view, 3> names = {fields.user, fields.time, fields.event};
  std::array<FieldView, 3> views;
  ReadResult result;
  while (auto line = reader.next_fields(names, views)) {
    try {
      std::string_view user = user_key(views[0], fields.user);
      Instant time = event_time(views[1], fields.time);
      std::optional<std::string_view> event = event_name(views[2], fields.event);
      bool starts = selected(options.selection.start_event, event);
      bool returns = selected(options.selection.return_event, event);
      int period = calendar.period_of(time);
      std::uint32_t id = users.intern(user);
      if (starts) activity.add_start(period, id);
      if (returns) activity.add_return(period, id);
      if (rolling != nullptr) rolling->add(id, time, starts, returns);
      activity.saw(time);
      ++result.events;
    } catch (const Error& error) {
      if (error.code() != exit_code::data) throw;
      reader.reject_line(*line, error.what());
    }
  }
  result.skipped = reader.skipped();
  return result;
}

}  // namespace sluice::cohort
