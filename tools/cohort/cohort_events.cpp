#include "cohort_events.hpp"

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::cohort {

namespace {

bool is_integer_text(std::string_view text) {
  return text.find_first_of(".eE") == std::string_view::npos;
}

const JsonValue& required_field(const JsonValue& record, const std::string& name) {
  const JsonValue* value = record.find(name);
  if (value == nullptr) throw Error(exit_code::data, fmt::format("field '{}' is missing", name));
  return *value;
}

std::string_view user_key(const JsonValue& record, const std::string& name) {
  const JsonValue& user = required_field(record, name);
  if (user.is_string() || (user.is_number() && is_integer_text(user.text()))) return user.text();
  throw Error(exit_code::data,
              fmt::format("field '{}' must be a string or an integer, not {}", name,
                          user.is_number() ? "a fraction" : kind_name(user.kind())));
}

Instant event_time(const JsonValue& record, const std::string& name) {
  const JsonValue& time = required_field(record, name);
  if (!time.is_string() && !time.is_number()) {
    throw Error(exit_code::data,
                fmt::format("field '{}' must be an RFC 3339 string or epoch seconds or "
                            "milliseconds, not {}",
                            name, kind_name(time.kind())));
  }
  try {
    return instant_from_field(time.text(), time.is_number());
  } catch (const Error& error) {
    throw Error(exit_code::data, fmt::format("field '{}': {}", name, error.what()));
  }
}

// The event name, or nullptr when the record has none.
const std::string* event_name(const JsonValue& record, const std::string& name) {
  const JsonValue* event = record.find(name);
  if (event == nullptr || event->kind() == JsonValue::Kind::null) return nullptr;
  if (!event->is_string()) {
    throw Error(exit_code::data,
                fmt::format("field '{}' must be a string, not {}", name, kind_name(event->kind())));
  }
  return &event->text();
}

bool selected(const std::optional<std::string>& wanted, const std::string* event) {
  return !wanted || (event != nullptr && *event == *wanted);
}

}  // namespace

ReadResult read_events(const std::vector<std::string>& inputs, const ReadOptions& options,
                       const Calendar& calendar, UserDictionary& users, Activity& activity) {
  JsonlReader reader(inputs, options.skip_invalid);
  ReadResult result;
  while (auto record = reader.next()) {
    try {
      std::string_view user = user_key(record->value, options.fields.user);
      Instant time = event_time(record->value, options.fields.time);
      const std::string* event = event_name(record->value, options.fields.event);
      bool starts = selected(options.selection.start_event, event);
      bool returns = selected(options.selection.return_event, event);
      int period = calendar.period_of(time);
      std::uint32_t id = users.intern(user);
      if (starts) activity.add_start(period, id);
      if (returns) activity.add_return(period, id);
      activity.saw(time);
      ++result.events;
    } catch (const Error& error) {
      if (error.code() != exit_code::data) throw;
      reader.reject(*record, error.what());
    }
  }
  result.skipped = reader.skipped();
  return result;
}

}  // namespace sluice::cohort
