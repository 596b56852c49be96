#include "sluice/atomic_file.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "sluice/error.hpp"
#include "test_support.hpp"

namespace sluice {
namespace {

TEST(AtomicFile, ReplacesContentsOnCommit) {
  testing::TempDir dir;
  std::ofstream(dir.file("f")) << "old";
  {
    AtomicFile file(dir.file("f"));
    EXPECT_EQ(testing::read_text(dir.file("f")), "old");  // untouched until commit
    file.commit("new\n");
  }
  EXPECT_EQ(testing::read_text(dir.file("f")), "new\n");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(AtomicFile, LeavesNoTemporaryWithoutCommit) {
  testing::TempDir dir;
  { AtomicFile file(dir.file("f")); }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(AtomicFile, UnwritableDirectoryIs73AtConstruction) {
  EXPECT_EQ(testing::exit_status_of([] { AtomicFile file("/nonexistent-dir/f"); }),
            exit_code::cannot_create);
}

}  // namespace
}  // namespace sluice
