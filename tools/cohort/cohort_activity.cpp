#include "cohort_activity.hpp"

#include <limits>

#include "sluice/error.hpp"

namespace sluice::cohort {

std::uint32_t UserDictionary::intern(std::string_view key) {
  auto found = ids_.find(key);
  if (found != ids_.end()) return found->second;
  if (keys_.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw Error(exit_code::data, "more than 4294967296 distinct users");
  }
  auto id = static_cast<std::uint32_t>(keys_.size());
  keys_.emplace_back(key);
  ids_.emplace(keys_.back(), id);
  return id;
}

Roaring& Activity::bitmap(PeriodBitmaps& bitmaps, std::pair<int, Roaring*>& last, int period) {
  if (last.second == nullptr || last.first != period) {
    last = {period, &bitmaps[period]};  // std::map nodes never move
  }
  return *last.second;
}

}  // namespace sluice::cohort
