#include "audit_merkle.hpp"

#include <bit>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice::audit {
namespace {

// The largest power of two strictly below `size` (size >= 2): RFC 9162's split point k.
std::uint64_t split_point(std::uint64_t size) {
  return std::bit_floor(size - 1);
}

void append_path(const NodeSource& nodes, std::uint64_t leaf, std::uint64_t start,
                 std::uint64_t size, std::vector<Hash>& path) {
  if (size <= 1) return;
  std::uint64_t k = split_point(size);
  if (leaf < k) {
    append_path(nodes, leaf, start, k, path);
    path.push_back(subtree_root(nodes, start + k, size - k));
  } else {
    append_path(nodes, leaf - k, start + k, size - k, path);
    path.push_back(subtree_root(nodes, start, k));
  }
}

// SUBPROOF(m, D[start : start + size], whole): `whole` says D[start : start + m] is a subtree
// the verifier already knows the root of (the old tree itself).
void append_subproof(const NodeSource& nodes, std::uint64_t m, std::uint64_t start,
                     std::uint64_t size, bool whole, std::vector<Hash>& path) {
  if (m == size) {
    if (!whole) path.push_back(subtree_root(nodes, start, size));
    return;
  }
  std::uint64_t k = split_point(size);
  if (m <= k) {
    append_subproof(nodes, m, start, k, whole, path);
    path.push_back(subtree_root(nodes, start + k, size - k));
  } else {
    append_subproof(nodes, m - k, start + k, size - k, false, path);
    path.push_back(subtree_root(nodes, start, k));
  }
}

Hash prefixed_hash(std::uint8_t prefix, std::string_view first, std::string_view second) {
  Sha256 hasher;
  char byte = static_cast<char>(prefix);
  hasher.update(std::string_view(&byte, 1));
  hasher.update(first);
  hasher.update(second);
  return hasher.finish();
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view hash_bytes(const Hash& hash) {
  return {reinterpret_cast<const char*>(hash.data()), hash.size()};
}

Hash leaf_hash(std::string_view data) {
  return prefixed_hash(0, data, {});
}

Hash node_hash(const Hash& left, const Hash& right) {
  return prefixed_hash(1, hash_bytes(left), hash_bytes(right));
}

Hash empty_tree_hash() {
  return sha256("");
}

Hash subtree_root(const NodeSource& nodes, std::uint64_t start, std::uint64_t size) {
  if (size == 0) return empty_tree_hash();
  if (std::has_single_bit(size)) {
    int level = std::countr_zero(size);
    return nodes(level, start >> level);
  }
  std::uint64_t k = split_point(size);
  return node_hash(subtree_root(nodes, start, k), subtree_root(nodes, start + k, size - k));
}

Hash tree_root(const NodeSource& nodes, std::uint64_t size) {
  return subtree_root(nodes, 0, size);
}

std::vector<Hash> inclusion_proof(const NodeSource& nodes, std::uint64_t leaf, std::uint64_t size) {
  std::vector<Hash> path;
  append_path(nodes, leaf, 0, size, path);
  return path;
}

std::vector<Hash> consistency_proof(const NodeSource& nodes, std::uint64_t old_size,
                                    std::uint64_t size) {
  std::vector<Hash> path;
  if (old_size == 0 || old_size >= size) return path;
  append_subproof(nodes, old_size, 0, size, true, path);
  return path;
}

bool verify_inclusion(std::uint64_t leaf, std::uint64_t size, const Hash& leaf_hash,
                      const std::vector<Hash>& path, const Hash& root) {
  if (leaf >= size) return false;
  std::uint64_t fn = leaf;
  std::uint64_t sn = size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : path) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = node_hash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool verify_consistency(std::uint64_t old_size, std::uint64_t size, const Hash& old_root,
                        const Hash& root, const std::vector<Hash>& path) {
  if (old_size == 0 || old_size > size) return false;
  // Equal sizes: the proof is empty and the heads must be the same.
  if (old_size == size) return path.empty() && old_root == root;
  if (path.empty()) return false;
  std::vector<Hash> steps;
  if (std::has_single_bit(old_size)) steps.push_back(old_root);
  steps.insert(steps.end(), path.begin(), path.end());
  std::uint64_t fn = old_size - 1;
  std::uint64_t sn = size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = steps[0];
  Hash sr = steps[0];
  for (std::size_t i = 1; i < steps.size(); ++i) {
    const Hash& c = steps[i];
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == old_root && sr == root && sn == 0;
}

std::vector<CompletedNode> nodes_completed_by(const NodeSource& nodes, std::uint64_t index) {
  std::vector<CompletedNode> completed;
  Hash right = nodes(0, index);
  int level = 0;
  std::uint64_t position = index;
  while ((position & 1) != 0) {
    Hash left = nodes(level, position - 1);
    right = node_hash(left, right);
    ++level;
    position >>= 1;
    completed.push_back({level, position, right});
  }
  return completed;
}

std::string hash_hex(const Hash& hash) {
  return to_hex(hash);
}

Hash hash_from_hex(std::string_view hex, std::string_view what) {
  Hash hash{};
  bool valid = hex.size() == 2 * hash.size();
  for (std::size_t i = 0; valid && i < hash.size(); ++i) {
    int high = hex_digit(hex[2 * i]);
    int low = hex_digit(hex[2 * i + 1]);
    valid = high >= 0 && low >= 0;
    hash[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  if (!valid) {
    throw Error(exit_code::data, fmt::format("{} must be 64 hexadecimal digits", what));
  }
  return hash;
}

}  // namespace sluice::audit
