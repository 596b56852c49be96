#include "sluice/names.hpp"

#include <gtest/gtest.h>

namespace sluice {
namespace {

enum class Colour { red, green, blue };

constexpr NameTable<Colour, 4> colour_names({{{"red", Colour::red},
                                              {"green", Colour::green},
                                              {"blue", Colour::blue},
                                              {"azure", Colour::blue}}});

TEST(NameTable, FindsEveryWordAndNamesEachValueByItsFirstWord) {
  EXPECT_EQ(colour_names.find("green"), Colour::green);
  EXPECT_EQ(colour_names.find("azure"), Colour::blue);
  EXPECT_EQ(colour_names.find("Green"), std::nullopt);
  EXPECT_EQ(colour_names.find(""), std::nullopt);
  EXPECT_EQ(colour_names.name(Colour::red), "red");
  EXPECT_EQ(colour_names.name(Colour::blue), "blue");
  static_assert(colour_names.find("red") == Colour::red, "usable at compile time");
}

TEST(NameTable, ABadWordIsAUsageErrorListingTheChoices) {
  EXPECT_EQ(colour_names.parse("--colour", "blue"), Colour::blue);
  EXPECT_EQ(colour_names.choices(), "red, green, blue, azure");
  try {
    (void)colour_names.parse("--colour", "purple");
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), exit_code::usage);
    EXPECT_EQ(std::string(error.what()),
              "--colour: 'purple' is not one of red, green, blue, azure");
  }
}

}  // namespace
}  // namespace sluice
