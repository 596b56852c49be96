// Queues and their weights (--queues high:5,default:3,low:1) and the smooth weighted round
// robin that picks among them (nginx's: every queue with due jobs gains its weight, the
// largest counter wins and pays the sum of those weights; a queue without due jobs is skipped
// and not charged). The counters live in the store, so short-lived workers stay fair.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::jobq {

struct QueueWeight {
  std::string queue;
  std::int64_t weight = 1;
};

inline constexpr std::int64_t max_weight = 1000000;

// A queue's name: 1 to 255 printable ASCII characters without spaces, ',' or ':' (the
// separators of --queues). Throws Error(2) naming `option` otherwise.
void validate_queue_name(std::string_view option, std::string_view name);

// "high:5,default:3,low:1"; a queue without ":W" weighs 1. Throws Error(2) naming `option`
// for an empty list, a bad queue name, a repeated queue, or a weight that is not a whole
// number in 1..1000000.
std::vector<QueueWeight> parse_queue_weights(std::string_view option, std::string_view text);

// The round robin's state for each queue of a claim, in --queues order.
struct Turn {
  std::int64_t weight = 1;
  std::int64_t current = 0;
  bool eligible = false;  // has a due job now
};

// Picks a queue among the eligible turns and updates the counters; nullopt (nothing changed)
// when none is eligible. Ties go to the queue listed first.
std::optional<std::size_t> pick_queue(std::vector<Turn>& turns);

}  // namespace sluice::jobq
