#include "sluice/fdio.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/signals.hpp"

namespace sluice {

std::string_view trim_whitespace(std::string_view text) {
  constexpr std::string_view whitespace = " \t\r\n";
  std::size_t first = text.find_first_not_of(whitespace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(whitespace) - first + 1);
}

// ---------------------------------------------------------------- output

int write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t wrote = ::write(fd, bytes.data(), bytes.size());
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    bytes.remove_prefix(static_cast<std::size_t>(wrote));
  }
  return 0;
}

std::string read_all(int fd, std::string_view name, std::uint64_t limit) {
  std::string bytes;
  std::array<char, 65536> chunk{};
  for (;;) {
    ssize_t got = ::read(fd, chunk.data(), chunk.size());
    if (got == 0) return bytes;
    if (got < 0) {
      if (errno == EINTR) {
        throw_if_interrupted();
        continue;
      }
      throw Error(exit_code::io, fmt::format("cannot read {}: {}", name, std::strerror(errno)));
    }
    bytes.append(chunk.data(), static_cast<std::size_t>(got));
    if (bytes.size() > limit) {
      throw Error(exit_code::data,
                  fmt::format("{} is larger than the limit of {} bytes", name, limit));
    }
  }
}

OutputStream::OutputStream(int fd, std::string name) : fd_(fd), name_(std::move(name)) {
  buffer_.reserve(1u << 16);
}

OutputStream::~OutputStream() {
  if (!buffer_.empty()) write_all(fd_, buffer_);
}

void OutputStream::write(std::string_view bytes) {
  buffer_.append(bytes);
  if (buffer_.size() >= (1u << 16)) flush();
}

void OutputStream::write_line(std::string_view line) {
  buffer_.append(line);
  end_line();
}

void OutputStream::end_line() {
  buffer_ += '\n';
  if (buffer_.size() >= (1u << 16)) flush();
}

void write_or_throw(int fd, std::string_view bytes, std::string_view name) {
  int error = write_all(fd, bytes);
  if (error == EPIPE) throw Error(exit_code::signal_base + SIGPIPE, "");
  if (error != 0) {
    throw Error(exit_code::io, fmt::format("cannot write {}: {}", name, std::strerror(error)));
  }
}

void OutputStream::flush() {
  if (buffer_.empty()) return;
  std::string pending;
  pending.swap(buffer_);
  buffer_.reserve(pending.capacity());
  write_or_throw(fd_, pending, name_);
}

// ---------------------------------------------------------------- reading lines

namespace {

// A reader starts with a small buffer (a one-record input, a test, a fuzz input pays for
// little) and doubles it while the input keeps coming, up to 1 MiB reads for large inputs.
constexpr std::size_t first_buffer_bytes = 64u << 10;
constexpr std::size_t steady_buffer_bytes = 1u << 20;

}  // namespace

LineReader::LineReader(int fd, std::string source_name, std::size_t max_line_bytes)
    : fd_(fd), source_name_(std::move(source_name)), max_line_bytes_(max_line_bytes) {
  buffer_.resize(first_buffer_bytes);
}

bool LineReader::fill() {
  // A signal must end a tool reading a regular file too, where read() is never interrupted.
  throw_if_interrupted();
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  bool large_input = buffer_.size() < steady_buffer_bytes && bytes_read_ >= buffer_.size();
  if (end_ == buffer_.size() || large_input) buffer_.resize(buffer_.size() * 2);
  if (on_idle_) {
    pollfd ready{fd_, POLLIN, 0};
    if (::poll(&ready, 1, 0) == 0) on_idle_();
  }
  for (;;) {
    ssize_t got = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    if (got > 0) {
      end_ += static_cast<std::size_t>(got);
      bytes_read_ += static_cast<std::uint64_t>(got);
      return true;
    }
    if (got == 0) return false;
    if (errno == EINTR) {
      throw_if_interrupted();
      continue;
    }
    throw Error(exit_code::io, fmt::format("cannot read: {}", std::strerror(errno)), source_name_);
  }
}

namespace {

std::string line_too_long_message(std::size_t max_line_bytes) {
  return fmt::format("line is longer than the limit of {} bytes", max_line_bytes);
}

std::string_view without_carriage_return(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

std::string_view framed_line(std::string_view line, std::string_view where,
                             std::size_t max_line_bytes) {
  if (line.size() > max_line_bytes) {
    throw Error(exit_code::data, line_too_long_message(max_line_bytes), std::string(where));
  }
  return without_carriage_return(line);
}

bool LineReader::next(std::string_view& line) {
  if (discarding_ && !discard_rest_of_line()) return false;
  std::size_t scanned = 0;  // bytes after begin_ already known to hold no '\n'
  for (;;) {
    const char* start = buffer_.data() + begin_ + scanned;
    const void* found = std::memchr(start, '\n', end_ - begin_ - scanned);
    if (found != nullptr) {
      auto newline = static_cast<std::size_t>(static_cast<const char*>(found) - buffer_.data());
      std::size_t size = newline - begin_;
      std::size_t first = begin_;
      begin_ = newline + 1;
      if (size > max_line_bytes_) too_long();
      line = without_carriage_return(std::string_view(buffer_.data() + first, size));
      ++line_number_;
      return true;
    }
    scanned = end_ - begin_;
    if (scanned > max_line_bytes_) {
      // The rest of this line is read and dropped by the next call, never buffered.
      begin_ = end_;
      discarding_ = true;
      too_long();
    }
    if (eof_ || !fill()) {
      eof_ = true;
      if (begin_ == end_) return false;
      line = without_carriage_return(std::string_view(buffer_.data() + begin_, end_ - begin_));
      begin_ = end_;
      ++line_number_;
      return true;
    }
  }
}

void LineReader::too_long() {
  ++line_number_;
  throw Error(exit_code::data, line_too_long_message(max_line_bytes_),
              location(source_name_, line_number_));
}

bool LineReader::discard_rest_of_line() {
  for (;;) {
    const void* found = std::memchr(buffer_.data() + begin_, '\n', end_ - begin_);
    if (found != nullptr) {
      begin_ = static_cast<std::size_t>(static_cast<const char*>(found) - buffer_.data()) + 1;
      discarding_ = false;
      return true;
    }
    begin_ = end_;
    if (eof_ || !fill()) {
      eof_ = true;
      discarding_ = false;
      return false;
    }
  }
}

// ---------------------------------------------------------------- input files

InputFile::InputFile(const std::string& path) {
  if (path.empty() || path == "-") {
    fd_ = STDIN_FILENO;
    name_ = "<stdin>";
    return;
  }
  name_ = path;
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    int code = errno == ENOENT ? exit_code::no_input : exit_code::io;
    throw Error(code, fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  }
  owned_ = true;
}

InputFile::~InputFile() {
  if (owned_) ::close(fd_);
}

int with_stdout(const std::function<int(OutputStream&)>& work) {
  OutputStream out(STDOUT_FILENO);
  int status = work(out);
  out.flush();
  return status;
}

}  // namespace sluice
