#include "cohort_activity.hpp"

#include <sys/mman.h>

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

}  // namespace sluice::cohort
