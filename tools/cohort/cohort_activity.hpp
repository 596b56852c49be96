// cohort_activity: the partial state of a retention analysis. Users get dense ids in
// first-seen order; for every period there is one bitmap of the users who did a start event
// and one of the users who did a return event in it. Everything a matrix needs follows from
// these bitmaps, and two states merge by OR-ing them (after mapping one side's user ids).
#pragma once

#include <array>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <roaring/roaring.hh>

#include "sluice/timeutil.hpp"

namespace sluice::cohort {

// madvise(MADV_HUGEPAGE); a refusal only costs speed.
void advise_huge_pages(void* memory, std::size_t bytes);

// Memory for large tables that are read at random: 2 MiB-aligned and marked for transparent
// huge pages, so that a lookup misses the cache but not also the TLB.
template <typename T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <typename U>
  explicit HugePageAllocator(const HugePageAllocator<U>&) {}
  T* allocate(std::size_t count);
  void deallocate(T* pointer, std::size_t) { std::free(pointer); }
  bool operator==(const HugePageAllocator&) const { return true; }
};

// User keys to dense ids, in first-seen order (so the users first seen together, who mostly
// share a cohort, get neighbouring ids and their bitmaps compress into runs).
//
// An open-addressing table of 32-byte slots (hash, id, and the key itself when it has at most
// 16 bytes) over one arena of all keys: looking up a known user with a short id touches one
// cache line, where std::unordered_map touches three or more, and this lookup is what an
// event costs most with a million users.
class UserDictionary {
 public:
  std::uint32_t intern(std::string_view key) { return intern(key, hash_of(key)); }
  // The same with the key's hash_of computed earlier, so that a caller can prefetch the
  // slots of a batch of keys before interning them.
  std::uint32_t intern(std::string_view key, std::uint64_t hash);
  static std::uint64_t hash_of(std::string_view key) { return std::hash<std::string_view>()(key); }
  // The slot where the probe for a key with this hash_of starts, for the caller to
  // __builtin_prefetch (with the slot after it, which for every second slot lies in the next
  // cache line). The caller prefetches because GCC 12 finds a member function that only
  // prefetches free of side effects and deletes its calls.
  [[nodiscard]] const void* first_slot(std::uint64_t hash) const {
    return &slots_[hash & (slots_.size() - 1)];
  }
  [[nodiscard]] std::size_t size() const { return ends_.size(); }
  [[nodiscard]] std::string_view key_of(std::uint32_t id) const {
    std::uint64_t begin = id == 0 ? 0 : ends_[id - 1];
    return std::string_view(arena_).substr(begin, ends_[id] - begin);
  }

 private:
  static constexpr std::uint32_t empty = UINT32_MAX;
  static constexpr std::size_t inline_bytes = 16;
  struct alignas(32) Slot {
    std::uint64_t hash = 0;
    std::uint32_t id = empty;
    std::uint32_t length = 0;
    std::array<char, inline_bytes> bytes{};  // the key when length <= inline_bytes
  };
  [[nodiscard]] bool holds(const Slot& slot, std::uint64_t hash, std::string_view key) const;
  void grow();
  std::string arena_;                // every key, back to back, in id order
  std::vector<std::uint64_t> ends_;  // where each key ends in the arena
  std::vector<Slot, HugePageAllocator<Slot>> slots_ =
      std::vector<Slot, HugePageAllocator<Slot>>(1024);  // a power of two, at most half full
};

template <typename T>
T* HugePageAllocator<T>::allocate(std::size_t count) {
  constexpr std::size_t huge_page = std::size_t{2} << 20;
  std::size_t bytes = count * sizeof(T);
  std::size_t alignment = bytes >= huge_page ? huge_page : alignof(T) < 64 ? 64 : alignof(T);
  bytes = (bytes + alignment - 1) / alignment * alignment;
  void* memory = std::aligned_alloc(alignment, bytes);
  if (memory == nullptr) throw std::bad_alloc();
  if (alignment == huge_page) advise_huge_pages(memory, bytes);
  return static_cast<T*>(memory);
}

using PeriodBitmaps = std::map<int, Roaring>;

// The bitmap in CRoaring's portable serialisation `bytes` (state files and the store), or
// nullopt unless the bytes are exactly one well-formed bitmap.
std::optional<Roaring> portable_bitmap(std::string_view bytes);

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

// Lets a std::unordered_map keyed by std::string find a std::string_view without a copy.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const {
    return std::hash<std::string_view>()(text);
  }
};
template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

// The --by group of each user: the field's value on their earliest start event. Of several
// start events at that instant the one with the smallest value (bytewise, a missing value
// last) wins, so that the order of the input does not matter.
class Breakdown {
 public:
  static constexpr std::uint32_t no_value = UINT32_MAX;  // the field is missing or null

  // The number standing for `value` from now on.
  std::uint32_t value_id(std::string_view value);
  void add_start(std::uint32_t user, Instant time, std::uint32_t value);

  struct Group {
    std::optional<std::string> value;  // nullopt: the users whose start event had none
    Roaring users;
  };
  // The users of each value, by value (bytewise), then the users without one.
  [[nodiscard]] std::vector<Group> groups() const;

 private:
  [[nodiscard]] bool before(std::int64_t time, std::uint32_t value, std::int64_t other_time,
                            std::uint32_t other_value) const;
  struct First {
    std::int64_t time = INT64_MAX;  // microseconds since the epoch; INT64_MAX: no start yet
    std::uint32_t value = no_value;
  };
  std::vector<First> first_;  // by user id
  std::vector<std::string> values_;
  StringMap<std::uint32_t> ids_;
};

}  // namespace sluice::cohort
