// fdio: plain file descriptor I/O (docs/ARCHITECTURE.md, "Input and output"): numbered lines
// in, buffered output, whole-file reads, and the error and signal policy they share (a read
// error is Error(74), a closed pipe ends the run quietly with 141, a termination signal
// throws Error(128+N)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace sluice {

// `text` without the spaces, tabs, CRs and LFs at either end (a field of a hand-edited file).
std::string_view trim_whitespace(std::string_view text);

// Reads '\n'-terminated lines from a file descriptor with 1-based numbering. The last line
// may lack its '\n'. A line end may also be CRLF: the '\r' before the '\n' (or before the
// end of input) is not part of the line. A line longer than max_line_bytes throws Error(65)
// at its location; the next call goes on after that line's '\n' without buffering the rest
// of it, so a caller that skips bad lines can skip this one too.
class LineReader {
 public:
  static constexpr std::size_t default_max_line_bytes = 64u << 20;
  LineReader(int fd, std::string source_name, std::size_t max_line_bytes = default_max_line_bytes);
  // Sets `line` (without '\n') and returns true, or returns false at end of input.
  // Throws Error(74) on a read error and Error(128+N) when interrupted by a signal.
  bool next(std::string_view& line);
  [[nodiscard]] long long line_number() const { return line_number_; }
  [[nodiscard]] const std::string& source_name() const { return source_name_; }
  [[nodiscard]] std::uint64_t bytes_read() const { return bytes_read_; }
  // Called before a read that would block (input is a pipe or terminal with nothing
  // ready), so a stream filter can flush and commit what it has before waiting.
  void on_idle(std::function<void()> callback) { on_idle_ = std::move(callback); }

 private:
  bool fill();
  [[noreturn]] void too_long();
  bool discard_rest_of_line();
  int fd_;
  std::string source_name_;
  std::size_t max_line_bytes_;
  std::string buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool eof_ = false;
  bool discarding_ = false;  // the current line was too long: skip to its '\n'
  long long line_number_ = 0;
  std::uint64_t bytes_read_ = 0;
  std::function<void()> on_idle_;
};

// The framing LineReader applies, for a reader that holds a whole input and splits it at
// '\n' itself: returns `line` without the '\r' of a CRLF line end, and throws Error(65) at
// `where` when it is longer than max_line_bytes.
std::string_view framed_line(std::string_view line, std::string_view where,
                             std::size_t max_line_bytes = LineReader::default_max_line_bytes);

// An input operand opened for reading: "-" is stdin. A missing file throws Error(66).
class InputFile {
 public:
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  int fd_ = -1;
  bool owned_ = false;
  std::string name_;
};

// Buffered output to a file descriptor. A closed pipe (EPIPE, when SIGPIPE is ignored) throws
// Error with code 141 and no message so the run ends quietly; other errors throw Error(74).
class OutputStream {
 public:
  explicit OutputStream(int fd, std::string name = "<stdout>");
  ~OutputStream();  // flushes, ignoring errors; call flush() to see them
  OutputStream(const OutputStream&) = delete;
  OutputStream& operator=(const OutputStream&) = delete;
  void write(std::string_view bytes);
  // Writes one record line: `line` followed by '\n'.
  void write_line(std::string_view line);
  // For a writer that builds a line in place rather than copying it in: append the line's
  // bytes to line_buffer(), then call end_line(), which adds the '\n'.
  std::string& line_buffer() { return buffer_; }
  void end_line();
  void flush();
  [[nodiscard]] int fd() const { return fd_; }

 private:
  int fd_;
  std::string name_;
  std::string buffer_;
};

// Runs `work` with a buffered stdout and flushes it after, so that a write error surfaces
// (Error(74), or 141 for a closed pipe) instead of being lost in a destructor. Returns what
// `work` returns: the exit status.
int with_stdout(const std::function<int(OutputStream&)>& work);

// Writes all of `bytes` to fd, retrying short writes and EINTR. Returns errno or 0.
int write_all(int fd, std::string_view bytes);

// write_all, then: a closed pipe (EPIPE, when SIGPIPE is ignored) throws Error(141) with no
// message so the run ends quietly; any other error throws Error(74) naming `name`.
void write_or_throw(int fd, std::string_view bytes, std::string_view name);

// Reads fd to its end. More than `limit` bytes throws Error(65) naming `name`; a read error
// throws Error(74); a termination signal throws Error(128+N).
std::string read_all(int fd, std::string_view name, std::uint64_t limit);

}  // namespace sluice
