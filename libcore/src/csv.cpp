#include "sluice/csv.hpp"

#include "sluice/error.hpp"

namespace sluice::csv {
namespace {

// Reads the quoted field starting after the opening quote at `position`; leaves `position`
// after the closing quote.
std::string quoted_field(std::string_view line, std::size_t& position) {
  std::string field;
  while (true) {
    if (position >= line.size()) throw Error(exit_code::data, "unterminated quoted field");
    char c = line[position++];
    if (c != '"') {
      field.push_back(c);
    } else if (position < line.size() && line[position] == '"') {
      field.push_back('"');
      ++position;
    } else {
      return field;
    }
  }
}

}  // namespace

std::vector<std::string> split_line(std::string_view line) {
  if (line.ends_with('\r')) line.remove_suffix(1);
  std::vector<std::string> fields;
  std::size_t position = 0;
  while (true) {
    if (position < line.size() && line[position] == '"') {
      ++position;
      fields.push_back(quoted_field(line, position));
      if (position < line.size() && line[position] != ',') {
        throw Error(exit_code::data, "text after a closing quote");
      }
    } else {
      std::size_t comma = line.find(',', position);
      fields.emplace_back(line.substr(position, comma - position));
      position = comma == std::string_view::npos ? line.size() : comma;
    }
    if (position >= line.size()) return fields;
    ++position;  // the comma
  }
}

}  // namespace sluice::csv
