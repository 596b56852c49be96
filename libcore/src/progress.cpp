#include "sluice/progress.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "sluice/fdio.hpp"

namespace sluice {
namespace {

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[unit]);
}

}  // namespace

Progress::Progress(ProgressMode mode, std::string label, std::uint64_t total_bytes)
    : enabled_(mode == ProgressMode::always ||
               (mode == ProgressMode::automatic && isatty(STDERR_FILENO) == 1)),
      label_(std::move(label)),
      total_bytes_(total_bytes),
      started_(std::chrono::steady_clock::now()),
      next_draw_(started_ + std::chrono::seconds(1)) {}

Progress::~Progress() {
  finish();
}

std::string Progress::render(std::string_view label, std::uint64_t bytes, std::uint64_t records,
                             std::uint64_t total_bytes, double seconds) {
  double rate = seconds > 0 ? static_cast<double>(records) / seconds : 0;
  std::string text = fmt::format("{}: {} records, {}, {:.0f} records/s", label, records,
                                 human_bytes(static_cast<double>(bytes)), rate);
  if (total_bytes > 0 && bytes > 0 && bytes <= total_bytes) {
    double fraction = static_cast<double>(bytes) / static_cast<double>(total_bytes);
    double remaining = seconds * (1 - fraction) / fraction;
    text += fmt::format(", {:.0f}%, ETA {:.0f}s", fraction * 100, remaining);
  }
  return text;
}

std::string Progress::render_rows(std::string_view label, std::uint64_t rows,
                                  std::uint64_t total_rows, double seconds) {
  double rate = seconds > 0 ? static_cast<double>(rows) / seconds : 0;
  std::string text = fmt::format("{}: {} of {} rows, {:.0f} rows/s", label, rows, total_rows, rate);
  if (total_rows > 0 && rows > 0 && rows <= total_rows) {
    double fraction = static_cast<double>(rows) / static_cast<double>(total_rows);
    double remaining = seconds * (1 - fraction) / fraction;
    text += fmt::format(", {:.0f}%, ETA {:.0f}s", fraction * 100, remaining);
  }
  return text;
}

void Progress::update(std::uint64_t bytes, std::uint64_t records) {
  if (!enabled_ || (++calls_ & 1023) != 0) return;
  auto now = std::chrono::steady_clock::now();
  if (now < next_draw_) return;
  next_draw_ = now + std::chrono::milliseconds(200);
  double seconds = std::chrono::duration<double>(now - started_).count();
  draw(render(label_, bytes, records, total_bytes_, seconds) + (detail_ ? detail_() : ""));
}

void Progress::update_rows(std::uint64_t rows, std::uint64_t total_rows) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now < next_draw_) return;
  next_draw_ = now + std::chrono::milliseconds(200);
  double seconds = std::chrono::duration<double>(now - started_).count();
  draw(render_rows(label_, rows, total_rows, seconds));
}

void Progress::draw(const std::string& text) {
  write_all(STDERR_FILENO, "\r" + text + "\033[K");
  drawn_ = true;
}

void Progress::finish() {
  if (!drawn_) return;
  write_all(STDERR_FILENO, "\r\033[K");
  drawn_ = false;
}

std::uint64_t total_input_bytes(const std::vector<std::string>& paths) {
  std::uint64_t total = 0;
  const std::vector<std::string> standard_input{"-"};
  for (const auto& path : paths.empty() ? standard_input : paths) {
    struct stat info {};
    // stdin counts when it was redirected from a regular file.
    int status = path == "-" ? ::fstat(STDIN_FILENO, &info) : ::stat(path.c_str(), &info);
    if (status != 0 || !S_ISREG(info.st_mode)) return 0;
    total += static_cast<std::uint64_t>(info.st_size);
  }
  return total;
}

}  // namespace sluice
