#include "idemkey.hpp"

#include <cstdio>
#include <filesystem>

#include <gtest/gtest.h>

#include "sluice/error.hpp"
#include "test_support.hpp"

namespace sluice::idemkey {
namespace {

using namespace std::chrono_literals;

const Instant t0 = parse_instant("2026-03-01T12:00:00Z");

class IdemkeyStore : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/sluice-idemkey-XXXXXX";
    dir_ = ::mkdtemp(name);
    store_ = std::make_unique<Store>(dir_ + "/s.db", db::OpenOptions{.serialize_writers = true});
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  ClaimRequest request(std::string fingerprint = "aa") {
    return {"default", "k", std::move(fingerprint), 90s, 24h, StalePolicy::steal};
  }
  std::string file(const std::string& name, const std::string& content) {
    testing::write_text(dir_ + "/" + name, content);
    return dir_ + "/" + name;
  }
  std::string dir_;
  std::unique_ptr<Store> store_;
};

TEST(Decide, CoversEveryState) {
  KeyRow row;
  row.fingerprint = "aa";
  row.state = KeyState::in_progress;
  row.lease_until = t0 + 10s;
  EXPECT_EQ(decide(std::nullopt, "aa", t0, StalePolicy::steal), Decision::proceed);
  EXPECT_EQ(decide(row, "aa", t0, StalePolicy::steal), Decision::busy);
  EXPECT_EQ(decide(row, "bb", t0, StalePolicy::steal), Decision::conflict);
  EXPECT_EQ(decide(row, "aa", t0 + 10s, StalePolicy::steal), Decision::proceed);
  EXPECT_EQ(decide(row, "aa", t0 + 10s, StalePolicy::fail), Decision::stale_locked);
  row.state = KeyState::completed;
  row.expires_at = t0 + 1h;
  EXPECT_EQ(decide(row, "aa", t0, StalePolicy::steal), Decision::replay);
  EXPECT_EQ(decide(row, "bb", t0, StalePolicy::steal), Decision::conflict);
  EXPECT_EQ(decide(row, "bb", t0 + 1h, StalePolicy::steal), Decision::proceed);
}

// A live process holding the key's run lock (the command of an attempt whose idemkey died)
// stops every takeover, but never a replay or a conflict.
TEST(Decide, ARunningEarlierCommandIsNeverTakenOver) {
  const Holder alive = Holder::alive;
  KeyRow row;
  row.fingerprint = "aa";
  row.state = KeyState::in_progress;
  row.lease_until = t0 + 10s;
  EXPECT_EQ(decide(std::nullopt, "aa", t0, StalePolicy::steal, alive), Decision::still_running);
  EXPECT_EQ(decide(row, "aa", t0, StalePolicy::steal, alive), Decision::busy);
  EXPECT_EQ(decide(row, "aa", t0 + 10s, StalePolicy::steal, alive), Decision::still_running);
  EXPECT_EQ(decide(row, "aa", t0 + 10s, StalePolicy::fail, alive), Decision::stale_locked);
  EXPECT_EQ(decide(row, "bb", t0 + 10s, StalePolicy::steal, alive), Decision::conflict);
  row.state = KeyState::completed;
  row.expires_at = t0 + 1h;
  EXPECT_EQ(decide(row, "aa", t0, StalePolicy::steal, alive), Decision::replay);
  EXPECT_EQ(decide(row, "aa", t0 + 1h, StalePolicy::steal, alive), Decision::still_running);
}

TEST(ValidateKey, AcceptsPrintableAsciiOnly) {
  EXPECT_NO_THROW(validate_key("key", "order-42/a:b"));
  EXPECT_NO_THROW(validate_key("key", std::string(255, 'x')));
  for (const std::string& bad : {std::string(), std::string(256, 'x'), std::string("a b"),
                                 std::string("caf\xC3\xA9"), std::string("tab\t")}) {
    EXPECT_THROW(validate_key("key", bad), Error) << bad;
  }
}

// The values come from an independent FNV-1a implementation (Python); the hash is stored, so it
// must never change.
TEST(KeyHash, IsFnv1aOfScopeNulKey) {
  EXPECT_EQ(key_hash("default", "order-42"), -7936223608931554293);
  EXPECT_EQ(key_hash("", ""), -5808590958014384161);
  EXPECT_NE(key_hash("ab", "c"), key_hash("a", "bc"));
}

TEST(DownstreamKey, IsStableAndDependsOnScopeAndKey) {
  EXPECT_EQ(downstream_key("s", "k"), downstream_key("s", "k"));
  EXPECT_NE(downstream_key("s", "k"), downstream_key("t", "k"));
  EXPECT_EQ(downstream_key("s", "k").size(), 32u);
}

TEST(RunFingerprint, DependsOnArgvEnvironmentAndStdin) {
  RunOptions options;
  options.command = {"echo", "a b"};
  std::string base = run_fingerprint(options, std::nullopt);
  options.command = {"echo", "a", "b"};
  EXPECT_NE(run_fingerprint(options, std::nullopt), base);
  options.command = {"echo", "a b"};
  EXPECT_EQ(run_fingerprint(options, std::nullopt), base);
  EXPECT_NE(run_fingerprint(options, std::string()), base);
  options.environment_names = {"SLUICE_TEST_VARIABLE"};
  ::unsetenv("SLUICE_TEST_VARIABLE");
  std::string unset = run_fingerprint(options, std::nullopt);
  ::setenv("SLUICE_TEST_VARIABLE", "", 1);
  std::string empty = run_fingerprint(options, std::nullopt);
  ::setenv("SLUICE_TEST_VARIABLE", "x", 1);
  EXPECT_NE(unset, empty);
  EXPECT_NE(empty, run_fingerprint(options, std::nullopt));
}

TEST_F(IdemkeyStore, CompleteWithoutOutputKeepsTheStatusAndSaysSo) {
  Claim first = store_->claim(request(), t0);
  ASSERT_TRUE(store_->complete("default", "k", first.row->token, 4, "out", "err", t0 + 2s,
                               OutputKept::dropped));
  Claim again = store_->claim(request(), t0 + 3s);
  ASSERT_EQ(again.decision, Decision::replay);
  EXPECT_EQ(again.row->exit_status, 4);
  EXPECT_EQ(again.row->stdout_bytes, "");
  EXPECT_EQ(again.row->stderr_bytes, "");
  EXPECT_FALSE(again.row->output_stored);
  EXPECT_EQ(again.row->stored_bytes, 0);
}

TEST_F(IdemkeyStore, ClaimThenCompleteThenReplay) {
  Claim first = store_->claim(request(), t0);
  ASSERT_EQ(first.decision, Decision::proceed);
  EXPECT_EQ(first.row->attempt, 1);
  EXPECT_EQ(store_->claim(request(), t0 + 1s).decision, Decision::busy);
  ASSERT_TRUE(
      store_->complete("default", "k", first.row->token, 3, std::string("o\0t", 3), "e", t0 + 2s));
  Claim again = store_->claim(request(), t0 + 3s);
  ASSERT_EQ(again.decision, Decision::replay);
  EXPECT_EQ(again.row->exit_status, 3);
  EXPECT_EQ(again.row->stdout_bytes, std::string("o\0t", 3));
  EXPECT_EQ(again.row->stderr_bytes, "e");
  EXPECT_TRUE(again.row->output_stored);
  EXPECT_EQ(*again.row->expires_at, t0 + 2s + 24h);
}

TEST_F(IdemkeyStore, StolenLeaseRejectsTheLateFinisher) {
  Claim first = store_->claim(request(), t0);
  Claim second = store_->claim(request(), t0 + 91s);
  ASSERT_EQ(second.decision, Decision::proceed);
  EXPECT_EQ(second.row->attempt, 2);
  EXPECT_NE(second.row->token, first.row->token);
  EXPECT_FALSE(store_->complete("default", "k", first.row->token, 0, "late", "", t0 + 92s));
  EXPECT_FALSE(store_->renew("default", "k", first.row->token, t0 + 200s));
  ASSERT_TRUE(store_->complete("default", "k", second.row->token, 0, "new", "", t0 + 93s));
  EXPECT_EQ(store_->find("default", "k", true)->stdout_bytes, "new");
}

TEST_F(IdemkeyStore, RenewKeepsALiveHolder) {
  Claim first = store_->claim(request(), t0);
  ASSERT_TRUE(store_->renew("default", "k", first.row->token, t0 + 80s + 90s));
  EXPECT_EQ(store_->claim(request(), t0 + 100s).decision, Decision::busy);
}

TEST_F(IdemkeyStore, ReleaseWithTokenOnlyDeletesTheHoldersClaim) {
  Claim first = store_->claim(request(), t0);
  EXPECT_FALSE(store_->release("default", "k", std::string_view("not-the-token")));
  EXPECT_TRUE(store_->find("default", "k", false).has_value());
  EXPECT_TRUE(store_->release("default", "k", std::string_view(first.row->token)));
  EXPECT_EQ(store_->claim(request(), t0).decision, Decision::proceed);
}

TEST_F(IdemkeyStore, ScopesAreIndependent) {
  ASSERT_EQ(store_->claim(request(), t0).decision, Decision::proceed);
  ClaimRequest other = request("bb");
  other.scope = "other";
  EXPECT_EQ(store_->claim(other, t0).decision, Decision::proceed);
}

TEST_F(IdemkeyStore, GarbageCollectionDeletesOnlyExpiredKeys) {
  for (int i = 0; i < 25; ++i) {
    ClaimRequest each = request();
    each.key = "k" + std::to_string(i);
    each.ttl = i < 20 ? 1h : 48h;
    Claim claim = store_->claim(each, t0);
    ASSERT_TRUE(store_->complete("default", each.key, claim.row->token, 0, "", "", t0));
  }
  store_->claim(request(), t0);  // in progress: never collected
  EXPECT_EQ(store_->collect_garbage(t0 + 2h, 7), 20);
  int remaining = 0;
  store_->list("", [&](const KeyRow&) { ++remaining; });
  EXPECT_EQ(remaining, 6);
}

std::string run_filter(Store& store, const FilterOptions& options, FilterCounts& counts,
                       const std::string& output_path) {
  FILE* file = std::fopen(output_path.c_str(), "w");
  {
    OutputStream out(fileno(file));
    counts = filter(store, Clock(t0), options, out);
  }
  std::fclose(file);
  return testing::read_text(output_path);
}

TEST_F(IdemkeyStore, FilterPassesFirstSeenAndDropsDuplicatesAcrossRuns) {
  FilterOptions options;
  options.key_field = "id";
  options.inputs = {file(
      "a.jsonl", "{\"id\":1,\"v\":\"x\"}\n{\"id\":\"1\",\"v\":\"y\"}\n{\"id\":1,\"v\":\"x\"}\n")};
  FilterCounts counts;
  // The integer 1 and the string "1" are the same key text; their content differs: conflict.
  EXPECT_THROW(run_filter(*store_, options, counts, dir_ + "/out"), Error);
  options.inputs = {file("b.jsonl", "{\"id\":2,\"v\":1}\n{ \"v\":1, \"id\":2 }\n{\"id\":3}\n")};
  EXPECT_EQ(run_filter(*store_, options, counts, dir_ + "/out"),
            "{\"id\":2,\"v\":1}\n{\"id\":3}\n");
  EXPECT_EQ(counts.passed, 2u);
  EXPECT_EQ(counts.duplicates, 1u);
  EXPECT_EQ(run_filter(*store_, options, counts, dir_ + "/out"), "");
  EXPECT_EQ(counts.duplicates, 3u);
}

TEST_F(IdemkeyStore, FilterFingerprintFieldsIgnoreOtherFields) {
  FilterOptions options;
  options.key_field = "id";
  options.fingerprint_fields = {"amount"};
  options.input.skip_invalid = true;
  options.inputs = {file("c.jsonl",
                         "{\"id\":\"a\",\"amount\":\"5.00\",\"seen\":1}\n"
                         "{\"id\":\"a\",\"amount\":\"5.00\",\"seen\":2}\n"
                         "{\"id\":\"a\",\"amount\":\"6.00\"}\n"
                         "{\"amount\":\"1\"}\n")};
  FilterCounts counts;
  EXPECT_EQ(run_filter(*store_, options, counts, dir_ + "/out"),
            "{\"id\":\"a\",\"amount\":\"5.00\",\"seen\":1}\n");
  EXPECT_EQ(counts.duplicates, 1u);
  EXPECT_EQ(counts.invalid, 2u);  // the conflict and the record without a key
}

TEST_F(IdemkeyStore, FilterCommitsWhatItEmittedBeforeABadLine) {
  FilterOptions options;
  options.key_field = "id";
  options.inputs = {file("d.jsonl", "{\"id\":1}\n{\"id\":2}\nnot json\n{\"id\":3}\n")};
  FilterCounts counts;
  EXPECT_EQ(testing::failure_of([&] { run_filter(*store_, options, counts, dir_ + "/out"); }),
            std::make_pair(exit_code::data, options.inputs[0] + ":3"));
  EXPECT_TRUE(store_->live_fingerprint("default", "1", t0).has_value());
  EXPECT_TRUE(store_->live_fingerprint("default", "2", t0).has_value());
  EXPECT_FALSE(store_->live_fingerprint("default", "3", t0).has_value());
}

TEST_F(IdemkeyStore, FilterConflictMidBatchKeepsOnlyTheClaimsBeforeIt) {
  FilterOptions options;
  options.key_field = "id";
  options.inputs = {file("e.jsonl",
                         "{\"id\":\"b\",\"v\":1}\n{\"id\":\"b\",\"v\":2}\n"
                         "{\"id\":\"a\"}\n")};
  FilterCounts counts;
  EXPECT_EQ(testing::failure_of([&] { run_filter(*store_, options, counts, dir_ + "/out"); }),
            std::make_pair(exit_code::data, options.inputs[0] + ":2"));
  EXPECT_EQ(testing::read_text(dir_ + "/out"), "{\"id\":\"b\",\"v\":1}\n");
  EXPECT_TRUE(store_->live_fingerprint("default", "b", t0).has_value());
  // "a" sorts first and was claimed before the conflict was found; that claim was undone.
  EXPECT_FALSE(store_->live_fingerprint("default", "a", t0).has_value());
}

}  // namespace
}  // namespace sluice::idemkey
