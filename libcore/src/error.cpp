#include "sluice/error.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

namespace sluice {

Error::Error(int code, std::string message, std::string location)
    : std::runtime_error(message), code_(code), location_(std::move(location)) {}

std::string location(std::string_view source, long long line) {
  return fmt::format("{}:{}", source, line);
}

namespace {
std::string& program_name_storage() {
  static std::string name = "sluice";
  return name;
}

bool use_colour() {
  static const bool colour = isatty(STDERR_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
  return colour;
}

std::string_view severity_word(Severity severity) {
  switch (severity) {
    case Severity::error:
      return "error";
    case Severity::warning:
      return "warning";
    case Severity::note:
      return "note";
  }
  return "error";
}

std::string_view severity_colour(Severity severity) {
  switch (severity) {
    case Severity::error:
      return "\033[1;31m";
    case Severity::warning:
      return "\033[1;35m";
    case Severity::note:
      return "\033[1;36m";
  }
  return "";
}
}  // namespace

void set_program_name(std::string_view name) {
  program_name_storage() = name;
}
const std::string& program_name() {
  return program_name_storage();
}

std::string without_control_characters(std::string_view text) {
  std::string shown;
  shown.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    bool c1 = byte == 0xc2 && i + 1 < text.size() &&
              static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
              static_cast<unsigned char>(text[i + 1]) <= 0x9f;
    if (byte < 0x20 || byte == 0x7f) {
      shown += fmt::format("\\u{:04x}", byte);
    } else if (c1) {
      shown += fmt::format("\\u{:04x}", static_cast<unsigned char>(text[++i]));
    } else {
      shown += text[i];
    }
  }
  return shown;
}

std::string single_line(std::string_view text) {
  std::string line;
  line.reserve(text.size());
  bool in_space = false;
  for (char c : text) {
    bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    if (space) {
      in_space = !line.empty();
      continue;
    }
    if (in_space) line += ' ';
    in_space = false;
    line += c;
  }
  return line;
}

void print_diagnostic(Severity severity, std::string_view where, std::string_view message) {
  std::string line = program_name() + ": ";
  if (use_colour()) {
    line += fmt::format("{}{}:\033[0m ", severity_colour(severity), severity_word(severity));
  } else {
    line += fmt::format("{}: ", severity_word(severity));
  }
  if (!where.empty()) line += fmt::format("{}: ", without_control_characters(where));
  line += without_control_characters(message);
  line += '\n';
  // One write call so that lines from concurrent processes do not interleave.
  [[maybe_unused]] auto written = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace sluice
