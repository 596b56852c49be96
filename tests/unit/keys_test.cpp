#include "sluice/keys.hpp"

#include <gtest/gtest.h>

#include <string>

#include "sluice/error.hpp"

namespace sluice {
namespace {

TEST(IsValidKey, AcceptsOneTo255PrintableAsciiCharacters) {
  EXPECT_TRUE(is_valid_key("x"));
  EXPECT_TRUE(is_valid_key("order-42/a:b\"c\"~!"));
  EXPECT_TRUE(is_valid_key(std::string(255, 'x')));
  EXPECT_TRUE(is_valid_key(std::string(1, '\x21')));
  EXPECT_TRUE(is_valid_key(std::string(1, '\x7e')));
}

TEST(IsValidKey, RefusesEmptyLongSpacesControlsAndNonAscii) {
  for (const std::string& bad :
       {std::string(), std::string(256, 'x'), std::string("a b"), std::string("tab\t"),
        std::string("caf\xC3\xA9"), std::string("del\x7f"), std::string("nul\0", 4)}) {
    EXPECT_FALSE(is_valid_key(bad)) << bad;
  }
}

TEST(ValidateKey, ThrowsAUsageErrorNamingWhatAndQuotingTheKey) {
  EXPECT_NO_THROW(validate_key("key", "L1:1:1"));
  try {
    validate_key("scope", "a\nb");
    FAIL() << "no exception";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), exit_code::usage);
    EXPECT_NE(std::string(error.what()).find("invalid scope \"a\\nb\""), std::string::npos)
        << error.what();
  }
}

TEST(StableHash, IsFnv1aOfThePartsJoinedByNul) {
  // Values from an independent FNV-1a (Python), and idemkey's stored key_hash of before.
  EXPECT_EQ(stable_hash({"server", "postgresql:///db"}), 0x180eca91dcd0377bull);
  EXPECT_EQ(static_cast<std::int64_t>(stable_hash({"default", "order-42"})), -7936223608931554293);
  EXPECT_EQ(stable_hash({}), 14695981039346656037ull);
  EXPECT_NE(stable_hash({"ab", "c"}), stable_hash({"a", "bc"}));
}

}  // namespace
}  // namespace sluice
