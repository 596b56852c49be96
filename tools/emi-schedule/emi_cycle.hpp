// The collection cycle over stored loans: create, show, list, remind, collect, record, status.
// Every date-dependent step takes `today` so that cron behaviour is testable without a clock.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "emi_calc.hpp"
#include "emi_store.hpp"
#include "sluice/cli.hpp"
#include "sluice/jsonl.hpp"
#include "sluice/names.hpp"
#include "sluice/progress.hpp"

namespace sluice::emi {

// One payment result as `record` reads it.
struct PaymentResult {
  std::string loan;
  int number = 0;
  int attempt = 0;
  bool paid = false;
  std::string code;
  // Minor units. A payment without an amount pays what collect presented for that attempt
  // (record fills it in from the presentment), or, for an attempt collect never presented,
  // everything outstanding.
  std::optional<std::int64_t> amount;
};

// A result as `record` reads it from one line, with where it came from for messages. The
// amount stays text until the loan's currency is known (read_amount).
struct ReadResult {
  PaymentResult result;
  std::optional<std::string> amount_text;
  std::string location;
};

// The result in one `record` input record: loan (non-empty string), n and attempt
// (non-negative integers), result ("paid" or "failed"), code (string or null) and amount (a
// decimal string or number, or null). A bad record goes to reader.reject (Error(65), or
// reported once under --skip-invalid) and gives nullopt.
std::optional<ReadResult> read_result(JsonlReader& reader, const Record& record);

// Sets read.result.amount from read.amount_text (if any) in `currency`'s minor unit. A bad
// amount goes to reader.reject, naming the field, and gives false.
bool read_amount(JsonlReader& reader, const Record& record, ReadResult& read,
                 const decimal::Currency& currency);

// What applying a result came to: applied, or why not.
struct Outcome {
  bool applied = false;
  std::string reason;  // "" when applied; duplicate, conflict, superseded, already_paid, ...
  bool penalty_charged = false;
  std::int64_t paid = 0;  // what an applied payment paid
};

// Whether `result` repeats `stored` (the result recorded for the same attempt): the same
// outcome and code and, for a payment that names an amount, the same amount. A stored payment
// of 0 was recorded before amounts were kept, so any amount repeats it.
bool repeats(const StoredResult& stored, const PaymentResult& result);

// The pure rule for one result against the installment as stored (and the result already
// stored for that attempt, if any): a repeat is a duplicate, any other result for a stored
// attempt a conflict. Updates `item` when the result applies.
Outcome apply_result(StoredInstallment& item, const Policy& policy, const PaymentResult& result,
                     const std::optional<StoredResult>& stored, Date today);

// The penalty an installment is charged when it becomes overdue.
std::int64_t penalty_for(const Installment& row, const Policy& policy);

// Each prints JSON Lines (or --format) on stdout and returns the exit status.
int create(Store& store, const Loan& loan);
// Creates every loan of a JSONL file in one transaction: each record has "loan" and any of
// principal, rate, months, currency, disbursed, first_due, eom, bpi, rounding,
// interest_rounding, frequency, method; missing ones come from `defaults` (the calendar and
// roll come only from the command line's `rolling`). A bad record (65, with its line) creates
// nothing. Prints one summary record. The caller makes `reader` (which checks that its files
// can be read) before it opens the store, so that a missing file creates no state file.
int create_from(Store& store, JsonlReader& reader, const TermsText& defaults,
                const Rolling& rolling, const Policy& policy, Date today, Progress& progress);
int show(Store& store, const std::string& loan, Format format);
int list(Store& store, Format format);
int remind(Store& store, Date today, int ahead_days);

// The idempotency key of one presentment: "LOAN:N:ATTEMPT" when that is a valid key
// (sluice/keys.hpp) and LOAN does not start with "sha256:"; otherwise "sha256:HEX:N:ATTEMPT",
// HEX being the SHA-256 of the loan ID's bytes in lower-case hex. Always a valid key; the same
// for the same presentment and different for different ones (N and ATTEMPT are the last two
// fields, and only derived keys have a LOAN part starting with "sha256:").
std::string idempotency_key(std::string_view loan, int number, int attempt);

// Prints a debit intent for every installment due for collection and not leased to another
// run, after recording the amount each presents (emi_presentments) and leasing it to this run
// until now + lease: runs on several hosts at once emit each intent once. An attempt presented
// before is offered again, once its lease has passed, for the amount it was first presented
// for.
int collect(Store& store, Date today, Instant now, Duration lease);
// Reads every result first (bad input: nothing written), then applies them `batch` per write
// transaction; each result and its effects commit together, so a re-run after a crash
// applies every result exactly once. A batch's outcomes are written and flushed before it
// commits: a crash may report a result applied twice (the re-run applies it again, as it was
// not committed), never applied without reporting it. A conflicting result is reported on
// stdout and stderr, the rest applied, and the run exits 65.
int record(Store& store, const std::vector<std::string>& inputs, Date today,
           const InputOptions& input, std::size_t batch);
// What a prepayment shortens: the number of installments (the EMI stays) or the EMI (the
// months stay).
enum class PrepayMode { reduce_tenure, reduce_emi };
inline constexpr NameTable<PrepayMode, 2> prepay_mode_names(
    {{{"reduce-tenure", PrepayMode::reduce_tenure}, {"reduce-emi", PrepayMode::reduce_emi}}});

// Pays `amount` (text in the loan's currency) off the principal on date `on` and rebuilds the
// installments due after it from the balance they open with (which reflects every earlier
// revision): PrepayMode::reduce_tenure keeps the EMI, otherwise the EMI is recomputed over the same
// remaining months. Paying the whole balance closes the loan. Prepay and reprice refuse
// (Error(65)) a date in an earlier period than the loan's latest revision.
int prepay(Store& store, const std::string& loan, const std::string& amount, Date on,
           PrepayMode mode);
// Applies a new annual rate to the installments due after `from`: a new EMI over the same
// months, or with keep_emi the same EMI and as many months as it takes.
int reprice(Store& store, const std::string& loan, const decimal::Fraction& rate, Date from,
            bool keep_emi);
int status(Store& store, const std::optional<std::string>& loan, Date today, Format format);

// What closes a loan on date `on`: every unpaid principal; the unpaid interest of installments
// due on or before `on` (a separate broken-period charge is due at disbursal); interest accrued
// from the latest of those due dates (or accrual_start) to `on` on the unpaid principal of the
// installments due after `on` (on the original principal for a flat loan); interest on the
// unpaid principal of each installment due on or before `on` from its due date (not for a flat
// loan, whose interest is on the original principal throughout); and unpaid penalties. Interest
// is ACT/365F at the loan's current rate, rounded half-up per amount. Payments are those
// recorded so far.
struct Payoff {
  std::int64_t principal = 0;
  std::int64_t interest_due = 0;
  std::int64_t interest_accrued = 0;
  Date accrued_from;
  int accrued_days = 0;
  std::int64_t interest_on_overdue = 0;
  std::int64_t fees = 0;
  std::int64_t late_interest = 0;
  [[nodiscard]] std::int64_t total() const {
    return principal + interest_due + interest_accrued + interest_on_overdue + fees + late_interest;
  }
};
// With `late_rate`, each installment due on or before `on` and not paid also owes late
// interest: its unpaid principal and interest x late_rate x the days from its due date to `on`
// / 365, rounded half-up per installment. Error(65) for a date before disbursal.
Payoff payoff_quote(const Loan& loan, const std::vector<StoredInstallment>& items, Date on,
                    const decimal::Fraction& late_rate);
int payoff(Store& store, const std::string& loan, Date on, const decimal::Fraction& late_rate,
           Format format);

}  // namespace sluice::emi
