// An LD_PRELOAD shim that makes one system call fail, for the fault-injection tests
// (tests/cli/test_faults.py). It counts the calls of the chosen kinds on files whose path
// contains SLUICE_FAULT_PATH and fails the SLUICE_FAULT_AT-th one (1-based) with
// SLUICE_FAULT_ERRNO, without doing it; every later call passes through (a disk that failed
// once). When it fires it appends the call's kind and path to SLUICE_FAULT_REPORT, so that
// the test knows a fault was injected: a command that makes fewer calls than SLUICE_FAULT_AT
// simply runs to the end.
//
//   SLUICE_FAULT_OPS    comma-separated kinds: write (write, pwrite, pwrite64, writev),
//                       sync (fsync, fdatasync), read (read, pread, pread64); default write,sync
//   SLUICE_FAULT_ERRNO  EIO (default) or ENOSPC
//
// Without SLUICE_FAULT_AT and SLUICE_FAULT_PATH every call passes through untouched.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>

namespace {

enum Kind { write_kind, sync_kind, read_kind };
const char* const kind_names[] = {"write", "sync", "read"};

std::atomic<long> calls_counted{0};

template <typename Function>
Function next_definition(const char* name) {
  return reinterpret_cast<Function>(dlsym(RTLD_NEXT, name));
}

using WriteFunction = ssize_t (*)(int, const void*, size_t);
using PwriteFunction = ssize_t (*)(int, const void*, size_t, off_t);
using WritevFunction = ssize_t (*)(int, const struct iovec*, int);
using SyncFunction = int (*)(int);
using ReadFunction = ssize_t (*)(int, void*, size_t);
using PreadFunction = ssize_t (*)(int, void*, size_t, off_t);

bool kind_selected(Kind kind) {
  const char* operations = getenv("SLUICE_FAULT_OPS");
  if (operations == nullptr) return kind != read_kind;
  return strstr(operations, kind_names[kind]) != nullptr;
}

bool path_of(int fd, char* path, size_t size) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t length = readlink(link, path, size - 1);
  if (length < 0) return false;
  path[length] = '\0';
  return true;
}

void report(Kind kind, const char* path) {
  const char* report_path = getenv("SLUICE_FAULT_REPORT");
  if (report_path == nullptr) return;
  static const auto real_write = next_definition<WriteFunction>("write");
  int fd = open(report_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return;
  char line[4200];
  int length = snprintf(line, sizeof line, "%s %s\n", kind_names[kind], path);
  if (length > 0) real_write(fd, line, static_cast<size_t>(length));
  close(fd);
}

// The errno to fail this call with, or 0 to let it through.
int injected_error(Kind kind, int fd) {
  const char* target = getenv("SLUICE_FAULT_PATH");
  const char* at = getenv("SLUICE_FAULT_AT");
  if (target == nullptr || at == nullptr || !kind_selected(kind)) return 0;
  char path[4096];
  if (!path_of(fd, path, sizeof path) || strstr(path, target) == nullptr) return 0;
  if (calls_counted.fetch_add(1) + 1 != atol(at)) return 0;
  report(kind, path);
  const char* error = getenv("SLUICE_FAULT_ERRNO");
  return error != nullptr && strcmp(error, "ENOSPC") == 0 ? ENOSPC : EIO;
}

template <typename Result>
Result fail(int error) {
  errno = error;
  return static_cast<Result>(-1);
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buffer, size_t size) {
  static const auto real = next_definition<WriteFunction>("write");
  if (int error = injected_error(write_kind, fd)) return fail<ssize_t>(error);
  return real(fd, buffer, size);
}

ssize_t pwrite(int fd, const void* buffer, size_t size, off_t offset) {
  static const auto real = next_definition<PwriteFunction>("pwrite");
  if (int error = injected_error(write_kind, fd)) return fail<ssize_t>(error);
  return real(fd, buffer, size, offset);
}

ssize_t pwrite64(int fd, const void* buffer, size_t size, off_t offset) {
  static const auto real = next_definition<PwriteFunction>("pwrite64");
  if (int error = injected_error(write_kind, fd)) return fail<ssize_t>(error);
  return real(fd, buffer, size, offset);
}

ssize_t writev(int fd, const struct iovec* vectors, int count) {
  static const auto real = next_definition<WritevFunction>("writev");
  if (int error = injected_error(write_kind, fd)) return fail<ssize_t>(error);
  return real(fd, vectors, count);
}

int fsync(int fd) {
  static const auto real = next_definition<SyncFunction>("fsync");
  if (int error = injected_error(sync_kind, fd)) return fail<int>(error);
  return real(fd);
}

int fdatasync(int fd) {
  static const auto real = next_definition<SyncFunction>("fdatasync");
  if (int error = injected_error(sync_kind, fd)) return fail<int>(error);
  return real(fd);
}

ssize_t read(int fd, void* buffer, size_t size) {
  static const auto real = next_definition<ReadFunction>("read");
  if (int error = injected_error(read_kind, fd)) return fail<ssize_t>(error);
  return real(fd, buffer, size);
}

ssize_t pread(int fd, void* buffer, size_t size, off_t offset) {
  static const auto real = next_definition<PreadFunction>("pread");
  if (int error = injected_error(read_kind, fd)) return fail<ssize_t>(error);
  return real(fd, buffer, size, offset);
}

ssize_t pread64(int fd, void* buffer, size_t size, off_t offset) {
  static const auto real = next_definition<PreadFunction>("pread64");
  if (int error = injected_error(read_kind, fd)) return fail<ssize_t>(error);
  return real(fd, buffer, size, offset);
}

}  // extern "C"
