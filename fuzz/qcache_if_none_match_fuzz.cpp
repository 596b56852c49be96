// qcache check's --if-none-match: any text is "*", a list of entity tags, or a usage error
// (exit 2). Expected: every tag parsed is a quoted opaque tag of etagc bytes (RFC 9110), that
// tag matches itself and its weak form under the weak comparison, and "*" matches anything.
// Defects: a crash, UB, another exit code, a tag accepted that breaks the grammar.
#include "fuzz_support.hpp"
#include "qcache.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  std::string_view text = fuzz::text_of(data, size);
  try {
    qcache::EtagCondition condition = qcache::parse_if_none_match(text);
    fuzz::require(!condition.any || condition.opaque.empty());
    if (condition.any) fuzz::require(qcache::etag_matches(condition, std::nullopt));
    for (const std::string& opaque : condition.opaque) {
      fuzz::require(opaque.size() >= 2 && opaque.front() == '"' && opaque.back() == '"');
      for (std::size_t at = 1; at + 1 < opaque.size(); ++at) {
        auto c = static_cast<unsigned char>(opaque[at]);
        fuzz::require(c == 0x21 || (c >= 0x23 && c != 0x7F));
      }
      fuzz::require(qcache::etag_matches(condition, opaque));
      fuzz::require(qcache::etag_matches(condition, "W/" + opaque));
    }
  } catch (const Error& error) {
    fuzz::require(error.code() == exit_code::usage);
  }
  return 0;
}
