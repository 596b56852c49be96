#include "sluice/record_reader.hpp"

#include <algorithm>
#include <utility>

namespace sluice {

RecordReader::RecordReader(std::vector<std::string> paths, InputOptions options,
                           const std::vector<FieldPath>& fields)
    : reader_(std::move(paths), options) {
  for (const FieldPath& field : fields) {
    if (field.nested()) only_top_level_ = false;
    if (std::find(names_.begin(), names_.end(), field.name) == names_.end()) {
      names_.push_back(field.name);
    }
  }
  name_views_.assign(names_.begin(), names_.end());
  views_.resize(names_.size());
}

const JsonValue* RecordReader::whole_line() {
  // The line passed the strict reader already, so it parses.
  record_ = std::move(*parser_.parse_object(text_).value);
  return &record_;
}

const JsonValue* RecordReader::next() {
  if (!only_top_level_) {
    std::optional<Record> record = reader_.next();
    if (!record) return nullptr;
    text_ = record->text;
    line_ = record->line;
    record_ = std::move(record->value);
    return &record_;
  }
  std::optional<long long> line = reader_.next_fields(name_views_, views_);
  if (!line) return nullptr;
  line_ = *line;
  text_ = reader_.line_text();
  std::vector<JsonValue::Member> members;
  members.reserve(names_.size());
  for (std::size_t i = 0; i < names_.size(); ++i) {
    const FieldView& view = views_[i];
    if (!view.present) continue;
    switch (view.kind) {
      case JsonValue::Kind::string:
        members.emplace_back(names_[i], JsonValue::string(std::string(view.text)));
        break;
      case JsonValue::Kind::number:
        members.emplace_back(names_[i], JsonValue::number(std::string(view.text)));
        break;
      case JsonValue::Kind::boolean:
        members.emplace_back(names_[i], JsonValue::boolean(view.text == "true"));
        break;
      case JsonValue::Kind::null:
        members.emplace_back(names_[i], JsonValue::null());
        break;
      default:
        return whole_line();
    }
  }
  record_ = JsonValue::object(std::move(members));
  return &record_;
}

void RecordReader::reject(std::string_view message) {
  reader_.reject_line(line_, message);
}

}  // namespace sluice
