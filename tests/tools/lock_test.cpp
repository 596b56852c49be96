#include "lock.hpp"

#include <gtest/gtest.h>

#include "sluice/error.hpp"
#include "test_support.hpp"

namespace sluice::lock {
namespace {

using namespace std::chrono_literals;

const Instant lock_t0 = parse_instant("2026-03-01T12:00:00Z");

class LockStore : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<Store>(dir_.path() + "/lock.db", db::OpenOptions{});
  }
  AcquireRequest request(std::vector<std::string> names, Mode mode = Mode::exclusive,
                         std::string owner = "me") {
    return {canonical_names(std::move(names)), mode, std::move(owner), 10s};
  }
  std::int64_t token_of(std::string name, Instant now) {
    Acquisition acquisition = store_->acquire(request({std::move(name)}), now);
    EXPECT_TRUE(acquisition.succeeded());
    return acquisition.granted.empty() ? 0 : acquisition.granted.front().token;
  }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST(LockNames, CanonicalOrderIsSortedWithoutDuplicates) {
  EXPECT_EQ(canonical_names({"b", "a", "c", "a", "B"}),
            (std::vector<std::string>{"B", "a", "b", "c"}));
}

TEST(LockNames, EnvironmentNamesAreUpperCaseWithUnderscores) {
  EXPECT_EQ(environment_name("db-migrate.v2"), "LOCK_TOKEN_DB_MIGRATE_V2");
  EXPECT_EQ(environment_name("A/b%9"), "LOCK_TOKEN_A_B_9");
  EXPECT_EQ(testing::exit_status_of([] {
              check_environment_names({"a-b", "a.b"});
            }),
            exit_code::usage);
  check_environment_names({"a-b", "a-c"});
}

TEST(LockNames, TokenEnvironmentListsEveryLease) {
  std::vector<Holder> leases{{"a", 4}, {"b-c", 9}};
  auto variables = token_environment(leases);
  EXPECT_EQ(variables, (std::vector<std::pair<std::string, std::string>>{
                           {"LOCK_TOKEN", "4,9"}, {"LOCK_TOKEN_A", "4"}, {"LOCK_TOKEN_B_C", "9"}}));
}

TEST(LockNames, ControlCharactersSpacesAndEmptyNamesAreUsageErrors) {
  for (std::string_view name : {std::string_view("a\x01"), std::string_view("a b"),
                                std::string_view(""), std::string_view("tab\t")}) {
    EXPECT_EQ(testing::exit_status_of([&] { validate_name(name); }), exit_code::usage) << name;
  }
  validate_name("nightly/report-1");
}

TEST(LockTokens, OnlyWholeNumbersFromOneAreTokens) {
  EXPECT_EQ(parse_token("--token", "42"), 42);
  EXPECT_EQ(parse_token("--token", "999999999999999999"), 999999999999999999);
  for (std::string_view text : {"0", "-1", "x", "", "1e3", "0x10", " 1", "1234567890123456789"}) {
    EXPECT_EQ(testing::exit_status_of([&] { parse_token("--token", text); }), exit_code::usage)
        << text;
  }
}

TEST(LockLocal, NamesMapToOneFileNameEach) {
  EXPECT_EQ(local_lock_file("/d", "a/b"), "/d/a%2Fb");
  EXPECT_EQ(local_lock_file("/d", ".x%"), "/d/%2Ex%25");
  EXPECT_EQ(local_lock_file("/d", "a.b"), "/d/a.b");
}

TEST(LockWaits, FindsEachCycleOnceFromItsSmallestMember) {
  std::vector<WaitEdge> edges{
      {"b", "x", "a", 1}, {"a", "y", "b", 2}, {"c", "y", "b", 2}, {"d", "z", "d", 3}};
  auto cycles = find_cycles(edges);
  EXPECT_EQ(cycles, (std::vector<std::vector<std::string>>{{"a", "b", "a"}, {"d", "d"}}));
  EXPECT_TRUE(find_cycles({{"a", "x", "b", 1}, {"b", "y", "c", 1}}).empty());
}

TEST_F(LockStore, TokensGrowPerNameAcrossExpiryReleaseAndBreak) {
  EXPECT_EQ(token_of("t", lock_t0), 1);
  EXPECT_EQ(token_of("t", lock_t0 + 10s), 2);  // the first expired
  EXPECT_TRUE(store_->release("t", 2, lock_t0 + 10s));
  EXPECT_EQ(token_of("t", lock_t0 + 11s), 3);
  EXPECT_EQ(store_->break_lock("t", "ops", lock_t0 + 12s).tokens, std::vector<std::int64_t>{3});
  EXPECT_EQ(token_of("t", lock_t0 + 12s), 4);
  EXPECT_EQ(token_of("other", lock_t0), 1);
  // A new Store on the same file (a restart) goes on from the high-water mark.
  store_ = std::make_unique<Store>(dir_.path() + "/lock.db", db::OpenOptions{});
  EXPECT_TRUE(store_->release("t", 4, lock_t0 + 12s));
  EXPECT_EQ(token_of("t", lock_t0 + 13s), 5);
}

// A token is handed out only once it is on disk: under NORMAL a power cut could roll the
// count back and hand a token again that a resource on another machine already saw.
TEST_F(LockStore, GrantsAreSyncedBeforeTheirTokensAreHandedOut) {
  auto level = store_->database().query("PRAGMA synchronous");
  ASSERT_TRUE(level.step());
  EXPECT_EQ(level->integer(0), 2);  // FULL
}

TEST_F(LockStore, ALiveLeaseBlocksAndIsNamed) {
  token_of("a", lock_t0);
  Acquisition second = store_->acquire(request({"a"}, Mode::exclusive, "other"), lock_t0 + 9s);
  ASSERT_FALSE(second.succeeded());
  EXPECT_EQ(second.blocking.front().owner, "me");
  EXPECT_EQ(conflict_message(second.blocking),
            "lock 'a' is held by me (token 1, exclusive, until 2026-03-01T12:00:10Z)");
}

TEST_F(LockStore, SeveralNamesAreAllOrNothing) {
  token_of("b", lock_t0);
  Acquisition refused = store_->acquire(request({"c", "b", "a"}), lock_t0);
  EXPECT_FALSE(refused.succeeded());
  EXPECT_TRUE(refused.granted.empty());
  EXPECT_EQ(token_of("a", lock_t0), 1);  // "a" was not taken by the refused request
  EXPECT_TRUE(store_->release("b", 1, lock_t0));
  Acquisition all = store_->acquire(request({"c", "b"}), lock_t0);
  ASSERT_TRUE(all.succeeded());
  ASSERT_EQ(all.granted.size(), 2u);
  EXPECT_EQ(all.granted[0].name, "b");
  EXPECT_EQ(all.granted[0].token, 2);
  EXPECT_EQ(all.granted[1].name, "c");
}

TEST_F(LockStore, SharedHoldersCoexistAndExcludeAnExclusiveOne) {
  EXPECT_TRUE(store_->acquire(request({"r"}, Mode::shared, "r1"), lock_t0).succeeded());
  EXPECT_TRUE(store_->acquire(request({"r"}, Mode::shared, "r2"), lock_t0).succeeded());
  EXPECT_EQ(store_->acquire(request({"r"}), lock_t0).blocking.size(), 2u);
  EXPECT_TRUE(store_->acquire(request({"w"}), lock_t0).succeeded());
  EXPECT_FALSE(store_->acquire(request({"w"}, Mode::shared), lock_t0).succeeded());
}

TEST_F(LockStore, RenewExtendsOnlyALiveLeaseOfTheToken) {
  token_of("r", lock_t0);
  EXPECT_TRUE(store_->renew("r", 1, lock_t0 + 5s, lock_t0 + 20s));
  EXPECT_FALSE(store_->acquire(request({"r"}), lock_t0 + 15s).succeeded());
  EXPECT_FALSE(store_->renew("r", 2, lock_t0 + 5s, lock_t0 + 20s));
  EXPECT_FALSE(store_->renew("r", 1, lock_t0 + 20s, lock_t0 + 30s));  // expired: lost
  EXPECT_FALSE(store_->release("r", 7, lock_t0));
}

TEST_F(LockStore, AnExpiredLeaseIsNotReleasedEvenBeforeItIsTakenOver) {
  token_of("x", lock_t0);
  EXPECT_FALSE(store_->release("x", 1, lock_t0 + 10s));
  EXPECT_EQ(store_->status("x").front().holders.size(), 1u);  // nothing changed
}

TEST_F(LockStore, FenceAcceptsTheHighestSeenAndRefusesOlder) {
  for (int grant = 0; grant < 8; ++grant) token_of("f", lock_t0 + grant * 10s);  // tokens 1-8
  EXPECT_TRUE(store_->fence("f", 3).accepted);
  EXPECT_TRUE(store_->fence("f", 3).accepted);
  FenceResult older = store_->fence("f", 2);
  EXPECT_FALSE(older.accepted);
  EXPECT_EQ(older.highest, 3);
  EXPECT_EQ(store_->fence("f", 8).highest, 8);
}

TEST_F(LockStore, FenceRefusesATokenNeverHandedOutAndRecordsNothing) {
  token_of("f", lock_t0);
  FenceResult forged = store_->fence("f", 1000);
  EXPECT_FALSE(forged.accepted);
  EXPECT_TRUE(forged.never_issued(1000));
  EXPECT_EQ(forged.last_token, 1);
  EXPECT_EQ(forged.highest, 0);
  EXPECT_TRUE(store_->fence("f", 1).accepted);  // the real holder is not locked out
  EXPECT_FALSE(store_->fence("never-used", 1).accepted);
  EXPECT_TRUE(store_->status("never-used").empty());  // no row made for it
}

TEST_F(LockStore, BreakRecordsExactlyTheLeasesItRemoved) {
  store_->acquire(request({"s"}, Mode::shared, "r1"), lock_t0);
  store_->acquire(request({"s"}, Mode::shared, "r2"), lock_t0);
  EXPECT_EQ(store_->break_lock("s", "ops", lock_t0 + 1s).tokens, (std::vector<std::int64_t>{1, 2}));
  auto rows = store_->database().query("SELECT token, owner FROM lock_breaks ORDER BY token");
  std::vector<std::pair<std::int64_t, std::string>> recorded;
  while (rows.step()) recorded.emplace_back(rows->integer(0), rows->text(1));
  EXPECT_EQ(recorded, (std::vector<std::pair<std::int64_t, std::string>>{{1, "r1"}, {2, "r2"}}));
  EXPECT_TRUE(store_->status("s").front().holders.empty());
}

TEST_F(LockStore, StatusShowsHoldersAndTheLastBreak) {
  token_of("a", lock_t0);
  store_->fence("a", 1);
  store_->break_lock("a", "alice", lock_t0 + 1s);
  token_of("a", lock_t0 + 2s);
  std::vector<NameStatus> status = store_->status("");
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].last_token, 2);
  EXPECT_EQ(status[0].fenced, 1);
  ASSERT_EQ(status[0].holders.size(), 1u);
  EXPECT_EQ(status[0].holders[0].token, 2);
  EXPECT_EQ(status[0].broken_by, "alice");
  EXPECT_EQ(status[0].broken_at, lock_t0 + 1s);
  EXPECT_TRUE(store_->status("none").empty());
}

