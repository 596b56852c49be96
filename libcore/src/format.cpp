#include "sluice/format.hpp"

#include <algorithm>

#include "sluice/error.hpp"

namespace sluice {

std::string RecordPrinter::cell(const JsonValue& value) {
  switch (value.kind()) {
    case JsonValue::Kind::string:
    case JsonValue::Kind::number:
      return value.text();
    case JsonValue::Kind::null:
      return "";
    default:
      return to_json(value);
  }
}

void RecordPrinter::print_csv_row(const std::vector<std::string>& cells) {
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) line += ',';
    const std::string& text = cells[i];
    if (text.find_first_of(",\"\r\n") == std::string::npos) {
      line += text;
      continue;
    }
    line += '"';
    for (char c : text) {
      if (c == '"') line += '"';
      line += c;
    }
    line += '"';
  }
  out_.write(line);
  out_.write("\r\n");
}

void RecordPrinter::print(const JsonValue& record) {
  if (format_ == Format::jsonl) {
    out_.write_line(to_json(record));
    return;
  }
  bool first = columns_.empty();
  if (first) {
    for (const auto& member : record.members()) columns_.push_back(member.first);
    if (format_ == Format::csv) print_csv_row(columns_);
  }
  std::vector<std::string> cells;
  for (const auto& column : columns_) {
    const JsonValue* value = record.find(column);
    std::string text = value ? cell(*value) : std::string();
    // A table is for a terminal: text from the input must not drive it. CSV keeps the data.
    cells.push_back(format_ == Format::table ? without_control_characters(text) : text);
  }
  if (format_ == Format::csv) {
    print_csv_row(cells);
  } else {
    rows_.push_back(std::move(cells));
  }
}

void RecordPrinter::finish() {
  if (format_ != Format::table || columns_.empty()) {
    out_.flush();
    return;
  }
  for (auto& column : columns_) column = without_control_characters(column);
  std::vector<std::size_t> widths;
  for (const auto& column : columns_) widths.push_back(column.size());
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  auto print_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) line += "  ";
      line += cells[i];
      line.append(widths[i] - cells[i].size(), ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out_.write_line(line);
  };
  print_row(columns_);
  for (const auto& row : rows_) print_row(row);
  out_.flush();
}

void print_record(OutputStream& out, Format format, const JsonValue& record) {
  RecordPrinter printer(out, format);
  printer.print(record);
  printer.finish();
}

}  // namespace sluice
