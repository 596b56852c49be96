// ttl's --where text rule (check_where_text) and its partition names (partition_named), on any
// text. Expected: the text accepted or Error(2); a name read back as a partition or not.
// Defects: a crash, UB, another exception or exit code; an accepted --where that could end
// the parenthesis ttl puts it in or start another statement (a ';', a comment, a backslash,
// a parenthesis closed below depth 0 or left open, outside quotes as SQL reads them); a
// partition name that partition_of does not name the same.
#include <string>

#include "fuzz_support.hpp"
#include "ttl_partitions.hpp"
#include "ttl_table.hpp"

namespace {

using namespace sluice;

// What SQL reads as outside quotes ('...' and "...", a doubled quote escaping itself).
bool balanced_outside_quotes(std::string_view text) {
  int depth = 0;
  char quote = 0;
  for (char c : text) {
    if (quote != 0) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') quote = c;
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0) return false;
  }
  return quote == 0 && depth == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::text_of(data, size);
  try {
    ttl::check_where_text(text);
    for (std::string_view forbidden : {";", "--", "/*", "\\"}) {
      fuzz::require(text.find(forbidden) == std::string_view::npos);
    }
    fuzz::require(balanced_outside_quotes(text));
  } catch (const Error& error) {
    fuzz::require(error.code() == exit_code::usage);
  }
  if (auto partition = ttl::partition_named("t", text)) {
    fuzz::require(partition->from < partition->until);
    fuzz::require(ttl::partition_of("t", text.size() == 9 ? ttl::Period::month : ttl::Period::day,
                                    partition->from)
                      .name == text);
  }
  return 0;
}
