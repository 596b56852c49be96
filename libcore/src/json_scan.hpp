// json_scan: a fast, conservative validator for the common shape of a JSON Lines record, used
// by JsonParser::parse_fields before the full (simdjson) parser. Internal to the jsonl module.
#pragma once

#include <span>
#include <string_view>

#include "sluice/jsonl.hpp"

namespace sluice::detail {

// Returns true only when `text` is one JSON object that JsonParser::parse_object accepts;
// fields[i] is then the top-level member named names[i] (as parse_fields documents: a string's
// text, a number's token, "true"/"false"/"null", empty for a container), viewing `text`.
// Returns false whenever it is not sure (any escape sequence, a control character or a byte
// of 0x80 or above in a string, nesting deeper than 32 levels, an object of more than 16
// members, or any error): the caller then runs the full parser, which also words the error. `fields` may be
// partly written on false.
bool scan_plain_object(std::string_view text, std::span<const std::string_view> names,
                       std::span<FieldView> fields);

}  // namespace sluice::detail
