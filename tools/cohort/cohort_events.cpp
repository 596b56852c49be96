#include "cohort_events.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"

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

}  // namespace

namespace {

// Events parsed but not yet added: users are interned a batch at a time, after their table
// slots were prefetched, so the cache misses of a batch overlap instead of queueing (with a
// million users the lookup's misses cost more than parsing the line).
class EventBatch {
 public:
  static constexpr std::size_t capacity = 64;

  EventBatch(UserDictionary& users, Activity& activity, RollingEvents* rolling)
      : users_(users), activity_(activity), rolling_(rolling) {}

  void add(std::string_view user, Instant time, int period, bool starts, bool returns) {
    std::uint64_t hash = UserDictionary::hash_of(user);
    __builtin_prefetch(users_.first_slot(hash));
    __builtin_prefetch(users_.first_slot(hash + 1));
    std::size_t begin = keys_.size();
    keys_.append(user);
    events_.push_back({hash, begin, user.size(), time, period, starts, returns});
  }
  [[nodiscard]] bool full() const { return events_.size() == capacity; }

  void flush() {
    for (const Pending& event : events_) {
      std::uint32_t id =
          users_.intern(std::string_view(keys_).substr(event.key, event.length), event.hash);
      if (event.starts) activity_.add_start(event.period, id);
      if (event.returns) activity_.add_return(event.period, id);
      if (rolling_ != nullptr) rolling_->add(id, event.time, event.starts, event.returns);
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
  };
  UserDictionary& users_;
  Activity& activity_;
  RollingEvents* rolling_;
  std::string keys_;  // the batch's user keys: the line's views do not outlive it
  std::vector<Pending> events_;
};

}  // namespace

ReadResult read_events(const std::vector<std::string>& inputs, const ReadOptions& options,
                       const Calendar& calendar, UserDictionary& users, Activity& activity,
                       RollingEvents* rolling) {
  JsonlReader reader(inputs, options.input);
  const EventFields& fields = options.fields;
  std::array<std::string_view, 3> names = {fields.user, fields.time, fields.event};
  std::array<FieldView, 3> views;
  EventBatch batch(users, activity, rolling);
  SelectionCheck check(options.selection);
  ReadResult result;
  while (auto line = reader.next_fields(names, views)) {
    try {
      std::string_view user = key_in_field(views[0], fields.user);
      Instant time = instant_in_field(views[1], fields.time);
      std::optional<std::string_view> event = event_name(views[2], fields.event);
      auto [starts, returns] = check.select(event);
      batch.add(user, time, calendar.period_of(time), starts, returns);
      ++result.events;
    } catch (const Error& error) {
      if (error.code() != exit_code::data) throw;
      reader.reject_line(*line, error.what());
    }
    if (batch.full()) batch.flush();
  }
  batch.flush();
  result.skipped = reader.skipped();
  if (result.events > 0) check.report(result);
  return result;
}

}  // namespace sluice::cohort
