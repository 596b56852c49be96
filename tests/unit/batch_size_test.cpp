#include "sluice/batch_size.hpp"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// --chunk-time: the sizes below are worked out by hand from the rule in sluice/batch_size.hpp
// (a smoothed rate with the new batch weighing 1/4, size = rate x target, at most double the
// last, within 10..100000). Durations are given, not measured: no clock is read.
TEST(BatchSizer, WithoutATargetTheSizeStaysFixed) {
  BatchSizer sizer(7, Duration{});
  sizer.record(7, seconds(9));
  sizer.record(7, milliseconds(1));
  EXPECT_EQ(sizer.size(), 7);  // below the minimum too: --batch as given
}

TEST(BatchSizer, TheFirstSizeIsKeptWithinTheBounds) {
  EXPECT_EQ(BatchSizer(1, milliseconds(500)).size(), 10);
  EXPECT_EQ(BatchSizer(1000, milliseconds(500)).size(), 1000);
  EXPECT_EQ(BatchSizer(5'000'000, milliseconds(500)).size(), 100'000);
}

TEST(BatchSizer, GrowsAtMostTwofoldTowardsTheTargetTime) {
  // 10,000 rows a second; 500 ms wants 5,000 rows.
  BatchSizer sizer(1000, milliseconds(500));
  sizer.record(1000, milliseconds(100));
  EXPECT_EQ(sizer.size(), 2000);  // 5000 wanted, capped at 2 x 1000
  sizer.record(2000, milliseconds(200));
  EXPECT_EQ(sizer.size(), 4000);
  sizer.record(4000, milliseconds(400));
  EXPECT_EQ(sizer.size(), 5000);
  sizer.record(5000, milliseconds(500));
  EXPECT_EQ(sizer.size(), 5000);  // on target: it stays
}

TEST(BatchSizer, OneSlowBatchMovesTheSizeByAQuarterOfItsRate) {
  BatchSizer sizer(5000, milliseconds(500));
  sizer.record(5000, milliseconds(500));  // 10,000 rows/s
  ASSERT_EQ(sizer.size(), 5000);
  sizer.record(5000, seconds(5));  // 1,000 rows/s: 0.25 x 1000 + 0.75 x 10000 = 7750 rows/s
  EXPECT_EQ(sizer.size(), 3875);
  sizer.record(3875, milliseconds(500));  // 7750 rows/s again: the mean stays 7750
  EXPECT_EQ(sizer.size(), 3875);
}

TEST(BatchSizer, StaysWithinTheBoundsWhateverTheTimes) {
  BatchSizer sizer(1000, milliseconds(500));
  for (int batch = 0; batch < 40; ++batch) sizer.record(sizer.size(), seconds(100));
  EXPECT_EQ(sizer.size(), BatchSizer::minimum);
  for (int batch = 0; batch < 40; ++batch) sizer.record(sizer.size(), Duration{});
  EXPECT_EQ(sizer.size(), BatchSizer::maximum);
}

}  // namespace
}  // namespace sluice
