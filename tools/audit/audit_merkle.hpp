// RFC 9162 section 2.1 Merkle trees over the log's entries: leaf and node hashing, the tree
// head, inclusion proofs (audit paths) and consistency proofs, and their verification.
//
// A tree is read through a NodeSource that gives the hash of any perfect, aligned subtree
// (2^level leaves starting at index * 2^level). The store keeps every such subtree's hash as
// it completes, so a head or a proof costs O(log n) lookups, never a pass over the log; the
// verifier rebuilds the same hashes from the entries themselves.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/crypto.hpp"

namespace sluice::audit {

using Hash = Sha256Digest;

// The 32 bytes of a hash, for hashing it again.
std::string_view hash_bytes(const Hash& hash);
// SHA-256(0x00 || data).
Hash leaf_hash(std::string_view data);
// SHA-256(0x01 || left || right).
Hash node_hash(const Hash& left, const Hash& right);
// The hash of the empty tree: SHA-256 of no bytes.
Hash empty_tree_hash();

// The hash of the perfect subtree of 2^level leaves whose first leaf is index << level.
using NodeSource = std::function<Hash(int level, std::uint64_t index)>;

// MTH(D[start : start + size]) for a range RFC 9162's recursion reaches (start a multiple of
// the largest power of two below or equal to size).
Hash subtree_root(const NodeSource& nodes, std::uint64_t start, std::uint64_t size);

// MTH of the first `size` leaves.
Hash tree_root(const NodeSource& nodes, std::uint64_t size);

// PATH(leaf, D[0:size]): the inclusion proof of leaf `leaf` (0-based) in the tree of `size`.
std::vector<Hash> inclusion_proof(const NodeSource& nodes, std::uint64_t leaf, std::uint64_t size);

// PROOF(old_size, D[0:size]): the consistency proof between the tree of old_size and the tree
// of size (0 < old_size <= size).
std::vector<Hash> consistency_proof(const NodeSource& nodes, std::uint64_t old_size,
                                    std::uint64_t size);

// RFC 9162 2.1.3.2: whether `path` proves leaf `leaf` with hash `leaf_hash` in the tree of
// `size` whose root is `root`.
bool verify_inclusion(std::uint64_t leaf, std::uint64_t size, const Hash& leaf_hash,
                      const std::vector<Hash>& path, const Hash& root);

// RFC 9162 2.1.4.2: whether `path` proves the tree of old_size with root old_root is a prefix
// of the tree of size with root `root`.
bool verify_consistency(std::uint64_t old_size, std::uint64_t size, const Hash& old_root,
                        const Hash& root, const std::vector<Hash>& path);

// The hashes of the perfect subtrees completed when leaf `index` is appended, beyond the leaf
// itself: for each level l >= 1 at which the new leaf closes a subtree, (l, index >> l, hash).
// `nodes` must give the subtrees to the left of the new leaf (and the new leaf at level 0).
struct CompletedNode {
  int level = 0;
  std::uint64_t index = 0;
  Hash hash{};
};
std::vector<CompletedNode> nodes_completed_by(const NodeSource& nodes, std::uint64_t index);

// Lower-case hex of a hash, and back (nullopt-like: throws Error(65) naming `what`).
std::string hash_hex(const Hash& hash);
Hash hash_from_hex(std::string_view hex, std::string_view what);

}  // namespace sluice::audit
