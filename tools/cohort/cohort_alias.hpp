// cohort_alias: identity merge (--alias-file). Each line of the file, {"from":ID,"to":ID},
// says that user `from` (an anonymous or device id) is user `to`; chains resolve to their
// end, so a -> b and b -> c make a and b both c.
#pragma once

#include <string>
#include <string_view>

#include "cohort_activity.hpp"

namespace sluice::cohort {

class Aliases {
 public:
  // Reads an alias file. Ids are strings or integers, as users are in events. Error(66) when
  // it is missing; Error(65) naming the file and line for a bad line, an id aliased to two
  // different ids, or a cycle (a -> b, b -> a: the line that closes it). {"from":a,"to":a}
  // says nothing and is allowed.
  static Aliases load(const std::string& path);

  // The user `key` is after every alias (`key` itself when it has none).
  [[nodiscard]] std::string_view resolve(std::string_view key) const {
    auto found = resolved_.find(key);
    return found == resolved_.end() ? key : std::string_view(found->second);
  }
  [[nodiscard]] std::size_t size() const { return resolved_.size(); }

 private:
  StringMap<std::string> resolved_;  // every aliased id to the end of its chain
};

}  // namespace sluice::cohort
