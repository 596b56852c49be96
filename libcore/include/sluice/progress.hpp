// progress: a one-line progress meter on stderr for long work
// (docs/ARCHITECTURE.md, "Input and output"): bytes and records done, rate and, when the total
// is known, percentage and ETA. Shown when stderr is a terminal (--progress auto), always, or
// never; never written to stdout.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sluice {

enum class ProgressMode { automatic, always, never };

class Progress {
 public:
  // total_bytes 0 means unknown (a pipe).
  Progress(ProgressMode mode, std::string label, std::uint64_t total_bytes);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Cheap enough to call per record: it looks at the clock every 1024 calls and redraws at
  // most five times a second, and only after the first second.
  void update(std::uint64_t bytes, std::uint64_t records);
  // For work counted in rows against a known total (a table copy), called once per batch:
  // looks at the clock on every call and redraws at most five times a second.
  void update_rows(std::uint64_t rows, std::uint64_t total_rows);
  // Text appended to the meter at each redraw of update() (", 42 series"): asked for only
  // when the meter is drawn, so it may count what per-record code should not format.
  void add_detail(std::function<std::string()> detail) { detail_ = std::move(detail); }
  // Erases the meter line (if one was drawn).
  void finish();
  [[nodiscard]] bool enabled() const { return enabled_; }

  // The text of the meter, for tests.
  static std::string render(std::string_view label, std::uint64_t bytes, std::uint64_t records,
                            std::uint64_t total_bytes, double seconds);
  static std::string render_rows(std::string_view label, std::uint64_t rows,
                                 std::uint64_t total_rows, double seconds);

 private:
  bool enabled_;
  bool drawn_ = false;
  std::string label_;
  std::uint64_t total_bytes_;
  std::uint32_t calls_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point next_draw_;
  std::function<std::string()> detail_;
  void draw(const std::string& text);
};

// The combined size of the inputs when all are regular files ("-" is stdin), else 0 (unknown).
std::uint64_t total_input_bytes(const std::vector<std::string>& paths);

}  // namespace sluice
