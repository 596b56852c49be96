// The JSON Lines reader over a whole input (framing: BOM, CRLF, blank lines, a missing last
// newline, NUL bytes, long lines): every line is a record or a located rejection (with
// --skip-invalid), never a crash.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "fuzz_support.hpp"
#include "sluice/jsonl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  int fd = memfd_create("input", 0);
  if (fd < 0) return 0;
  if (size > 0 && write(fd, data, size) != static_cast<ssize_t>(size)) {
    close(fd);
    return 0;
  }
  lseek(fd, 0, SEEK_SET);
  // Rejected lines are reported on stderr; keep the fuzzer's output readable.
  int saved_stderr = dup(STDERR_FILENO);
  int null_fd = ::open("/dev/null", O_WRONLY);
  dup2(null_fd, STDERR_FILENO);
  fuzz::expect_value_or_error([&] {
    JsonlReader reader({"/proc/self/fd/" + std::to_string(fd)}, /*skip_invalid=*/true);
    while (auto record = reader.next()) {
      fuzz::require(record->value.kind() == JsonValue::Kind::object);
    }
  });
  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stderr);
  close(null_fd);
  close(fd);
  return 0;
}
