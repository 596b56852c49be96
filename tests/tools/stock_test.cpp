#include "stock.hpp"

#include <gtest/gtest.h>

#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"
#include "test_support.hpp"

namespace sluice::stock {
namespace {

using namespace std::chrono_literals;

const Instant stock_t0 = parse_instant("2026-03-01T12:00:00Z");

ReserveRequest buy(std::string sku, std::int64_t quantity = 1) {
  ReserveRequest request;
  request.sku = std::move(sku);
  request.quantity = quantity;
  request.hold = 10min;
  return request;
}

ReserveRequest parsed(std::string_view line) {
  JsonParser parser;
  ParseOutcome outcome = parser.parse_object(line);
  EXPECT_TRUE(outcome.value) << outcome.error;
  ReserveRequest defaults = buy("", 1);
  return request_from_record(*outcome.value, defaults);
}

TEST(StockNames, HoldsAreSkuColonNumber) {
  validate_hold("tshirt:1");
  validate_hold("a:b:17");
  for (std::string_view hold : {"tshirt", "tshirt:", ":3", "t:3x", "t 1:2", ""}) {
    EXPECT_EQ(testing::exit_status_of([&] { validate_hold(hold); }), exit_code::usage) << hold;
  }
}

TEST(StockBatchLine, MissingFieldsTakeTheDefaults) {
  ReserveRequest request = parsed(R"({"sku":"a","customer":"c1","key":"k1"})");
  EXPECT_EQ(request.sku, "a");
  EXPECT_EQ(request.quantity, 1);
  EXPECT_EQ(request.hold, 10min);
  EXPECT_EQ(request.customer, "c1");
  EXPECT_EQ(request.key, "k1");
  EXPECT_EQ(request.limit_per_customer, 0);
  request = parsed(R"({"sku":"a","quantity":3,"hold":"90s","limit_per_customer":2})");
  EXPECT_EQ(request.quantity, 3);
  EXPECT_EQ(request.hold, 90s);
  EXPECT_EQ(request.limit_per_customer, 2);
  EXPECT_FALSE(request.customer);
}

TEST(StockBatchLine, BadFieldsAreDataErrors) {
  for (std::string_view line :
       {R"({"quantity":1})", R"({"sku":"a","quantity":0})", R"({"sku":"a","quantity":-2})",
        R"({"sku":"a","quantity":1.5})", R"({"sku":"a","hold":"soon"})",
        R"({"sku":"a","hold":"0s"})", R"({"sku":"a b"})", R"({"sku":7})",
        R"({"sku":"a","customer":""})", R"({"sku":"a","limit_per_customer":0})"}) {
    EXPECT_EQ(testing::exit_status_of([&] { parsed(line); }), exit_code::data) << line;
  }
}

class StockStore : public ::testing::TestWithParam<db::Backend> {
 protected:
  void SetUp() override {
    if (!state_.available()) GTEST_SKIP() << "SLUICE_TEST_PG_URL is not set (scripts/test sets it)";
    store_ = std::make_unique<SqlStore>(state_.location(), db::OpenOptions{});
  }
  Reservation reserve(const ReserveRequest& request, Instant now = stock_t0) {
    return store_->reserve({&request, 1}, now).front();
  }
  Item item(const std::string& sku) { return store_->items(sku).at(0); }
  void expect_consistent() {
    for (const Audit& audit : store_->audit()) EXPECT_TRUE(audit.consistent()) << audit.item.sku;
  }
  sluice::testing::StateLocation state_{GetParam()};
  std::unique_ptr<SqlStore> store_;
};

TEST_P(StockStore, ReservesUntilSoldOutAndNeverBelowZero) {
  store_->set("a", 5);
  EXPECT_EQ(reserve(buy("a", 3)).outcome, ReserveOutcome::held);
  Reservation refused = reserve(buy("a", 3));
  EXPECT_EQ(refused.outcome, ReserveOutcome::sold_out);
  EXPECT_EQ(refused.available, 2);
  Reservation last = reserve(buy("a", 2));
  EXPECT_EQ(last.outcome, ReserveOutcome::held);
  EXPECT_EQ(last.hold.id, "a:2");
  EXPECT_EQ(last.hold.expires, stock_t0 + 10min);
  Item counts = item("a");
  EXPECT_EQ(counts.available, 0);
  EXPECT_EQ(counts.held, 5);
  EXPECT_EQ(counts.total, 5);
  EXPECT_EQ(reserve(buy("nope")).outcome, ReserveOutcome::unknown_sku);
  expect_consistent();
}

TEST_P(StockStore, ExpiredHoldsGoBackAtTheNextReserveAndCannotBeCommitted) {
  store_->set("a", 1);
  Reservation first = reserve(buy("a"));
  EXPECT_EQ(reserve(buy("a"), stock_t0 + 9min).outcome, ReserveOutcome::sold_out);
  Reservation second = reserve(buy("a"), stock_t0 + 10min);
  EXPECT_EQ(second.outcome, ReserveOutcome::held);
  Settlement late = store_->commit(first.hold.id, stock_t0 + 11min);
  EXPECT_FALSE(late.changed);
  EXPECT_EQ(late.hold->state, HoldState::expired);
  Settlement bought = store_->commit(second.hold.id, stock_t0 + 11min);
  EXPECT_TRUE(bought.changed);
  EXPECT_EQ(item("a").sold, 1);
  EXPECT_EQ(item("a").held, 0);
  EXPECT_FALSE(store_->commit("a:99", stock_t0).hold);
  expect_consistent();
}

TEST_P(StockStore, ExpireAndReleaseGiveUnitsBack) {
  store_->set("a", 4);
  store_->set("b", 4);
  Reservation held = reserve(buy("a", 2));
  reserve(buy("b", 3));
  EXPECT_TRUE(store_->release(held.hold.id, stock_t0 + 1min).changed);
  EXPECT_FALSE(store_->release(held.hold.id, stock_t0 + 1min).changed);
  EXPECT_EQ(item("a").available, 4);
  Expiry expiry = store_->expire(stock_t0 + 1h);
  EXPECT_EQ(expiry.holds, 1);
  EXPECT_EQ(expiry.quantity, 3);
  EXPECT_EQ(item("b").available, 4);
  expect_consistent();
}

TEST_P(StockStore, TheSameKeyReturnsTheSameHoldAndADifferentRequestConflicts) {
  store_->set("a", 10);
  ReserveRequest request = buy("a", 2);
  request.key = "k1";
  Reservation first = reserve(request);
  Reservation again = reserve(request, stock_t0 + 1s);
  EXPECT_EQ(again.outcome, ReserveOutcome::replayed);
  EXPECT_EQ(again.hold.id, first.hold.id);
  EXPECT_EQ(again.hold.expires, first.hold.expires);
  request.quantity = 3;
  EXPECT_EQ(reserve(request).outcome, ReserveOutcome::key_conflict);
  EXPECT_EQ(item("a").held, 2);
  expect_consistent();
}

TEST_P(StockStore, CustomerLimitCountsHeldAndBoughtNotExpired) {
  store_->set("a", 10);
  ReserveRequest request = buy("a", 2);
  request.customer = "c1";
  request.limit_per_customer = 3;
  Reservation first = reserve(request);
  store_->commit(first.hold.id, stock_t0);
  request.quantity = 1;
  EXPECT_EQ(reserve(request).outcome, ReserveOutcome::held);
  Reservation over = reserve(request);
  EXPECT_EQ(over.outcome, ReserveOutcome::over_limit);
  EXPECT_EQ(over.customer_has, 3);
  // The held unit expires: the customer may hold one again.
  EXPECT_EQ(reserve(request, stock_t0 + 11min).outcome, ReserveOutcome::held);
  expect_consistent();
}

TEST_P(StockStore, SetBelowHeldAndSoldIsRefusedAndChangesNothing) {
  store_->set("a", 5);
  reserve(buy("a", 3));
  EXPECT_EQ(testing::exit_status_of([&] { store_->set("a", 2); }), exit_code::data);
  EXPECT_EQ(item("a").total, 5);
  Item raised = store_->set("a", 8);
  EXPECT_EQ(raised.available, 5);
  EXPECT_EQ(store_->add("a", 2).available, 7);
  EXPECT_EQ(testing::exit_status_of([&] { store_->add("zzz", 2); }), exit_code::data);
  expect_consistent();
}

INSTANTIATE_TEST_SUITE_P(Backends, StockStore,
                         ::testing::Values(db::Backend::sqlite, db::Backend::postgresql),
                         [](const auto& info) {
                           return sluice::testing::backend_name(info.param);
                         });

}  // namespace
}  // namespace sluice::stock
