#include "checkpoint.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace sluice::checkpoint {
namespace {

const Instant t0 = parse_instant("2026-03-01T12:00:00Z");

class CheckpointRun : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  RunOptions options(const std::string& input, std::int64_t every) {
    RunOptions result;
    result.job = "j";
    result.every = every;
    result.input = input;
    result.quiet = true;
    result.command = {"sh", "-c", "cat >> " + dir_.file("out.txt")};
    return result;
  }
};

TEST_F(CheckpointRun, RecordsTheNextLineAndCompletes) {
  std::string input = dir_.file("in.txt");
  testing::write_text(input, "a\nb\nc\nd\ne\n");
  Store store(dir_.file("c.db"), {});
  EXPECT_EQ(run(store, Clock(t0), options(input, 2)), 0);
  auto job = store.find("j");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->next_line, 6);
  EXPECT_EQ(job->state, JobState::complete);
  EXPECT_EQ(testing::read_text(dir_.file("out.txt")), "a\nb\nc\nd\ne\n");
  EXPECT_EQ(run(store, Clock(t0), options(input, 2)), already_complete_exit);
}

TEST_F(CheckpointRun, AFailedChunkKeepsTheCheckpointAtItsFirstLine) {
  std::string input = dir_.file("in.txt");
  testing::write_text(input, "1\n2\n3\n4\n5\n6\n7\n");
  Store store(dir_.file("c.db"), {});
  RunOptions failing = options(input, 3);
  failing.command = {"sh", "-c", "! grep -q '^5$'"};
  EXPECT_EQ(run(store, Clock(t0), failing), 1);
  EXPECT_EQ(store.find("j")->next_line, 4);
  EXPECT_EQ(store.find("j")->state, JobState::running);
  EXPECT_EQ(run(store, Clock(t0), options(input, 3)), 0);
  EXPECT_EQ(testing::read_text(dir_.file("out.txt")), "4\n5\n6\n7\n");
}

TEST(CheckpointFingerprint, CoversSizeAndHead) {
  testing::TempDir dir;
  testing::write_text(dir.file("a"), "hello\n");
  InputFile file(dir.file("a"));
  Fingerprint print = fingerprint_of(file.fd(), "a");
  ASSERT_TRUE(print.size);
  EXPECT_EQ(*print.size, 6);
  EXPECT_EQ(*print.head_sha256, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
}

}  // namespace
}  // namespace sluice::checkpoint
