#include "sluice/redis.hpp"

#include <gtest/gtest.h>

#include "sluice/error.hpp"
#include "test_support.hpp"

namespace sluice::redis {
namespace {

TEST(RedisUrl, TellsRedisLocationsFromFilesAndPostgresql) {
  EXPECT_TRUE(is_url("redis://localhost:6379/0"));
  EXPECT_TRUE(is_url("unix:///run/redis/redis.sock"));
  EXPECT_FALSE(is_url("postgresql://db/x"));
  EXPECT_FALSE(is_url("state/stock.db"));
}

TEST(RedisUrl, ParsesHostPortDatabaseSocketAndNamespace) {
  Location tcp = parse_url("redis://cache.internal:7000/3", "--db");
  EXPECT_EQ(tcp.host, "cache.internal");
  EXPECT_EQ(tcp.port, 7000);
  EXPECT_EQ(tcp.database, 3);
  EXPECT_TRUE(tcp.socket_path.empty());
  Location defaults = parse_url("redis://", "--db");
  EXPECT_EQ(defaults.host, "127.0.0.1");
  EXPECT_EQ(defaults.port, 6379);
  EXPECT_EQ(defaults.database, 0);
  Location socket = parse_url("unix:///tmp/r/redis.sock?db=2&namespace=sale1", "--db");
  EXPECT_EQ(socket.socket_path, "/tmp/r/redis.sock");
  EXPECT_EQ(socket.database, 2);
  EXPECT_EQ(socket.key_namespace, "sale1");
}

TEST(RedisUrl, MalformedLocationsAreUsageErrors) {
  for (std::string_view url :
       {"redis://h:port/0", "redis://h:70000", "redis://h/x", "redis://user:secret@h/0",
        "unix://relative.sock", "unix:///r.sock?bogus=1", "memcached://h"}) {
    EXPECT_EQ(testing::exit_status_of([&] { parse_url(url, "--db"); }), exit_code::usage) << url;
  }
}

TEST(RedisScript, IsNamedByTheSha1OfItsSource) {
  // The name `redis-cli SCRIPT LOAD 'return 1'` prints.
  EXPECT_EQ(Script("return 1").sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST(RedisConnection, AnUnreachableServerIs69) {
  testing::TempDir directory;
  EXPECT_EQ(testing::exit_status_of([&] {
              Connection connection("unix://" + directory.file("none.sock"),
                                    std::chrono::seconds(1));
            }),
            exit_code::unavailable);
}

}  // namespace
}  // namespace sluice::redis
