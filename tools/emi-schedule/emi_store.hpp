// emi-schedule's state: loans with their collection policy, installments with their
// collection progress, applied payment results (the idempotency record) and charges.
// synchronous=FULL (money moves on what it says); writers serialised through FILE.lock.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "emi_schedule.hpp"
#include "sluice/db.hpp"

namespace sluice::emi {

// How a loan is collected; given at create and stored with the loan.
struct Policy {
  int retry_after_days = 2;
  int max_attempts = 3;  // presentments in total (the NACHA limit for ACH debits)
  bool penalty_is_flat = false;
  std::int64_t penalty_flat = 0;           // minor units
  decimal::Fraction penalty_rate{2, 100};  // of the installment's payment
  std::set<std::string> non_retryable{"R02", "R03", "R04", "R07", "R10"};
  std::optional<int> grace_days;  // unpaid this many days after the due date: overdue
};

// "R02,R03" -> {"R02", "R03"} (empty items dropped): failure codes as options and as stored.
std::set<std::string> split_codes(const std::string& text);

struct Loan {
  std::string id;
  LoanTerms terms;
  Policy policy;
};

// An installment as stored, with its collection progress.
struct StoredInstallment {
  std::string loan;
  decimal::Currency currency;
  Installment row;
  std::string state;  // due, paid, overdue
  int attempts = 0;   // presentments recorded
  Date next_attempt;
  bool reminded = false;
  std::int64_t penalty = 0;
  std::int64_t paid_penalty = 0;
  std::int64_t paid_interest = 0;
  std::int64_t paid_principal = 0;
  [[nodiscard]] std::int64_t outstanding() const {
    return row.payment + penalty - paid_penalty - paid_interest - paid_principal;
  }
};

// A stored payment result: the idempotency record of `record`.
struct StoredResult {
  std::string result;
  std::string code;
  std::int64_t amount = 0;  // what a payment paid; 0 for failures (and for payments stored
                            // before presentments were kept, which stored no amount)
};

class Store {
 public:
  Store(const std::string& location, db::OpenOptions options);
  db::Database& database() { return database_; }

  // The canonical text of a loan's terms and policy: equal text means identical loans.
  static std::string describe(const Loan& loan);
  // Inserts the loan and its schedule, or returns false when the ID exists with identical
  // terms; Error(65) when it exists with different ones. Call inside a write transaction.
  bool insert(const Loan& loan, const Schedule& schedule);
  // On a server, RowLock::for_update holds the loan's row until the transaction ends: changes
  // to one loan's future (prepay, reprice) then queue instead of racing.
  std::optional<Loan> find(const std::string& id, db::RowLock lock = db::RowLock::none);
  std::vector<std::string> loan_ids();
  std::vector<StoredInstallment> installments(const std::string& loan);
  std::optional<StoredInstallment> installment(const std::string& loan, int number,
                                               db::RowLock lock = db::RowLock::none);
  // On a server, locks the installments (loan, number) that a write transaction is about to
  // change, all at once and in one order for every process: two batches naming the same
  // installments in different orders would otherwise deadlock. Nothing on SQLite, whose
  // write transaction already excludes every other writer.
  void lock_installments(const std::vector<std::pair<std::string, int>>& keys);
  // The selections of remind and collect. Each locks the rows it returns and skips rows
  // another transaction holds (on a server: FOR UPDATE SKIP LOCKED), so that runs on several
  // hosts at once share the work instead of repeating it; a row changed by a run that
  // committed meanwhile is judged again as it is now.
  //
  // Not paid, not reminded, due in [from, to].
  std::vector<StoredInstallment> to_remind(Date from, Date to);
  // Not paid, not overdue, due on or before today, next attempt due on or before today, and
  // not leased to another collect run (lease_until unset or not after `now`).
  std::vector<StoredInstallment> to_collect(Date today, Instant now);
  // Due (not paid, not overdue) installments of loans with a grace period, unpaid more than
  // that many days after their due date.
  std::vector<StoredInstallment> past_grace(Date today);
  // Leases the installment's next attempt to this collect run until `until`.
  void lease(const StoredInstallment& item, Instant until);
  std::optional<StoredResult> result(const std::string& loan, int number, int attempt);
  void save_result(const std::string& loan, int number, int attempt, const StoredResult& result,
                   Date today);
  // Records that collect presents `attempt` of `item` for what is outstanding now, unless that
  // attempt was presented before; returns the amount presented (the first one, on a re-run).
  // Call inside a write transaction.
  std::int64_t present(const StoredInstallment& item, int attempt, Date today);
  // The amount presented for an attempt, or nullopt when collect never presented it.
  std::optional<std::int64_t> presented(const std::string& loan, int number, int attempt);
  // Writes the installment's progress; a change of its attempt count ends its lease.
  void save_progress(const StoredInstallment& item);
  void charge_penalty(const StoredInstallment& item, Date today);

  // A change to a loan's future (prepay, reprice), kept in emi_revisions.
  struct Revision {
    std::string kind;
    Date on;
    std::string detail;
  };
  // The date of the loan's latest revision, or nullopt when it has none.
  std::optional<Date> latest_revision(const std::string& loan);
  // Replaces the installments after `after` by `rows`, keeping the old ones in
  // emi_installments_history; Error(65) if one of them already has presentments or payments.
  // Returns the revision number. Call inside a write transaction.
  int replace_future(const std::string& loan, int after, const std::vector<Installment>& rows,
                     const Revision& revision);
  void set_rate(const std::string& loan, const decimal::Fraction& rate);

 private:
  // Installments joined with their loan's currency, matching `where` (SQL with ?1..?N).
  template <typename... Args>
  std::vector<StoredInstallment> select(std::string_view where, db::RowLock lock,
                                        const Args&... args);
  db::Database database_;
};

}  // namespace sluice::emi
