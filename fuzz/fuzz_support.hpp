// What every fuzz target shares: the input as text or as a file, and the rule that
// sluice::Error is the expected answer to bad input (anything else escaping, a crash, a leak
// or UB is a defect).
//
// Targets that read with --skip-invalid report every rejected line on stderr, as the tools do;
// scripts/fuzz runs the targets with -close_fd_mask=2, which sends the target's stderr to
// /dev/null while libFuzzer's and the sanitizers' reports still reach the log.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sluice/error.hpp"

namespace sluice::fuzz {

inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A property that must hold: abort (a libFuzzer crash, with the input saved) when it does not.
inline void require(bool holds) {
  if (!holds) std::abort();
}

// Runs `parse` on the input; an Error it throws is a rejection, not a failure.
template <typename Parse>
void expect_value_or_error(Parse&& parse) {
  try {
    parse();
  } catch (const Error&) {
  }
}

// Runs `parse` on the input; an Error(65) it throws (bad input data) is a rejection. An Error
// with another exit code (70 is an internal error) is a defect, and so is any other exception
// (it escapes to libFuzzer).
template <typename Parse>
void expect_value_or_data_error(Parse&& parse) {
  try {
    parse();
  } catch (const Error& error) {
    require(error.code() == exit_code::data);
  }
}

// The lines a JSON Lines reader sees in `text`: one per '\n', and a last one without it.
inline std::size_t line_count(std::string_view text) {
  auto ends = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  return ends + (!text.empty() && text.back() != '\n' ? 1 : 0);
}

// The input as a file that a tool opens by name (/proc/self/fd/N of a memfd), as it opens its
// input operands: each open reads it from the start. path() is empty if it could not be made.
class MemoryFile {
 public:
  MemoryFile(const std::uint8_t* data, std::size_t size) : fd_(memfd_create("input", 0)) {
    if (fd_ < 0) return;
    if (size > 0 && write(fd_, data, size) != static_cast<ssize_t>(size)) return;
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemoryFile() {
    if (fd_ >= 0) close(fd_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

}  // namespace sluice::fuzz
