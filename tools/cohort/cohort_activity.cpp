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

namespace {

Roaring mapped(const Roaring& bitmap, const std::vector<std::uint32_t>& ids) {
  std::vector<std::uint32_t> values;
  values.reserve(bitmap.cardinality());
  for (std::uint32_t id : bitmap) values.push_back(ids[id]);
  Roaring result(values.size(), values.data());
  result.runOptimize();
  return result;
}

void merge_bitmaps(PeriodBitmaps& into, const PeriodBitmaps& from,
                   const std::vector<std::uint32_t>& ids) {
  for (const auto& [period, bitmap] : from) into[period] |= mapped(bitmap, ids);
}

}  // namespace

void Activity::merge(const Activity& other, const std::vector<std::uint32_t>& ids) {
  merge_bitmaps(started_, other.started_, ids);
  merge_bitmaps(active_, other.active_, ids);
  if (other.latest_) saw(*other.latest_);
  last_started_ = last_active_ = {0, nullptr};
}

void Activity::put(bool started, int period, Roaring bitmap) {
  (started ? started_ : active_)[period] = std::move(bitmap);
  last_started_ = last_active_ = {0, nullptr};
}

}  // namespace sluice::cohort
