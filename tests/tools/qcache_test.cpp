#include <filesystem>

#include <gtest/gtest.h>

#include "qcache.hpp"
#include "sluice/crypto.hpp"
#include "sluice/error.hpp"
#include "test_support.hpp"

namespace sluice::qcache {
namespace {

using namespace std::chrono_literals;

const Instant t0 = parse_instant("2026-03-01T12:00:00Z");

class QcacheStore : public ::testing::Test {
 protected:
  void SetUp() override { store_ = std::make_unique<Store>(dir_.file("q.db"), db::OpenOptions{}); }
  Entry entry(std::string key, std::vector<TagVersion> tags = {}) {
    Entry result;
    result.key = std::move(key);
    result.command = std::string("echo\0hi\0", 8);
    result.created_at = t0;
    result.fresh_until = t0 + 1min;
    result.stale_until = t0 + 2min;
    result.exit_status = 0;
    result.stdout_bytes = std::string("a\0b", 3);
    result.stderr_bytes = "warn";
    result.tags = std::move(tags);
    return result;
  }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

RunOptions options_for(std::vector<std::string> command) {
  RunOptions options;
  options.command = std::move(command);
  return options;
}

TEST(CacheKey, DependsOnEveryPartOfTheRequest) {
  RunOptions options = options_for({"report", "--day", "1"});
  std::string plain = cache_key(options, std::nullopt, {});
  EXPECT_EQ(plain.size(), 64U);
  EXPECT_EQ(plain, cache_key(options, std::nullopt, {}));
  EXPECT_NE(plain, cache_key(options_for({"report", "--day 1"}), std::nullopt, {}));
  EXPECT_NE(plain, cache_key(options, std::string(), {}));  // empty stdin is still stdin
  EXPECT_NE(plain, cache_key(options, std::nullopt, {{"table:users", 0}}));
  EXPECT_NE(cache_key(options, std::nullopt, {{"table:users", 0}}),
            cache_key(options, std::nullopt, {{"table:users", 1}}));
  RunOptions extra = options;
  extra.key_extra = "";
  EXPECT_NE(plain, cache_key(extra, std::nullopt, {}));
}

TEST(CacheKey, TagsAreASet) {
  RunOptions options = options_for({"x"});
  std::string sorted = cache_key(options, std::nullopt, {{"a", 1}, {"b", 0}});
  EXPECT_EQ(sorted, cache_key(options, std::nullopt, {{"b", 0}, {"a", 1}}));
  EXPECT_EQ(sorted, cache_key(options, std::nullopt, {{"b", 0}, {"a", 1}, {"b", 0}}));
  EXPECT_NE(sorted, cache_key(options, std::nullopt, {{"a", 0}, {"b", 1}}));
}

TEST(CacheKey, EnvironmentNamesAreASet) {
  ::setenv("QCACHE_TEST_A", "1", 1);
  ::unsetenv("QCACHE_TEST_B");
  RunOptions one = options_for({"x"});
  one.environment_names = {"QCACHE_TEST_A", "QCACHE_TEST_B"};
  RunOptions other = one;
  other.environment_names = {"QCACHE_TEST_B", "QCACHE_TEST_A", "QCACHE_TEST_A"};
  EXPECT_EQ(cache_key(one, std::nullopt, {}), cache_key(other, std::nullopt, {}));
  std::string before = cache_key(one, std::nullopt, {});
  ::setenv("QCACHE_TEST_B", "", 1);  // set but empty differs from unset
  EXPECT_NE(before, cache_key(one, std::nullopt, {}));
  ::unsetenv("QCACHE_TEST_B");
  ::unsetenv("QCACHE_TEST_A");
}

TEST(CheckedTags, SortsDropsRepeatsAndRefusesControlCharacters) {
  EXPECT_EQ(checked_tags({"table:users", "a", "table:users"}),
            (std::vector<std::string>{"a", "table:users"}));
  for (const std::string& bad : {std::string("a\x01"), std::string("a b"), std::string()}) {
    EXPECT_EQ(testing::exit_status_of([&] { checked_tags({bad}); }), exit_code::usage) << bad;
  }
}

TEST(Etag, IsTheFirst128BitsOfSha256) {
  std::string expected = "\"" + to_hex(sha256("hello\n")).substr(0, 32) + "\"";
  EXPECT_EQ(content_etag("hello\n"), expected);
  EXPECT_EQ(content_etag("hello\n", EtagStrength::weak), "W/" + expected);
  EXPECT_EQ(content_etag(""), "\"e3b0c44298fc1c149afbf4c8996fb924\"");
}

TEST(IfNoneMatch, ParsesListsStarAndEmptyElements) {
  EtagCondition list = parse_if_none_match(" \"a\" , W/\"b\",,\"\"");
  EXPECT_FALSE(list.any);
  EXPECT_EQ(list.opaque, (std::vector<std::string>{"\"a\"", "\"b\"", "\"\""}));
  EXPECT_TRUE(parse_if_none_match(" * ").any);
  EXPECT_TRUE(parse_if_none_match("").opaque.empty());
}

TEST(IfNoneMatch, RefusesMalformedValues) {
  for (std::string_view bad :
       {"abc", "\"a", "\"a\" \"b\"", "*, \"a\"", "w/\"a\"", "\"a b\"", "\"a\x01\""}) {
    EXPECT_EQ(testing::exit_status_of([&] { parse_if_none_match(bad); }), exit_code::usage) << bad;
  }
}

TEST(IfNoneMatch, UsesWeakComparison) {
  EtagCondition condition = parse_if_none_match("W/\"x\", \"y\"");
  EXPECT_TRUE(etag_matches(condition, "\"x\""));
  EXPECT_TRUE(etag_matches(condition, "W/\"y\""));
  EXPECT_FALSE(etag_matches(condition, "\"z\""));
  EXPECT_FALSE(etag_matches(condition, std::nullopt));
  EXPECT_TRUE(etag_matches(parse_if_none_match("*"), std::nullopt));
  EXPECT_FALSE(etag_matches(parse_if_none_match(""), "\"x\""));
}

TEST_F(QcacheStore, StoresAndFindsAnEntryByteForByte) {
  Entry stored = entry("k1", {{"t", 0}});
  stored.etag = "\"e\"";
  store_->store(stored, std::nullopt);
  std::optional<Entry> found = store_->find("k1", Store::TagsToo::yes);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->stdout_bytes, std::string("a\0b", 3));
  EXPECT_EQ(found->stderr_bytes, "warn");
  EXPECT_EQ(found->command, std::string("echo\0hi\0", 8));
  EXPECT_EQ(found->fresh_until, t0 + 1min);
  EXPECT_EQ(found->etag, "\"e\"");
  ASSERT_EQ(found->tags.size(), 1U);
  EXPECT_EQ(found->tags[0].tag, "t");
  EXPECT_FALSE(store_->find("k2"));
}

TEST_F(QcacheStore, OneClaimAtATimeUntilItsLeaseLapses) {
  EXPECT_EQ(store_->claim("k", "one", t0, t0 + 30s), ClaimOutcome::claimed);
  EXPECT_EQ(store_->claim("k", "two", t0 + 29s, t0 + 59s), ClaimOutcome::busy);
  EXPECT_TRUE(store_->renew("k", "one", t0 + 60s));
  EXPECT_EQ(store_->claim("k", "two", t0 + 59s, t0 + 89s), ClaimOutcome::busy);
  EXPECT_EQ(store_->claim("k", "two", t0 + 60s, t0 + 90s), ClaimOutcome::claimed);
  EXPECT_FALSE(store_->renew("k", "one", t0 + 120s));  // taken over
}

TEST_F(QcacheStore, AStoredEntryEndsItsClaimAndStopsNewOnes) {
  ASSERT_EQ(store_->claim("k1", "one", t0, t0 + 30s), ClaimOutcome::claimed);
  store_->store(entry("k1"), std::string("one"));
  EXPECT_EQ(store_->claim("k1", "two", t0, t0 + 30s), ClaimOutcome::fresh);
  EXPECT_EQ(store_->claim("k1", "two", t0 + 1min, t0 + 2min), ClaimOutcome::claimed);  // stale
  EXPECT_EQ(store_->totals().computing, 1);
  EXPECT_EQ(store_->collect_garbage(t0 + 2min - 1us, 10).claims, 0);  // its lease is live
  EXPECT_EQ(store_->claim_state("k1", t0 + 2min - 1us), Store::ClaimState::live);
  EXPECT_EQ(store_->claim_state("k1", t0 + 2min), Store::ClaimState::lapsed);
  EXPECT_EQ(store_->collect_garbage(t0 + 2min, 10).claims, 1);
  EXPECT_EQ(store_->claim_state("k1", t0 + 2min), Store::ClaimState::none);
}

TEST_F(QcacheStore, AClaimGivenBackStaysAMarkUntilTheNextClaim) {
  ASSERT_EQ(store_->claim("k1", "one", t0, t0 + 30s), ClaimOutcome::claimed);
  store_->release("k1", "other");  // not its token: nothing happens
  EXPECT_EQ(store_->claim_state("k1", t0), Store::ClaimState::live);
  store_->release("k1", "one");
  EXPECT_EQ(store_->claim_state("k1", t0), Store::ClaimState::given_back);
  EXPECT_EQ(store_->totals().computing, 0);
  EXPECT_FALSE(store_->renew("k1", "one", t0 + 30s));
  EXPECT_EQ(store_->claim("k1", "two", t0, t0 + 30s), ClaimOutcome::claimed);
  EXPECT_EQ(store_->claim_state("k1", t0), Store::ClaimState::live);
  store_->release("k1", "two");
  EXPECT_EQ(store_->collect_garbage(t0, 10).claims, 1);
  EXPECT_EQ(store_->claim_state("k1", t0), Store::ClaimState::none);
}

TEST_F(QcacheStore, InvalidateBumpsVersionsAndGcDeletesOnlyTheUnreachable) {
  std::vector<TagVersion> before = store_->tag_versions({"a", "b"});
  EXPECT_EQ(before[0].version, 0);
  store_->store(entry("ka", {{"a", 0}}), std::nullopt);
  store_->store(entry("kb", {{"b", 0}}), std::nullopt);
  store_->store(entry("kn"), std::nullopt);
  std::vector<TagVersion> after = store_->invalidate({"a"});
  ASSERT_EQ(after.size(), 1U);
  EXPECT_EQ(after[0].version, 1);
  EXPECT_EQ(store_->invalidate({"a"})[0].version, 2);
  Store::Collected collected = store_->collect_garbage(t0, 1);
  EXPECT_EQ(collected.expired, 0);
  EXPECT_EQ(collected.unreachable, 1);
  EXPECT_FALSE(store_->find("ka"));
  EXPECT_TRUE(store_->find("kb"));
  EXPECT_TRUE(store_->find("kn"));
}

TEST_F(QcacheStore, GcDeletesExpiredEntriesInBatches) {
  for (int i = 0; i < 5; ++i) store_->store(entry("k" + std::to_string(i)), std::nullopt);
  EXPECT_EQ(store_->collect_garbage(t0 + 2min - 1us, 2).expired, 0);
  EXPECT_EQ(store_->collect_garbage(t0 + 2min, 2).expired, 5);
  EXPECT_EQ(store_->totals().entries, 0);
}

TEST_F(QcacheStore, CountersAddUp) {
  store_->count(Counter::hits);
  store_->count(Counter::hits, 2);
  store_->count(Counter::coalesced);
  Store::Totals totals = store_->totals();
  ASSERT_EQ(totals.counters.size(), 5U);
  EXPECT_EQ(totals.counters[0], (std::pair<std::string, std::int64_t>("hits", 3)));
  EXPECT_EQ(totals.counters[1].second, 0);
  EXPECT_EQ(totals.counters[2], (std::pair<std::string, std::int64_t>("coalesced", 1)));
}

}  // namespace
}  // namespace sluice::qcache
