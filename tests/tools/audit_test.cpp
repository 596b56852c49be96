#include "audit.hpp"

#include <gtest/gtest.h>

#include "sluice/error.hpp"
#include "test_support.hpp"

namespace sluice::audit {
namespace {

using namespace std::chrono_literals;

const Instant t0 = parse_instant("2026-03-01T12:00:00Z");

// A tree of `size` leaves whose data is the leaf's number, hashed the naive way (RFC 9162's
// recursive MTH over a list), for the node source's answers to be checked against.
std::vector<Hash> leaves(std::uint64_t size) {
  std::vector<Hash> result;
  for (std::uint64_t i = 0; i < size; ++i) result.push_back(leaf_hash(std::to_string(i)));
  return result;
}

Hash naive_root(const std::vector<Hash>& items, std::size_t begin, std::size_t end) {
  if (end - begin == 1) return items[begin];
  std::size_t k = 1;
  while (k * 2 < end - begin) k *= 2;
  return node_hash(naive_root(items, begin, begin + k), naive_root(items, begin + k, end));
}

NodeSource source_of(const std::vector<Hash>& items) {
  return [items](int level, std::uint64_t index) {
    std::size_t width = std::size_t{1} << level;
    return naive_root(items, index * width, (index + 1) * width);
  };
}

TEST(AuditMerkle, EmptyTreeIsTheHashOfNothing) {
  EXPECT_EQ(hash_hex(empty_tree_hash()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hash_hex(leaf_hash("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}

TEST(AuditMerkle, InclusionProofsVerifyAndFailWhenTampered) {
  for (std::uint64_t size : {1u, 2u, 3u, 5u, 7u, 8u, 13u, 32u, 33u}) {
    auto items = leaves(size);
    NodeSource nodes = source_of(items);
    Hash root = tree_root(nodes, size);
    EXPECT_EQ(root, naive_root(items, 0, size));
    for (std::uint64_t leaf = 0; leaf < size; ++leaf) {
      auto path = inclusion_proof(nodes, leaf, size);
      EXPECT_TRUE(verify_inclusion(leaf, size, items[leaf], path, root)) << size << " " << leaf;
      if (!path.empty()) {
        path[0][0] ^= 1;
        EXPECT_FALSE(verify_inclusion(leaf, size, items[leaf], path, root));
      }
      EXPECT_FALSE(verify_inclusion(leaf, size, leaf_hash("other"),
                                    inclusion_proof(nodes, leaf, size), root));
    }
  }
}

TEST(AuditMerkle, ConsistencyProofsVerifyAndFailWhenTampered) {
  for (std::uint64_t size : {1u, 2u, 3u, 6u, 7u, 8u, 9u, 21u}) {
    auto items = leaves(size);
    NodeSource nodes = source_of(items);
    Hash root = tree_root(nodes, size);
    for (std::uint64_t old_size = 1; old_size <= size; ++old_size) {
      Hash old_root = tree_root(nodes, old_size);
      auto path = consistency_proof(nodes, old_size, size);
      EXPECT_TRUE(verify_consistency(old_size, size, old_root, root, path))
          << old_size << " " << size;
      Hash other = old_root;
      other[3] ^= 0x40;
      EXPECT_FALSE(verify_consistency(old_size, size, other, root, path));
    }
  }
}

TEST(AuditMerkle, TruncatedExtendedOrMisplacedProofsFail) {
  for (std::uint64_t size : {1u, 2u, 3u, 4u, 5u, 8u, 9u, 16u, 17u}) {
    auto items = leaves(size);
    NodeSource nodes = source_of(items);
    Hash root = tree_root(nodes, size);
    for (std::uint64_t leaf : {std::uint64_t{0}, size / 2, size - 1}) {
      auto path = inclusion_proof(nodes, leaf, size);
      auto longer = path;
      longer.push_back(root);
      EXPECT_FALSE(verify_inclusion(leaf, size, items[leaf], longer, root)) << size << " " << leaf;
      if (!path.empty()) {
        auto shorter = path;
        shorter.pop_back();
        EXPECT_FALSE(verify_inclusion(leaf, size, items[leaf], shorter, root));
      }
      EXPECT_FALSE(verify_inclusion(leaf, size + 1, items[leaf], path, leaf_hash("x")));
      if (size > 1) {
        EXPECT_FALSE(verify_inclusion(leaf ^ 1u, size, items[leaf], path, root))
            << size << " " << leaf;
      }
      EXPECT_FALSE(verify_inclusion(size, size, items[leaf], path, root));
    }
    for (std::uint64_t old_size = 1; old_size < size; ++old_size) {
      Hash old_root = tree_root(nodes, old_size);
      auto path = consistency_proof(nodes, old_size, size);
      ASSERT_FALSE(path.empty());
      auto shorter = path;
      shorter.pop_back();
      EXPECT_FALSE(verify_consistency(old_size, size, old_root, root, shorter))
          << old_size << " " << size;
      auto longer = path;
      longer.push_back(root);
      EXPECT_FALSE(verify_consistency(old_size, size, old_root, root, longer));
      EXPECT_FALSE(verify_consistency(old_size, size, root, old_root, path));
      EXPECT_FALSE(verify_consistency(0, size, old_root, root, path));
      EXPECT_FALSE(verify_consistency(size, old_size, root, old_root, path));
    }
    EXPECT_TRUE(verify_consistency(size, size, root, root, {}));
    EXPECT_FALSE(verify_consistency(size, size, root, root, {root}));
  }
}

TEST(AuditMerkle, CompletedNodesAreThoseOfThePerfectSubtrees) {
  auto items = leaves(8);
  NodeSource nodes = source_of(items);
  EXPECT_TRUE(nodes_completed_by(nodes, 0).empty());
  auto done = nodes_completed_by(nodes, 7);
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[2].level, 3);
  EXPECT_EQ(done[2].index, 0u);
  EXPECT_EQ(done[2].hash, naive_root(items, 0, 8));
}

TEST(AuditEntry, CanonicalEntryIsCanonicalJsonOfTheEntry) {
  Entry entry{7, t0, "alice", "login", R"({"a":[1,"x\"y"],"b":{"c":null}})", {}, {}};
  JsonParser parser;
  auto payload = parser.parse_object(entry.payload);
  ASSERT_TRUE(payload.value);
  JsonValue whole = JsonValue::object({{"seq", JsonValue::integer(7)},
                                       {"ts", JsonValue::string("2026-03-01T12:00:00Z")},
                                       {"actor", JsonValue::string("alice")},
                                       {"action", JsonValue::string("login")},
                                       {"payload", *payload.value}});
  EXPECT_EQ(canonical_entry(entry), canonical_json(whole));
}

class AuditStore : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::string input(const std::string& text) {
    std::string path = dir_.path() + "/in.jsonl";
    testing::write_text(path, text);
    return path;
  }
};

TEST_F(AuditStore, AppendsChainsAndVerifies) {
  Store store(dir_.path() + "/a.db", {});
  AppendOptions options;
  options.actor = "alice";
  options.action = "login";
  options.inputs = {input("{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n")};
  AppendResult result = append(store, Clock(t0), options);
  EXPECT_EQ(result.first, 1);
  EXPECT_EQ(result.last, 3);
  EXPECT_EQ(store.size(), 3);
  std::vector<Entry> seen;
  store.read({}, [&](const Entry& entry) {
    seen.push_back(entry);
    return true;
  });
  ASSERT_EQ(seen.size(), 3u);
  Hash previous{};
  for (const Entry& entry : seen) {
    previous = chain_hash(previous, canonical_entry(entry));
    EXPECT_EQ(hash_hex(previous), entry.hash);
  }
}

TEST_F(AuditStore, ABadLineAppendsNothing) {
  Store store(dir_.path() + "/a.db", {});
  AppendOptions options;
  options.inputs = {input(R"({"actor":"a","action":"b","payload":{}})"
                          "\n"
                          R"({"actor":"a","action":"b","payload":[1]})"
                          "\n")};
  try {
    append(store, Clock(t0), options);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), exit_code::data);
    EXPECT_NE(error.location().find("in.jsonl:2"), std::string::npos) << error.location();
    EXPECT_NE(std::string(error.what()).find("'payload' must be an object"), std::string::npos);
  }
  EXPECT_EQ(store.size(), 0);
}

TEST_F(AuditStore, TimestampsNeverGoBackwards) {
  Store store(dir_.path() + "/a.db", {});
  AppendOptions options;
  options.actor = "a";
  options.action = "b";
  options.inputs = {input("{}\n")};
  append(store, Clock(t0), options);
  append(store, Clock(t0 - 1h), options);
  std::vector<Instant> times;
  store.read({}, [&](const Entry& entry) {
    times.push_back(entry.ts);
    return true;
  });
  ASSERT_EQ(times.size(), 2u);
  EXPECT_EQ(times[1], t0);
}

}  // namespace
}  // namespace sluice::audit
