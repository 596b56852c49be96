#include "sluice/crypto.hpp"

#include <gtest/gtest.h>

namespace sluice {
namespace {

// Known answers from FIPS 180-2 / NIST examples.
TEST(Sha256, MatchesKnownAnswers) {
  EXPECT_EQ(to_hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// FIPS 180's SHA-1 vectors (sha1_hex names Redis scripts for EVALSHA).
TEST(Sha1, MatchesKnownAnswers) {
  EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  Sha256 hasher;
  hasher.update("a");
  hasher.update("bc");
  EXPECT_EQ(to_hex(hasher.finish()), to_hex(sha256("abc")));
}

TEST(Sha256, FramingSeparatesFields) {
  Sha256 first, second;
  first.update_framed("ab");
  first.update_framed("c");
  second.update_framed("a");
  second.update_framed("bc");
  EXPECT_NE(to_hex(first.finish()), to_hex(second.finish()));
}

// RFC 4648 section 10 test vectors.
TEST(Base64, MatchesRfc4648Vectors) {
  EXPECT_EQ(to_base64(""), "");
  EXPECT_EQ(to_base64("f"), "Zg==");
  EXPECT_EQ(to_base64("fo"), "Zm8=");
  EXPECT_EQ(to_base64("foo"), "Zm9v");
  EXPECT_EQ(to_base64("foob"), "Zm9vYg==");
  EXPECT_EQ(to_base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(to_base64(std::string("\xff\x00", 2)), "/wA=");
}

TEST(RandomHex, HasRequestedLengthAndVaries) {
  auto a = random_hex(16), b = random_hex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace sluice
