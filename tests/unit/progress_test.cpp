#include "sluice/progress.hpp"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(Progress, RendersRateAndEtaWhenTheTotalIsKnown) {
  EXPECT_EQ(Progress::render("filter", 512u << 20, 2000000, 1024u << 20, 10.0),
            "filter: 2000000 records, 512.0 MiB, 200000 records/s, 50%, ETA 10s");
}

TEST(Progress, OmitsEtaForPipes) {
  EXPECT_EQ(Progress::render("filter", 100, 5, 0, 2.0), "filter: 5 records, 100 B, 2 records/s");
}

TEST(Progress, RendersRowsAgainstAKnownTotal) {
  EXPECT_EQ(Progress::render_rows("backfill", 250000, 1000000, 2.0),
            "backfill: 250000 of 1000000 rows, 125000 rows/s, 25%, ETA 6s");
  EXPECT_EQ(Progress::render_rows("backfill", 0, 0, 0.0), "backfill: 0 of 0 rows, 0 rows/s");
}

TEST(Progress, NeverModeIsDisabled) {
  Progress progress(ProgressMode::never, "x", 0);
  EXPECT_FALSE(progress.enabled());
  Progress always(ProgressMode::always, "x", 0);
  EXPECT_TRUE(always.enabled());
}

}  // namespace
}  // namespace sluice
