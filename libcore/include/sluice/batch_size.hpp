// batch_size: the size of the next batch of rows under --chunk-time (pt-online-schema-change's
// option of that name) for the tools that change an application's table in short transactions
// while it is written (reindex backfill, ttl sweep): each batch's transaction should take about
// the target time, however fast the machine and however wide the rows.
#pragma once

#include <cstdint>

#include "sluice/timeutil.hpp"

namespace sluice {

class BatchSizer {
 public:
  // Bounds of the size under a target time: one row is too little to be worth a transaction,
  // and a batch must never grow so large that one slow batch holds the lock for long.
  static constexpr std::int64_t minimum = 10;
  static constexpr std::int64_t maximum = 100'000;

  // `target` 0: the size stays `initial`. Otherwise `initial` (kept within the bounds) is the
  // first batch's size.
  BatchSizer(std::int64_t initial, Duration target);

  [[nodiscard]] std::int64_t size() const { return size_; }

  // A batch of `rows` rows took `elapsed`. The copy rate is smoothed over the batches (each
  // new batch's rate weighs a quarter, so one batch slowed by a checkpoint or a waiting lock
  // moves the size only a little), the next size is rate × target, within the bounds, and at
  // most double the last (a burst of fast batches cannot jump to the maximum at once).
  void record(std::int64_t rows, Duration elapsed);

 private:
  Duration target_;
  std::int64_t size_;
  double rows_per_second_ = 0;  // smoothed; 0 before the first batch
};

}  // namespace sluice
