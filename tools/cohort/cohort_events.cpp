#include "cohort_events.hpp"

#include <algorithm>
#include <array>
#include <span>
#include <utility>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"
#include "sluice/record_condition.hpp"

namespace sluice::cohort {

namespace {

// The event name, or nullopt when the record has none (missing or null).
std::optional<std::string_view> event_name(const FieldView& event, const std::string& name) {
  if (!event.present || event.kind == JsonValue::Kind::null) return std::nullopt;
  return string_in_field(event, name);
}

// Which of the selected names the events matched so far, and the names they had while one
// has not been matched yet (once all have, nothing can be reported and nothing is kept).
class SelectionCheck {
 public:
  explicit SelectionCheck(const EventSelection& selection) : selection_(selection) {
    if (selection.start_event) wanted_.push_back(*selection.start_event);
    wanted_.insert(wanted_.end(), selection.return_events.begin(), selection.return_events.end());
    std::sort(wanted_.begin(), wanted_.end());  // a start event may be a return event too
    wanted_.erase(std::unique(wanted_.begin(), wanted_.end()), wanted_.end());
    matched_.assign(wanted_.size(), false);
    missing_ = wanted_.size();
  }
  // Whether the event starts a cohort and whether it is a return.
  std::pair<bool, bool> select(std::optional<std::string_view> event) {
    bool starts = !selection_.start_event || (event && *event == *selection_.start_event);
    bool returns = selection_.return_events.empty() ||
                   (event && std::binary_search(selection_.return_events.begin(),
                                                selection_.return_events.end(), *event));
    if (missing_ > 0 && event) see(*event);
    return {starts, returns};
  }
  void report(ReadResult& result) const {
    for (std::size_t i = 0; i < wanted_.size(); ++i) {
      if (!matched_[i]) result.unmatched.push_back(wanted_[i]);
    }
    if (!result.unmatched.empty()) result.names_seen = names_seen_;
  }

 private:
  void see(std::string_view event) {
    for (std::size_t i = 0; i < wanted_.size(); ++i) {
      if (!matched_[i] && wanted_[i] == event) {
        matched_[i] = true;
        --missing_;
      }
    }
    if (names_seen_.size() < ReadResult::max_names_seen &&
        std::find(names_seen_.begin(), names_seen_.end(), event) == names_seen_.end()) {
      names_seen_.emplace_back(event);
    }
  }

  const EventSelection& selection_;
  std::vector<std::string> wanted_;
  std::vector<bool> matched_;
  std::size_t missing_ = 0;
  std::vector<std::string> names_seen_;
};

// What a property field of a line holds.
struct PropertyValue {
  enum class Kind { absent, scalar, composite } kind = Kind::absent;  // absent: missing or null
  std::string_view text;  // a scalar's text: a string's, a number's source, true or false
};

PropertyValue value_of(JsonValue::Kind kind, std::string_view text) {
  switch (kind) {
    case JsonValue::Kind::null:
      return {};
    case JsonValue::Kind::object:
    case JsonValue::Kind::array:
      return {PropertyValue::Kind::composite, {}};
    default:
      return {PropertyValue::Kind::scalar, text};
  }
}

// The fields read besides user, time and event: the --by field and those of the conditions.
// A top-level key comes from the reader's field views, cheaply; a path ("props.plan") from the
// line parsed whole, once per line and only when some field is a path.
class Properties {
 public:
  explicit Properties(const ReadOptions& options)
      : names_{options.fields.user, options.fields.time, options.fields.event} {
    if (options.by) {
      by_ = add(*options.by);
      by_name_ = &*options.by;
    }
    for (const Condition& condition : options.selection.start_where) {
      start_where_.push_back({add(condition.field), &condition, "--start-where"});
    }
    for (const Condition& condition : options.selection.return_where) {
      return_where_.push_back({add(condition.field), &condition, "--return-where"});
    }
    views_.resize(names_.size());
    unmet_ = start_where_.size() + return_where_.size();
  }
  std::span<const std::string_view> names() const { return names_; }
  std::span<FieldView> views() { return views_; }

