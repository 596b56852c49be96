// names: one table per enum of the words that name its values (docs/ARCHITECTURE.md,
// "Command line"), so that parsing a word, printing a value and the "one of ..." message of a
// bad word all come from the same list and cannot drift apart.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/error.hpp"

namespace sluice {

template <typename Enum>
struct Named {
  std::string_view name;
  Enum value;
};

template <typename Enum, std::size_t Count>
class NameTable {
 public:
  constexpr explicit NameTable(std::array<Named<Enum>, Count> entries) : entries_(entries) {}

  [[nodiscard]] constexpr std::optional<Enum> find(std::string_view name) const {
    for (const Named<Enum>& entry : entries_) {
      if (entry.name == name) return entry.value;
    }
    return std::nullopt;
  }

  // The first word of the table for `value` (every value has one).
  [[nodiscard]] constexpr std::string_view name(Enum value) const {
    for (const Named<Enum>& entry : entries_) {
      if (entry.value == value) return entry.name;
    }
    return entries_[0].name;
  }

  // "none, equal, full": the words in table order, for messages and --help.
  [[nodiscard]] std::string choices() const {
    std::string text;
    for (const Named<Enum>& entry : entries_) {
      if (!text.empty()) text += ", ";
      text += entry.name;
    }
    return text;
  }

  // The words in table order, for shell completion (cli::complete_with).
  [[nodiscard]] std::vector<std::string> words() const {
    std::vector<std::string> names;
    for (const Named<Enum>& entry : entries_) names.emplace_back(entry.name);
    return names;
  }

  // The value `text` names, or Error(2): "OPTION: 'TEXT' is not one of a, b, c".
  [[nodiscard]] Enum parse(std::string_view option, std::string_view text) const {
    if (std::optional<Enum> value = find(text)) return *value;
    throw Error(exit_code::usage,
                std::string(option) + ": '" + std::string(text) + "' is not one of " + choices());
  }

  [[nodiscard]] constexpr const std::array<Named<Enum>, Count>& entries() const { return entries_; }

 private:
  std::array<Named<Enum>, Count> entries_;
};

}  // namespace sluice