TEST_F(LockStore, WaitsJoinWaitersToLiveHolders) {
  store_->acquire(request({"x"}, Mode::exclusive, "a"), lock_t0);
  store_->acquire(request({"y"}, Mode::exclusive, "b"), lock_t0);
  store_->record_wait("a", "y", lock_t0, lock_t0 + 10s);
  store_->record_wait("b", "x", lock_t0, lock_t0 + 10s);
  auto edges = store_->waits(lock_t0 + 1s);
  ASSERT_EQ(edges.size(), 2u);
  EXPECT_EQ(find_cycles(edges), (std::vector<std::vector<std::string>>{{"a", "b", "a"}}));
  EXPECT_TRUE(store_->waits(lock_t0 + 10s).empty());  // the records and leases expired
  store_->forget_wait("a");
  EXPECT_EQ(store_->waits(lock_t0 + 1s).size(), 1u);
}

TEST_F(LockStore, TheRecordsOfKilledWaitersAreClearedByLaterWaits) {
  store_->record_wait("killed", "x", lock_t0, lock_t0 + 10s);  // never forgotten
  store_->record_wait("live", "x", lock_t0 + 10s, lock_t0 + 20s);
  auto rows = store_->database().query("SELECT waiter FROM lock_waits ORDER BY waiter");
  std::vector<std::string> waiters;
  while (rows.step()) waiters.push_back(rows->text(0));
  EXPECT_EQ(waiters, std::vector<std::string>{"live"});
}

TEST_F(LockStore, AcquireWaitingGivesUpWhenTheWaitRunsOut) {
  token_of("busy", lock_t0);
  Clock clock(lock_t0 + 1s);
  EXPECT_FALSE(acquire_waiting(*store_, clock, request({"busy"}), 0s).succeeded());
  EXPECT_FALSE(acquire_waiting(*store_, clock, request({"busy"}), 30ms).succeeded());
  EXPECT_TRUE(store_->waits(lock_t0 + 1s).empty());  // the wait records were removed
  Clock later(lock_t0 + 11s);
  EXPECT_TRUE(acquire_waiting(*store_, later, request({"busy"}), 0s).succeeded());
}

TEST_F(LockStore, RunPassesTheStatusThroughAndReleases) {
  RunOptions options;
  options.names = {"job"};
  options.owner = "me";
  options.renew_every = 10s;
  options.command = {"sh", "-c", "test \"$LOCK_TOKEN_JOB\" = 1 && exit 7"};
  EXPECT_EQ(run_leased(*store_, Clock(), options), 7);
  EXPECT_TRUE(store_->status("job").front().holders.empty());
}

}  // namespace
}  // namespace sluice::lock
