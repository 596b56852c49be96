#include "cohort_activity.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>

#include "sluice/error.hpp"

namespace sluice::cohort {

bool UserDictionary::holds(const Slot& slot, std::uint64_t hash, std::string_view key) const {
  if (slot.hash != hash || slot.length != key.size()) return false;
  if (key.size() <= inline_bytes)
    return std::memcmp(slot.bytes.data(), key.data(), key.size()) == 0;
  return key_of(slot.id) == key;
}

std::optional<Roaring> portable_bitmap(std::string_view bytes) {
  // The size check first: it reads the headers only and rejects what does not fit exactly.
  if (bytes.empty() ||
      roaring_bitmap_portable_deserialize_size(bytes.data(), bytes.size()) != bytes.size()) {
    return std::nullopt;
  }
  roaring_bitmap_t* bitmap = roaring_bitmap_portable_deserialize_safe(bytes.data(), bytes.size());
  if (bitmap == nullptr) return std::nullopt;
  return Roaring(bitmap);
}

void advise_huge_pages(void* memory, std::size_t bytes) {
  madvise(memory, bytes, MADV_HUGEPAGE);
}

std::uint32_t UserDictionary::intern(std::string_view key, std::uint64_t hash) {
  std::size_t mask = slots_.size() - 1;
  std::size_t index = hash & mask;
  for (; slots_[index].id != empty; index = (index + 1) & mask) {
    if (holds(slots_[index], hash, key)) return slots_[index].id;
  }
  if (ends_.size() >= empty) throw Error(exit_code::data, "more than 4294967294 distinct users");
  auto id = static_cast<std::uint32_t>(ends_.size());
  arena_.append(key);
  ends_.push_back(arena_.size());
  Slot& slot = slots_[index];
  slot.hash = hash;
  slot.id = id;
  slot.length = static_cast<std::uint32_t>(key.size());
  if (key.size() <= inline_bytes) std::memcpy(slot.bytes.data(), key.data(), key.size());
  if (2 * ends_.size() > slots_.size()) grow();
  return id;
}

// Doubles the table and places every user again (their hashes are kept in the slots).
void UserDictionary::grow() {
  std::vector<Slot, HugePageAllocator<Slot>> old = std::move(slots_);
  slots_.assign(old.size() * 2, Slot{});
  std::size_t mask = slots_.size() - 1;
  for (const Slot& slot : old) {
    if (slot.id == empty) continue;
    std::size_t index = slot.hash & mask;
    while (slots_[index].id != empty) index = (index + 1) & mask;
    slots_[index] = slot;
  }
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

std::uint32_t Breakdown::value_id(std::string_view value) {
  if (auto found = ids_.find(value); found != ids_.end()) return found->second;
  auto id = static_cast<std::uint32_t>(values_.size());
  if (id == no_value) throw Error(exit_code::data, "more than 4294967294 distinct --by values");
  values_.emplace_back(value);
  ids_.emplace(value, id);
  return id;
}

bool Breakdown::before(std::int64_t time, std::uint32_t value, std::int64_t other_time,
                       std::uint32_t other_value) const {
  if (time != other_time) return time < other_time;
  if (value == other_value || value == no_value) return false;
  return other_value == no_value || values_[value] < values_[other_value];
}

void Breakdown::add_start(std::uint32_t user, Instant time, std::uint32_t value) {
  if (first_.size() <= user) first_.resize(std::size_t{user} + 1);
  First& first = first_[user];
  std::int64_t micros = time.time_since_epoch().count();
  if (before(micros, value, first.time, first.value)) first = {micros, value};
}

std::vector<Breakdown::Group> Breakdown::groups() const {
  std::vector<Roaring> users(values_.size() + 1);  // the last: no value
  for (std::uint32_t user = 0; user < first_.size(); ++user) {
    const First& first = first_[user];
    if (first.time == INT64_MAX) continue;
    users[first.value == no_value ? values_.size() : first.value].add(user);
  }
  std::vector<std::uint32_t> order(values_.size());
  for (std::uint32_t id = 0; id < order.size(); ++id) order[id] = id;
  std::sort(order.begin(), order.end(),
            [this](std::uint32_t a, std::uint32_t b) { return values_[a] < values_[b]; });
  std::vector<Group> groups;
  for (std::uint32_t id : order) {
    if (!users[id].isEmpty()) groups.push_back({values_[id], std::move(users[id])});
  }
  if (!users.back().isEmpty()) groups.push_back({std::nullopt, std::move(users.back())});
  return groups;
}

}  // namespace sluice::cohort
