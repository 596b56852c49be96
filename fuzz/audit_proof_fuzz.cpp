// audit check-proof's input: any bytes read as `audit check-proof FILE` reads them (one JSON
// object: an inclusion or a consistency proof, its hex hashes, sizes and path). Expected: a
// verdict (0 or 1, a JSON record printed) or a rejection (Error(65)). Defects: a crash, a
// leak, UB (a path longer than the tree is deep, sizes near 2^64), any other exception or
// exit code.
#include <fcntl.h>
#include <unistd.h>

#include "audit.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  fuzz::MemoryFile input(data, size);
  if (input.path().empty()) return 0;
  int sink = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (sink < 0) return 0;
  {
    OutputStream out(sink, "/dev/null");
    fuzz::expect_value_or_data_error([&] {
      int status = audit::check_proof({input.path(), std::nullopt, std::nullopt}, out);
      fuzz::require(status == exit_code::success || status == audit::mismatch_exit);
    });
  }
  ::close(sink);
  return 0;
}
