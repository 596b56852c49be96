#include "jobq_weights.hpp"

#include <charconv>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/keys.hpp"

namespace sluice::jobq {

namespace {

std::int64_t parsed_weight(std::string_view option, std::string_view entry, std::string_view text) {
  std::int64_t weight = 0;
  bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), weight);
  if (!digits || error != std::errc() || end != text.data() + text.size() || weight < 1 ||
      weight > max_weight) {
    throw Error(exit_code::usage,
                fmt::format("{}: '{}': the weight must be a whole number from 1 to {}", option,
                            entry, max_weight));
  }
  return weight;
}

}  // namespace

void validate_queue_name(std::string_view option, std::string_view name) {
  if (!is_valid_key(name) || name.find_first_of(",:") != std::string_view::npos) {
    throw Error(exit_code::usage,
                fmt::format("{}: '{}' is not a queue name (1 to 255 printable characters without "
                            "spaces, ',' or ':')",
                            option, name));
  }
}

std::vector<QueueWeight> parse_queue_weights(std::string_view option, std::string_view text) {
  std::vector<QueueWeight> queues;
  if (text.empty()) throw Error(exit_code::usage, fmt::format("{}: no queue given", option));
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string_view entry = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    std::size_t colon = entry.rfind(':');
    QueueWeight queue;
    queue.queue = std::string(entry.substr(0, colon));
    if (colon != std::string_view::npos) {
      queue.weight = parsed_weight(option, entry, entry.substr(colon + 1));
    }
    if (!is_valid_key(queue.queue) || queue.queue.find_first_of(",:") != std::string::npos) {
      throw Error(exit_code::usage,
                  fmt::format("{}: '{}' is not QUEUE or QUEUE:WEIGHT", option, entry));
    }
    for (const QueueWeight& earlier : queues) {
      if (earlier.queue == queue.queue) {
        throw Error(exit_code::usage,
                    fmt::format("{}: queue '{}' is listed twice", option, queue.queue));
      }
    }
    queues.push_back(std::move(queue));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return queues;
}

std::optional<std::size_t> pick_queue(std::vector<Turn>& turns) {
  std::optional<std::size_t> best;
  std::int64_t total = 0;
  for (std::size_t index = 0; index < turns.size(); ++index) {
    Turn& turn = turns[index];
    if (!turn.eligible) continue;
    turn.current += turn.weight;
    total += turn.weight;
    if (!best || turn.current > turns[*best].current) best = index;
  }
  if (best) turns[*best].current -= total;
  return best;
}

}  // namespace sluice::jobq