  // Reads this line's properties (after the reader filled views()), and notes the conditions
  // it meets, whatever its event name, until every one was met once.
  void read(std::string_view line) {
    if (!paths_.empty()) record_ = parser_.parse_object(line).value;
    if (unmet_ > 0) {
      note_met(start_where_);
      note_met(return_where_);
    }
  }
  void report(ReadResult& result) const {
    for (const std::vector<Test>* tests : {&start_where_, &return_where_}) {
      for (const Test& test : *tests) {
        if (!test.met) {
          result.unmet.push_back(
              fmt::format("{} {}={}", test.option, test.condition->field, test.condition->value));
        }
      }
    }
  }
  [[nodiscard]] bool starts(bool named) const { return named && all_met(start_where_); }
  [[nodiscard]] bool returns(bool named) const { return named && all_met(return_where_); }
  // The --by value of a start event; Error(65) when it is an object or an array.
  [[nodiscard]] PropertyValue by() const {
    PropertyValue value = by_ ? value_at(*by_) : PropertyValue{};
    if (value.kind == PropertyValue::Kind::composite) {
      throw Error(
          exit_code::data,
          fmt::format("field '{}' must be a string, a number or a boolean for --by", *by_name_));
    }
    return value;
  }

 private:
  struct Field {
    std::size_t index;  // in views_ (a top-level key) or in paths_
    bool path;
  };
  struct Test {
    Field field;
    const Condition* condition;
    std::string_view option;
    bool met = false;  // by some event
  };
  // A field named twice is read once (the reader fills one view per distinct name).
  Field add(const std::string& name) {
    if (name.find('.') == std::string::npos) {
      auto known = std::find(names_.begin(), names_.end(), name);
      if (known != names_.end()) return {static_cast<std::size_t>(known - names_.begin()), false};
      names_.push_back(name);
      return {names_.size() - 1, false};
    }
    paths_.push_back(split_field_path(name));
    return {paths_.size() - 1, true};
  }
  [[nodiscard]] PropertyValue value_at(const Field& field) const {
    if (!field.path) {
      const FieldView& view = views_[field.index];
      return view.present ? value_of(view.kind, view.text) : PropertyValue{};
    }
    const JsonValue* value = record_ ? find_field(*record_, paths_[field.index]) : nullptr;
    if (value == nullptr) return {};
    if (value->kind() == JsonValue::Kind::boolean) {
      return {PropertyValue::Kind::scalar, value->as_boolean() ? "true" : "false"};
    }
    return value_of(value->kind(), value->text());
  }
  [[nodiscard]] bool meets(const Test& test) const {
    PropertyValue value = value_at(test.field);
    return value.kind == PropertyValue::Kind::scalar && value.text == test.condition->value;
  }
  [[nodiscard]] bool all_met(const std::vector<Test>& tests) const {
    return std::all_of(tests.begin(), tests.end(),
                       [this](const Test& test) { return meets(test); });
  }
  void note_met(std::vector<Test>& tests) {
    for (Test& test : tests) {
      if (!test.met && meets(test)) {
        test.met = true;
        --unmet_;
      }
    }
  }

  std::vector<std::string_view> names_;  // user, time, event, then the top-level keys
  std::vector<FieldView> views_;
  std::vector<FieldPath> paths_;
  std::optional<Field> by_;
  const std::string* by_name_ = nullptr;
  std::vector<Test> start_where_, return_where_;
  std::size_t unmet_ = 0;  // conditions no event met yet
  JsonParser parser_;
  std::optional<JsonValue> record_;
};

}  // namespace

Condition parse_condition(std::string_view option, std::string_view text) {
  std::size_t equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0) {
    throw Error(exit_code::usage,
                fmt::format("{}: '{}' is not FIELD=VALUE (such as plan=pro)", option, text));
  }
  return {std::string(text.substr(0, equals)), std::string(text.substr(equals + 1))};
}

