// Where backoff's own output goes, and what it reads back from the command: the held stdout of
// an attempt (--hold-stdout), the event report (--report), the check for a closed stdout pipe
// downstream, each attempt's BACKOFF_RETRY_AFTER_FILE, and the lines of its output that
// --retry-on-output and --stop-on-output look for.
#pragma once

#include <regex.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace sluice::backoff {

// An attempt's stdout kept until the attempt's fate is known: in memory up to a limit, the
// rest in an unlinked temporary file.
class Spool {
 public:
  explicit Spool(std::uint64_t memory_limit) : memory_limit_(memory_limit) {}
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Throws Error(73) when the spill file cannot be created, Error(74) when it cannot be written.
  void append(std::string_view bytes);
  // Writes everything held to fd, then empties the spool. For stdout (`strict`), a closed pipe
  // throws Error(141) quietly and other write errors Error(74); otherwise errors are ignored.
  void deliver(int fd, bool strict);
  [[nodiscard]] std::uint64_t size() const { return memory_.size() + spilled_; }

 private:
  void clear();
  std::uint64_t memory_limit_;
  std::string memory_;
  int file_ = -1;
  std::uint64_t spilled_ = 0;
};

// BACKOFF_RETRY_AFTER_FILE: an empty file made for one attempt, in which the command may
// write the wait it asks for (see backoff(1), RETRY-AFTER); removed with this object.
class RequestFile {
 public:
  // Creates it in TMPDIR (default /tmp) with mode 0600; Error(73) when it cannot (the caller
  // then runs the attempt without it).
  RequestFile();
  ~RequestFile();
  RequestFile(const RequestFile&) = delete;
  RequestFile& operator=(const RequestFile&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  // What the command wrote: at most max_bytes + 1 bytes, so that a longer text shows as
  // longer. A file the command removed reads as empty; Error(74) when it cannot be read.
  [[nodiscard]] std::string contents(std::size_t max_bytes) const;

 private:
  std::string path_;
};

// A POSIX extended regular expression (regcomp(3), REG_EXTENDED) that lines are matched
// against: matches anywhere in the line unless anchored with ^ or $.
class OutputPattern {
 public:
  // Throws Error(2) naming `option` when `text` is not a valid ERE.
  OutputPattern(std::string_view option, const std::string& text);
  ~OutputPattern();
  OutputPattern(const OutputPattern&) = delete;
  OutputPattern& operator=(const OutputPattern&) = delete;
  // The whole of `line` is matched, NUL bytes included (glibc's REG_STARTEND).
  [[nodiscard]] bool matches(std::string_view line) const;

 private:
  regex_t regex_{};
};

// The longest line matched as one: a longer one is matched in pieces of this size, so that
// watching the output of a command that never writes a newline takes bounded memory.
inline constexpr std::size_t max_matched_line_bytes = 64 * 1024;

// Cuts a stream, fed in chunks as they arrive, into lines for `on_line`, without their "\n"
// and a "\r" before it. Holds at most one partial line of max_line_bytes: a longer line goes to
// `on_line` in pieces of max_line_bytes, and its rest as a line of its own.
class LineSplitter {
 public:
  LineSplitter(std::size_t max_line_bytes, std::function<void(std::string_view)> on_line)
      : max_line_bytes_(max_line_bytes), on_line_(std::move(on_line)) {}
  void feed(std::string_view bytes);
  // The last line, when the stream did not end with a newline.
  void finish();

 private:
  void keep(std::string_view piece);
  void end_line(std::string_view line);
  std::size_t max_line_bytes_;
  std::function<void(std::string_view)> on_line_;
  std::string partial_;
  bool cut_ = false;  // pieces of the current line have gone to on_line_ already
};

// True when stdout is a pipe or socket whose reading end is gone: more attempts could not
// deliver anything, so a wrapper must not retry because the command died of SIGPIPE.
bool stdout_is_closed_pipe();

// JSON Lines events appended to a file ("-" is stdout), one write per event so that a reader
// following the file sees whole lines.
class Report {
 public:
  // "" reports nothing. Throws Error(73) when the file cannot be opened.
  explicit Report(const std::string& path);
  ~Report();
  Report(const Report&) = delete;
  Report& operator=(const Report&) = delete;
  void write(const std::string& object);
  [[nodiscard]] bool enabled() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
  bool owned_ = false;
  std::string name_;
};

}  // namespace sluice::backoff
