// csv: reading CSV (RFC 4180) records one line at a time, for the real-world files tools load
// (ECB reference rates, World Bank indicators). Fields may be quoted ("a, b", "say ""hi""");
// a quoted field cannot span lines (none of those files does). A '\r' before the line end is
// dropped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice::csv {

// The fields of one line. Throws Error(65) (without a location: the caller adds it) for an
// unterminated quote or text after a closing quote.
std::vector<std::string> split_line(std::string_view line);

}  // namespace sluice::csv