namespace {

// Events parsed but not yet added: users are interned a batch at a time, after their table
// slots were prefetched, so the cache misses of a batch overlap instead of queueing (with a
// million users the lookup's misses cost more than parsing the line).
class EventBatch {
 public:
  static constexpr std::size_t capacity = 64;

  EventBatch(UserDictionary& users, Activity& activity, RollingEvents* rolling,
             Breakdown* breakdown)
      : users_(users), activity_(activity), rolling_(rolling), breakdown_(breakdown) {}

  void add(std::string_view user, Instant time, int period, bool starts, bool returns,
           std::uint32_t value) {
    std::uint64_t hash = UserDictionary::hash_of(user);
    __builtin_prefetch(users_.first_slot(hash));
    __builtin_prefetch(users_.first_slot(hash + 1));
    std::size_t begin = keys_.size();
    keys_.append(user);
    events_.push_back({hash, begin, user.size(), time, period, starts, returns, value});
  }
  [[nodiscard]] bool full() const { return events_.size() == capacity; }

  void flush() {
    for (const Pending& event : events_) {
      std::uint32_t id =
          users_.intern(std::string_view(keys_).substr(event.key, event.length), event.hash);
      if (event.starts) activity_.add_start(event.period, id);
      if (event.returns) activity_.add_return(event.period, id);
      if (rolling_ != nullptr) rolling_->add(id, event.time, event.starts, event.returns);
      if (breakdown_ != nullptr && event.starts) breakdown_->add_start(id, event.time, event.value);
      activity_.saw(event.time);
    }
    events_.clear();
    keys_.clear();
  }

 private:
  struct Pending {
    std::uint64_t hash;
    std::size_t key;
    std::size_t length;
    Instant time;
    int period;
    bool starts;
    bool returns;
    std::uint32_t value;  // the --by value's id
  };
  UserDictionary& users_;
  Activity& activity_;
  RollingEvents* rolling_;
  Breakdown* breakdown_;
  std::string keys_;  // the batch's user keys: the line's views do not outlive it
  std::vector<Pending> events_;
};

}  // namespace

ReadResult read_events(const std::vector<std::string>& inputs, const ReadOptions& options,
                       const Calendar& calendar, UserDictionary& users, Activity& activity,
                       RollingEvents* rolling, Breakdown* breakdown) {
  JsonlReader reader(inputs, options.input);
  const EventFields& fields = options.fields;
  Properties properties(options);
  std::span<FieldView> views = properties.views();
  EventBatch batch(users, activity, rolling, options.by ? breakdown : nullptr);
  SelectionCheck check(options.selection);
  Progress progress(options.progress, options.progress_label, total_input_bytes(inputs));
  ReadResult result;
  while (auto line = reader.next_fields(properties.names(), views)) {
    try {
      std::string_view user = key_in_field(views[0], fields.user);
      if (options.aliases != nullptr) user = options.aliases->resolve(user);
      Instant time = instant_in_field(views[1], fields.time);
      std::optional<std::string_view> event = event_name(views[2], fields.event);
      auto [named_start, named_return] = check.select(event);
      properties.read(reader.line_text());
      bool starts = properties.starts(named_start);
      std::uint32_t value = Breakdown::no_value;
      if (starts && options.by && breakdown != nullptr) {
        PropertyValue by = properties.by();
        if (by.kind == PropertyValue::Kind::scalar) value = breakdown->value_id(by.text);
      }
      batch.add(user, time, calendar.period_of(time), starts, properties.returns(named_return),
                value);
      ++result.events;
    } catch (const Error& error) {
      if (error.code() != exit_code::data) throw;
      reader.reject_line(*line, error.what());
    }
    if (batch.full()) batch.flush();
    progress.update(reader.bytes_read(), result.events);
  }
  batch.flush();
  progress.finish();
  result.skipped = reader.skipped();
  if (result.events > 0) {
    check.report(result);
    properties.report(result);
  }
  return result;
}

}  // namespace sluice::cohort
