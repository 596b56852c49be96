#include "cohort_alias.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::cohort {

namespace {

struct Alias {
  std::string to;
  long long line = 0;
};

// The cycle at the end of `walk` (from index `from`) as an error at the line of its last link
// in the file (the one that closed it), the cycle written from that link on.
[[noreturn]] void refuse_cycle(const std::string& path, const std::vector<std::string_view>& walk,
                               std::size_t from, const StringMap<Alias>& aliases) {
  std::vector<std::string_view> cycle(walk.begin() + static_cast<std::ptrdiff_t>(from), walk.end());
  auto line_of = [&aliases](std::string_view id) { return aliases.find(id)->second.line; };
  auto last = std::max_element(
      cycle.begin(), cycle.end(),
      [&](std::string_view a, std::string_view b) { return line_of(a) < line_of(b); });
  long long line = line_of(*last);
  std::rotate(cycle.begin(), last, cycle.end());
  cycle.push_back(cycle.front());
  throw Error(exit_code::data, fmt::format("alias cycle: {}", fmt::join(cycle, " -> ")),
              fmt::format("{}:{}", path, line));
}

StringMap<Alias> read_aliases(const std::string& path) {
  JsonlReader reader({path});
  std::array<std::string_view, 2> names = {"from", "to"};
  std::array<FieldView, 2> views;
  StringMap<Alias> aliases;
  while (auto line = reader.next_fields(names, views)) {
    std::string message;
    try {
      std::string from(key_in_field(views[0], "from"));
      std::string to(key_in_field(views[1], "to"));
      if (from == to) continue;
      auto [found, added] = aliases.try_emplace(std::move(from), Alias{to, *line});
      if (!added && found->second.to != to) {
        message = fmt::format("user '{}' is already aliased to '{}' (line {}), not to '{}'",
                              found->first, found->second.to, found->second.line, to);
      }
    } catch (const Error& error) {
      if (error.code() != exit_code::data) throw;
      message = error.what();
    }
    if (!message.empty()) reader.reject_line(*line, message);
  }
  return aliases;
}

}  // namespace

Aliases Aliases::load(const std::string& path) {
  StringMap<Alias> aliases = read_aliases(path);
  Aliases result;
  std::vector<std::string_view> walk;
  StringMap<std::size_t> on_walk;
  for (const auto& entry : aliases) {
    if (result.resolved_.contains(entry.first)) continue;
    // Follow the chain to an id that has no alias or whose end is known.
    walk.assign(1, entry.first);
    on_walk.clear();
    on_walk.emplace(entry.first, 0);
    std::string end;
    for (std::string_view id = entry.second.to;;) {
      if (auto known = result.resolved_.find(id); known != result.resolved_.end()) {
        end = known->second;
        break;
      }
      auto next = aliases.find(id);
      if (next == aliases.end()) {
        end = id;
        break;
      }
      if (auto seen = on_walk.find(id); seen != on_walk.end()) {
        refuse_cycle(path, walk, seen->second, aliases);
      }
      on_walk.emplace(id, walk.size());
      walk.push_back(next->first);
      id = next->second.to;
    }
    for (std::string_view id : walk) result.resolved_.emplace(id, end);
  }
  return result;
}

}  // namespace sluice::cohort
