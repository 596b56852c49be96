// cohort_activity: the partial state of a retention analysis. Users get dense ids in
// first-seen order; for every period there is one bitmap of the users who did a start event
// and one of the users who did a return event in it. Everything a matrix needs follows from
// these bitmaps, and two states merge by OR-ing them (after mapping one side's user ids).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <roaring/roaring.hh>

#include "sluice/timeutil.hpp"

namespace sluice::cohort {

// User keys to dense ids, in first-seen order (so the users first seen together, who mostly
// share a cohort, get neighbouring ids and their bitmaps compress into runs).
class UserDictionary {
 public:
  std::uint32_t intern(std::string_view key);
  [[nodiscard]] std::size_t size() const { return keys_.size(); }
  [[nodiscard]] const std::string& key_of(std::uint32_t id) const { return keys_[id]; }

 private:
  std::deque<std::string> keys_;  // a deque: the map's views stay valid as it grows
  std::unordered_map<std::string_view, std::uint32_t> ids_;
};

using PeriodBitmaps = std::map<int, Roaring>;

class Activity {
 public:
  void add_start(int period, std::uint32_t user) {
    bitmap(started_, last_started_, period).add(user);
  }
  void add_return(int period, std::uint32_t user) {
    bitmap(active_, last_active_, period).add(user);
  }
  // Records that an event at `instant` was seen (for the default --as-of).
  void saw(Instant instant) {
    if (!latest_ || instant > *latest_) latest_ = instant;
  }

  // ORs `other` into this activity, user id i of `other` becoming ids[i] here.
  void merge(const Activity& other, const std::vector<std::uint32_t>& ids);
  // Replaces one period's bitmap (loading a saved state).
  void put(bool started, int period, Roaring bitmap);

  [[nodiscard]] const PeriodBitmaps& started() const { return started_; }
  [[nodiscard]] const PeriodBitmaps& active() const { return active_; }
  [[nodiscard]] std::optional<Instant> latest() const { return latest_; }

 private:
  // Events mostly come in time order: the last period's bitmap is remembered.
  static Roaring& bitmap(PeriodBitmaps& bitmaps, std::pair<int, Roaring*>& last, int period);
  PeriodBitmaps started_, active_;
  std::pair<int, Roaring*> last_started_{0, nullptr}, last_active_{0, nullptr};
  std::optional<Instant> latest_;
};

}  // namespace sluice::cohort
