// zscore's metric points: any input run through run_stream as `zscore` runs it (the JSON
// Lines reader, the point's value and time, its series, the detector, the record written
// through): the defaults (one series, rolling z-score) without and with --skip-invalid, and
// with --skip-invalid `--key host --method seasonal --tz Europe/Berlin` (the same hour of
// previous days, local time). Expected: one output record per point, or a rejection
// (Error(65), or one report per bad line under --skip-invalid). Defects: a crash, a leak, UB,
// an output line that is not a JSON object with the added fields, a line counted twice or
// never under --skip-invalid, any other exception or exit code.
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "sluice/timezone.hpp"
#include "zscore_stream.hpp"

namespace {

using namespace sluice;
using namespace sluice::zscore;

std::vector<StreamOptions> make_options() {
  static const TimeZone berlin = TimeZone::named("--tz", "Europe/Berlin");
  StreamOptions defaults;
  StreamOptions skipping;
  skipping.input.skip_invalid = true;
  StreamOptions seasonal = skipping;
  seasonal.keys = {"host"};
  seasonal.detector.method = MethodKind::seasonal;
  seasonal.detector.seasonal.season = std::chrono::hours(24);  // the CLI's default --season
  seasonal.detector.seasonal.zone = &berlin;
  return {defaults, skipping, seasonal};
}

// What run_stream writes, kept in a memfd to be read back.
class Output {
 public:
  Output() : fd_(memfd_create("output", 0)) {}
  ~Output() {
    if (fd_ >= 0) close(fd_);
  }
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;
  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] std::string text() const {
    std::string text(static_cast<std::size_t>(lseek(fd_, 0, SEEK_END)), '\0');
    fuzz::require(pread(fd_, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size()));
    return text;
  }

 private:
  int fd_;
};

// A record written through: a JSON object with every field zscore adds ("reason" only when
// there is one).
void check_record(std::string_view line) {
  static JsonParser parser;
  ParseOutcome parsed = parser.parse_object(line);
  fuzz::require(parsed.value.has_value());
  for (std::string_view name : added_fields) {
    fuzz::require(name == "reason" || parsed.value->find(name) != nullptr);
  }
}

// Checks every line of the output; returns how many there are.
std::size_t check_output(std::string_view text) {
  std::size_t records = 0;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    fuzz::require(end != std::string_view::npos);
    check_record(text.substr(0, end));
    text.remove_prefix(end + 1);
    ++records;
  }
  return records;
}

void run(const std::string& path, StreamOptions options, std::size_t lines) {
  options.inputs = {path};
  Output output;
  StreamResult result;
  {
    OutputStream out(output.fd(), "output");
    result = run_stream(options, out);
    out.flush();
  }
  std::uint64_t dropped = result.seen_before + result.repeated + result.out_of_order;
  fuzz::require(check_output(output.text()) == result.points - dropped);
  if (options.input.skip_invalid) fuzz::require(result.points + result.skipped == lines);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<StreamOptions> configurations = make_options();
  fuzz::MemoryFile input(data, size);
  if (input.path().empty()) return 0;
  std::size_t lines = fuzz::line_count(fuzz::text_of(data, size));
  for (const StreamOptions& options : configurations) {
    fuzz::expect_value_or_data_error([&] { run(input.path(), options, lines); });
  }
  return 0;
}
