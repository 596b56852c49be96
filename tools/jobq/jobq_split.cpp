// jobq split: a large file as line-aligned byte ranges, one job each; jobq chunk: the bytes of
// one range, for the command that processes it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "jobq.hpp"
#include "sluice/error.hpp"
#include "sluice/signals.hpp"

namespace sluice::jobq {
namespace {

// The offset just past the first newline at or after `from`, or the file's size.
std::uint64_t next_line_start(const InputFile& file, std::uint64_t from, std::uint64_t size) {
  std::array<char, 65536> buffer{};
  std::uint64_t position = from;
  while (position < size) {
    ssize_t got = ::pread(file.fd(), buffer.data(), buffer.size(), static_cast<off_t>(position));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      throw Error(exit_code::io,
                  fmt::format("{}: read error: {}", file.name(), std::strerror(errno)));
    }
    if (got == 0) break;
    auto* newline =
        static_cast<const char*>(std::memchr(buffer.data(), '\n', static_cast<std::size_t>(got)));
    if (newline) return position + static_cast<std::uint64_t>(newline - buffer.data()) + 1;
    position += static_cast<std::uint64_t>(got);
  }
  return size;
}

std::uint64_t file_size(const InputFile& file) {
  struct stat status {};
  if (::fstat(file.fd(), &status) != 0 || !S_ISREG(status.st_mode)) {
    throw Error(exit_code::no_input, fmt::format("{}: not a regular file", file.name()));
  }
  return static_cast<std::uint64_t>(status.st_size);
}

}  // namespace

int split(Store& store, const Clock& clock, const SplitOptions& options, OutputStream& out) {
  InputFile file(options.file);
  std::string path = std::filesystem::absolute(options.file).lexically_normal().string();
  std::uint64_t size = file_size(file);
  std::vector<NewJob> jobs;
  Instant now = clock.now();
  for (std::uint64_t offset = 0; offset < size;) {
    throw_if_interrupted();
    std::uint64_t end = next_line_start(file, std::min(size, offset + options.chunk) - 1, size);
    NewJob job = options.job;
    job.payload = ObjectWriter()
                      .add_string("file", path)
                      .add_int("offset", static_cast<long long>(offset))
                      .add_int("length", static_cast<long long>(end - offset))
                      .finish();
    // Splitting again (after a crash, or after some ranges were done) adds no range twice.
    job.key = fmt::format("split:{}:{}:{}", path, offset, end - offset);
    job.run_at = now;
    job.where = options.file;
    jobs.push_back(std::move(job));
    offset = end;
  }
  for (const AddedJob& added : store.add_ranges(jobs, now)) {
    out.write_line(ObjectWriter()
                       .add_int("id", added.id)
                       .add_string("queue", added.queue)
                       .add_string("state", job_state_names.name(added.state))
                       .add_string("run_at", format_instant(added.run_at))
                       .add_string("outcome", add_outcome_names.name(added.outcome))
                       .finish());
  }
  return exit_code::success;
}

int print_chunk(OutputStream& out) {
  JsonlReader reader({});
  std::optional<Record> record = reader.next();
  if (!record) throw Error(exit_code::data, "<stdin>: no range given");
  std::string path;
  std::uint64_t position = 0, remaining = 0;
  try {
    // off_t's range: an offset or length pread cannot take is bad data, not an I/O error.
    path = string_in_field(field_in(record->value, "file"), "file");
    position = static_cast<std::uint64_t>(
        whole_number_in_field(field_in(record->value, "offset"), "offset", 0, INT64_MAX));
    remaining = static_cast<std::uint64_t>(
        whole_number_in_field(field_in(record->value, "length"), "length", 0, INT64_MAX));
  } catch (const Error& error) {
    if (error.code() != exit_code::data) throw;
    reader.reject(*record, fmt::format("{} (a range is {{\"file\": PATH, \"offset\": N, "
                                       "\"length\": N}})",
                                       error.what()));
  }
  InputFile input(path);
  std::array<char, 65536> buffer{};
  while (remaining > 0) {
    throw_if_interrupted();
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, buffer.size()));
    ssize_t got = ::pread(input.fd(), buffer.data(), want, static_cast<off_t>(position));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      throw Error(exit_code::io,
                  fmt::format("{}: read error: {}", input.name(), std::strerror(errno)));
    }
    if (got == 0)
      throw Error(exit_code::data, fmt::format("{}: shorter than the range", input.name()));
    out.write(std::string_view(buffer.data(), static_cast<std::size_t>(got)));
    position += static_cast<std::uint64_t>(got);
    remaining -= static_cast<std::uint64_t>(got);
  }
  return exit_code::success;
}

}  // namespace sluice::jobq
