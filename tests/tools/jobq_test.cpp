#include "jobq.hpp"

#include <map>

#include <gtest/gtest.h>

#include "sluice/error.hpp"
#include "test_support.hpp"

namespace sluice::jobq {
namespace {

using namespace std::chrono_literals;

const Instant t0 = parse_instant("2026-03-01T12:00:00Z");

int status_of(const std::function<void()>& work) {
  try {
    work();
  } catch (const Error& error) {
    return error.code();
  }
  return 0;
}

std::vector<Turn> turns_of(std::initializer_list<std::int64_t> weights) {
  std::vector<Turn> turns;
  for (std::int64_t weight : weights) turns.push_back(Turn{weight, 0, true});
  return turns;
}

TEST(JobqWeights, NineThousandPicksSplitExactly5000_3000_1000) {
  std::vector<Turn> turns = turns_of({5, 3, 1});
  std::array<int, 3> picks{};
  for (int claim = 0; claim < 9000; ++claim) ++picks[*pick_queue(turns)];
  EXPECT_EQ(picks, (std::array<int, 3>{5000, 3000, 1000}));
  // Smooth: the heaviest queue never runs more than twice in a row, and the counters return
  // to zero after every whole period.
  for (const Turn& turn : turns) EXPECT_EQ(turn.current, 0);
}

TEST(JobqWeights, AQueueWithoutDueJobsIsSkippedAndNotCharged) {
  std::vector<Turn> turns = turns_of({5, 3, 1});
  turns[1].eligible = false;
  std::array<int, 3> picks{};
  for (int claim = 0; claim < 600; ++claim) ++picks[*pick_queue(turns)];
  EXPECT_EQ(picks, (std::array<int, 3>{500, 0, 100}));
  EXPECT_EQ(turns[1].current, 0);
  for (Turn& turn : turns) turn.eligible = false;
  EXPECT_FALSE(pick_queue(turns).has_value());
}

TEST(JobqWeights, ParsesQueuesAndRefusesBadWeights) {
  std::vector<QueueWeight> queues = parse_queue_weights("--queues", "high:5,default,low:1");
  ASSERT_EQ(queues.size(), 3u);
  EXPECT_EQ(queues[0].queue, "high");
  EXPECT_EQ(queues[0].weight, 5);
  EXPECT_EQ(queues[1].weight, 1);
  for (const char* bad :
       {"", "a:", "a:0", "a:-1", "a:x", "a:1.5", "a,,b", "a,a", ":3", "a:1000001", "a b:1"}) {
    EXPECT_EQ(status_of([&] { parse_queue_weights("--queues", bad); }), 2) << bad;
  }
}

TEST(JobqRetry, DelaysStayUnderTheDoublingCeiling) {
  Random random(3);
  for (int failures = 1; failures <= 30; ++failures) {
    Duration ceiling = std::min<Duration>(6h, 15s * (1LL << std::min(failures - 1, 20)));
    for (int draw = 0; draw < 50; ++draw) {
      Duration delay = retry_delay(15s, 6h, failures, random);
      ASSERT_GE(delay, Duration::zero());
      ASSERT_LE(delay, ceiling) << failures;
    }
  }
  // Full jitter: uniform from zero to the ceiling, so many draws reach near the ceiling and
  // average half of it (a delay that was always 0, or always the ceiling, would fail here).
  for (int failures : {1, 3, 30}) {
    Duration ceiling = std::min<Duration>(6h, 15s * (1LL << std::min(failures - 1, 20)));
    double sum = 0, largest = 0;
    const int draws = 2000;
    for (int draw = 0; draw < draws; ++draw) {
      double share = static_cast<double>(retry_delay(15s, 6h, failures, random).count()) /
                     static_cast<double>(ceiling.count());
      sum += share;
      largest = std::max(largest, share);
    }
    EXPECT_GT(largest, 0.99) << failures;
    EXPECT_NEAR(sum / draws, 0.5, 0.03) << failures;
  }
}

class JobqStore : public ::testing::TestWithParam<db::Backend> {
 protected:
  void SetUp() override {
    if (!state_.available()) GTEST_SKIP() << "SLUICE_TEST_PG_URL is not set (scripts/test sets it)";
    store_ = std::make_unique<Store>(state_.location(), db::OpenOptions{});
  }
  void add(const std::string& queue, int count) {
    std::vector<NewJob> jobs(static_cast<std::size_t>(count));
    for (NewJob& job : jobs) {
      job.queue = queue;
      job.payload = "{}";
      job.run_at = t0;
    }
    store_->add(jobs, OnDuplicate::ignore, t0);
  }
  sluice::testing::StateLocation state_{GetParam()};
  std::unique_ptr<Store> store_;
};

TEST_P(JobqStore, ClaimsFromFullQueuesSplitExactlyByWeight) {
  add("high", 500);
  add("default", 300);
  add("low", 100);
  std::vector<QueueWeight> queues{{"high", 5}, {"default", 3}, {"low", 1}};
  std::map<std::string, int> picks;
  // One job per claim, as many short-lived workers would: the counters live in the store.
  for (int claim = 0; claim < 18; ++claim) {
    for (const ClaimedJob& job : store_->claim(queues, 1, 30s, "w", t0)) ++picks[job.queue];
  }
  // Then in batches of 98.
  for (int claim = 0; claim < 9; ++claim) {
    for (const ClaimedJob& job : store_->claim(queues, 98, 30s, "w", t0)) ++picks[job.queue];
  }
  EXPECT_EQ(picks["high"], 500);
  EXPECT_EQ(picks["default"], 300);
  EXPECT_EQ(picks["low"], 100);
  EXPECT_TRUE(store_->claim(queues, 5, 30s, "w", t0).empty());
}

TEST_P(JobqStore, StaleTokenChangesNothing) {
  add("q", 1);
  std::vector<QueueWeight> queues{{"q", 1}};
  ClaimedJob first = store_->claim(queues, 1, 30s, "a", t0).at(0);
  EXPECT_EQ(store_->heartbeat(first.id, first.token + 1, t0 + 1min).fence, Fence::stale);
  EXPECT_EQ(store_->ack(first.id, first.token + 1, std::nullopt, std::nullopt, t0), Fence::stale);
  EXPECT_EQ(store_->find(first.id)->state, JobState::running);
  EXPECT_EQ(store_->ack(first.id, first.token, "out", 0, t0), Fence::held);
  EXPECT_EQ(store_->result(first.id)->result, "out");
  EXPECT_EQ(store_->ack(99, 1, std::nullopt, std::nullopt, t0), Fence::missing);
}

TEST_P(JobqStore, AJobCancelledWhileRunningIsNeverClaimedAgain) {
  add("q", 2);
  std::vector<QueueWeight> queues{{"q", 1}};
  std::vector<ClaimedJob> jobs = store_->claim(queues, 2, 30s, "a", t0);
  ASSERT_EQ(jobs.size(), 2u);
  store_->cancel({jobs[0].id, jobs[1].id}, t0);
  // A failure and a hand-back both end the job cancelled instead of waiting.
  FailOutcome failed = store_->fail(jobs[0].id, jobs[0].token, 0s, false, "boom", 1, t0 + 1s);
  EXPECT_EQ(failed.state, JobState::cancelled);
  EXPECT_EQ(store_->give_back(jobs[1].id, jobs[1].token, t0, "held", t0 + 1s), Fence::held);
  for (const ClaimedJob& job : jobs) {
    std::optional<JobRow> row = store_->find(job.id);
    EXPECT_EQ(row->state, JobState::cancelled) << job.id;
    EXPECT_EQ(row->finished_at, t0 + 1s) << job.id;
  }
  EXPECT_EQ(store_->find(jobs[1].id)->attempt, 0);
  EXPECT_EQ(store_->history(jobs[0].id).back().event, "cancelled");
  EXPECT_TRUE(store_->claim(queues, 5, 30s, "b", t0 + 2s).empty());
}

TEST_P(JobqStore, AWaitingJobFlaggedForCancelIsNotClaimed) {
  // Such a row is left by an older jobq; neither the read-ahead claim nor the groups' one may
  // take it (nor loop on it).
  add("plain", 1);
  std::vector<NewJob> grouped(1);
  grouped[0].queue = "grouped";
  grouped[0].group = "tenant";
  grouped[0].payload = "{}";
  grouped[0].run_at = t0;
  store_->add(grouped, OnDuplicate::ignore, t0);
  store_->database().execute("UPDATE jobq_jobs SET cancel_requested = 1");
  EXPECT_TRUE(store_->claim({{"plain", 1}}, 5, 30s, "b", t0).empty());
  EXPECT_TRUE(store_->claim({{"grouped", 1}}, 5, 30s, "b", t0).empty());
  EXPECT_TRUE(store_->claim({{"plain", 1}, {"grouped", 2}}, 5, 30s, "b", t0).empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, JobqStore,
                         ::testing::Values(db::Backend::sqlite, db::Backend::postgresql),
                         [](const auto& info) {
                           return sluice::testing::backend_name(info.param);
                         });

}  // namespace
}  // namespace sluice::jobq
