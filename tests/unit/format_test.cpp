#include "sluice/format.hpp"

#include <unistd.h>

#include <cstdio>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace sluice {
namespace {

std::string render(Format format) {
  testing::TempDir dir;
  std::string path = dir.file("out");
  FILE* file = std::fopen(path.c_str(), "w");
  {
    OutputStream out(fileno(file));
    RecordPrinter printer(out, format);
    printer.print(
        JsonValue::object({{"name", JsonValue::string("a,b")}, {"n", JsonValue::number("10")}}));
    printer.print(
        JsonValue::object({{"name", JsonValue::string("say \"hi\"")}, {"n", JsonValue::null()}}));
    printer.finish();
  }
  std::fclose(file);
  return testing::read_text(path);
}

TEST(RecordPrinter, JsonLines) {
  EXPECT_EQ(render(Format::jsonl),
            "{\"name\":\"a,b\",\"n\":10}\n{\"name\":\"say \\\"hi\\\"\",\"n\":null}\n");
}

TEST(RecordPrinter, CsvQuotesPerRfc4180) {
  EXPECT_EQ(render(Format::csv), "name,n\r\n\"a,b\",10\r\n\"say \"\"hi\"\"\",\r\n");
}

TEST(RecordPrinter, TableShowsControlCharactersEscapedAndCsvKeepsThem) {
  auto render_one = [](Format format) {
    testing::TempDir dir;
    std::string path = dir.file("out");
    FILE* file = std::fopen(path.c_str(), "w");
    {
      OutputStream out(fileno(file));
      RecordPrinter printer(out, format);
      printer.print(JsonValue::object({{"k\x1b[2J", JsonValue::string("x\x07y")}}));
      printer.finish();
    }
    std::fclose(file);
    return testing::read_text(path);
  };
  EXPECT_EQ(render_one(Format::table), "k\\u001b[2J\nx\\u0007y\n");
  EXPECT_EQ(render_one(Format::csv), "k\x1b[2J\r\nx\x07y\r\n");
}

TEST(RecordPrinter, TableAlignsColumns) {
  EXPECT_EQ(render(Format::table), "name      n\na,b       10\nsay \"hi\"\n");
}

}  // namespace
}  // namespace sluice
