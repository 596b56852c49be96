// zscore_series_table: a run's series by key.
//
// An open-addressing table of (hash, entry) slots over entries that never move. With 1,000
// series taking turns, std::unordered_map's walk from bucket to node to key (each a likely
// cache miss) was a sixth of a run; here a lookup reads one 16-byte slot and then the entry
// it uses anyway.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::zscore {

template <typename Value>
class SeriesTable {
 public:
  struct Entry {
    std::string key;
    Value value;
  };

  // The value stored under `key`, or nullptr.
  [[nodiscard]] Value* find(std::string_view key) {
    std::uint64_t hash = hash_of(key);
    for (std::size_t at = hash & mask();; at = (at + 1) & mask()) {
      const Slot& slot = slots_[at];
      if (slot.entry == nullptr) return nullptr;
      if (slot.hash == hash && slot.entry->key == key) return &slot.entry->value;
    }
  }

  // Stores `value` under `key`, which must not be in the table yet; the value's address stays
  // valid for the table's life.
  Value& insert(std::string_view key, Value value) {
    if (2 * (entries_.size() + 1) > slots_.size()) grow();
    Entry& entry = entries_.emplace_back(Entry{std::string(key), std::move(value)});
    place(&entry, hash_of(key));
    return entry.value;
  }

  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  // The entries in the order they were inserted.
  [[nodiscard]] const std::deque<Entry>& entries() const { return entries_; }
  // The same, values changeable (keys must stay as they are: the slots hash them).
  [[nodiscard]] std::deque<Entry>& entries() { return entries_; }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    Entry* entry = nullptr;
  };

  static std::uint64_t hash_of(std::string_view key) { return std::hash<std::string_view>{}(key); }
  [[nodiscard]] std::size_t mask() const { return slots_.size() - 1; }

  void place(Entry* entry, std::uint64_t hash) {
    std::size_t at = hash & mask();
    while (slots_[at].entry != nullptr) at = (at + 1) & mask();
    slots_[at] = Slot{hash, entry};
  }

  // Doubles the slots (kept at most half full, a power of two) and places every entry again.
  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& slot : old) {
      if (slot.entry != nullptr) place(slot.entry, slot.hash);
    }
  }

  std::vector<Slot> slots_ = std::vector<Slot>(16);
  std::deque<Entry> entries_;
};

}  // namespace sluice::zscore
