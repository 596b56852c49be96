#include "emi_store.hpp"

#include <array>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::emi {
namespace {

constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE emi_loans (
  loan TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  currency TEXT NOT NULL,
  exponent INTEGER NOT NULL,
  principal INTEGER NOT NULL,
  rate_numerator INTEGER NOT NULL,
  rate_denominator INTEGER NOT NULL,
  months INTEGER NOT NULL,
  disbursed TEXT NOT NULL,
  first_due TEXT NOT NULL,
  eom INTEGER NOT NULL,
  bpi TEXT NOT NULL,
  rounding TEXT NOT NULL,
  interest_rounding TEXT NOT NULL,
  retry_after_days INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  penalty_flat INTEGER,
  penalty_numerator INTEGER NOT NULL,
  penalty_denominator INTEGER NOT NULL,
  non_retryable TEXT NOT NULL,
  grace_days INTEGER
) STRICT;
CREATE TABLE emi_installments (
  loan TEXT NOT NULL REFERENCES emi_loans (loan),
  n INTEGER NOT NULL,
  due_date TEXT NOT NULL,
  opening INTEGER NOT NULL,
  payment INTEGER NOT NULL,
  interest INTEGER NOT NULL,
  principal INTEGER NOT NULL,
  closing INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'due' CHECK (state IN ('due', 'paid', 'overdue')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt TEXT NOT NULL,
  reminded INTEGER NOT NULL DEFAULT 0,
  penalty INTEGER NOT NULL DEFAULT 0,
  paid_penalty INTEGER NOT NULL DEFAULT 0,
  paid_interest INTEGER NOT NULL DEFAULT 0,
  paid_principal INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (loan, n)
) STRICT;
CREATE INDEX emi_installments_by_due_date ON emi_installments (due_date) WHERE state != 'paid';
CREATE TABLE emi_results (
  loan TEXT NOT NULL,
  n INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  result TEXT NOT NULL,
  code TEXT NOT NULL,
  amount INTEGER NOT NULL,
  recorded_on TEXT NOT NULL,
  PRIMARY KEY (loan, n, attempt)
) STRICT;
CREATE TABLE emi_charges (
  loan TEXT NOT NULL,
  n INTEGER NOT NULL,
  kind TEXT NOT NULL,
  amount INTEGER NOT NULL,
  charged_on TEXT NOT NULL,
  PRIMARY KEY (loan, n, kind)
) STRICT;
)sql";

// Prepayment and repricing replace the future installments; the replaced rows are kept.
constexpr std::string_view schema_v2 = R"sql(
CREATE TABLE emi_revisions (
  loan TEXT NOT NULL REFERENCES emi_loans (loan),
  revision INTEGER NOT NULL,
  kind TEXT NOT NULL,
  on_date TEXT NOT NULL,
  detail TEXT NOT NULL,
  PRIMARY KEY (loan, revision)
) STRICT;
CREATE TABLE emi_installments_history (
  loan TEXT NOT NULL,
  revision INTEGER NOT NULL,
  n INTEGER NOT NULL,
  due_date TEXT NOT NULL,
  opening INTEGER NOT NULL,
  payment INTEGER NOT NULL,
  interest INTEGER NOT NULL,
  principal INTEGER NOT NULL,
  closing INTEGER NOT NULL,
  PRIMARY KEY (loan, revision, n)
) STRICT;
)sql";

// What collect presented for each attempt: a result without an amount pays this, not what is
// outstanding when the result arrives (a penalty may have been added in between).
constexpr std::string_view schema_v3 = R"sql(
CREATE TABLE emi_presentments (
  loan TEXT NOT NULL,
  n INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  presented_on TEXT NOT NULL,
  PRIMARY KEY (loan, n, attempt)
) STRICT;
)sql";

// The lease of an intent collect emitted: until then (microseconds since the epoch), no other
// collect emits that installment's attempt again.
constexpr std::string_view schema_v4 = R"sql(
ALTER TABLE emi_installments ADD COLUMN lease_until INTEGER;
)sql";

// Weekly and fortnightly loans, equal-principal and flat repayment: a loan stored before them
// is monthly and an annuity.
constexpr std::string_view schema_v5 = R"sql(
ALTER TABLE emi_loans ADD COLUMN frequency TEXT NOT NULL DEFAULT 'monthly';
ALTER TABLE emi_loans ADD COLUMN method TEXT NOT NULL DEFAULT 'annuity';
)sql";

// Due dates rolled off weekends and holidays: the calendar is kept with the loan, so that a
// revision rolls the dates it rebuilds as create did (a later calendar moves no stored date).
constexpr std::string_view schema_v6 = R"sql(
ALTER TABLE emi_loans ADD COLUMN roll TEXT NOT NULL DEFAULT 'none';
ALTER TABLE emi_loans ADD COLUMN weekend TEXT NOT NULL DEFAULT 'sat,sun';
ALTER TABLE emi_loans ADD COLUMN holidays TEXT NOT NULL DEFAULT '';
)sql";

constexpr std::array<std::string_view, 6> migrations{schema_v1, schema_v2, schema_v3,
                                                     schema_v4, schema_v5, schema_v6};

// PostgreSQL runs the same steps, translated (db::postgresql_ddl).
constexpr db::Schema schema{migrations};

constexpr std::string_view installment_columns =
    "i.loan, l.currency, l.exponent, i.n, i.due_date, i.opening, i.payment, i.interest, "
    "i.principal, i.closing, i.state, i.attempts, i.next_attempt, i.reminded, i.penalty, "
    "i.paid_penalty, i.paid_interest, i.paid_principal";

// The caller chose must_exist and the busy timeout; the rest is this store's profile.
db::OpenOptions open_options(db::OpenOptions options) {
  options.synchronous = db::Synchronous::full;
  options.serialize_writers = true;
  return options;
}

std::string join(const std::set<std::string>& codes) {
  std::string text;
  for (const auto& code : codes) text += (text.empty() ? "" : ",") + code;
  return text;
}

}  // namespace

std::set<std::string> split_codes(const std::string& text) {
  std::set<std::string> codes;
  std::size_t start = 0;
  while (start < text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) codes.insert(text.substr(start, comma - start));
    start = comma + 1;
  }
  return codes;
}

namespace {

StoredInstallment read_installment(db::Statement& row) {
  StoredInstallment item;
  item.loan = row.text(0);
  item.currency = {row.text(1), static_cast<int>(row.integer(2))};
  item.row.number = static_cast<int>(row.integer(3));
  item.row.due = parse_date(row.text(4));
  item.row.opening = row.integer(5);
  item.row.payment = row.integer(6);
  item.row.interest = row.integer(7);
  item.row.principal = row.integer(8);
  item.row.closing = row.integer(9);
  item.state = row.text(10);
  item.attempts = static_cast<int>(row.integer(11));
  item.next_attempt = parse_date(row.text(12));
  item.reminded = row.integer(13) != 0;
  item.penalty = row.integer(14);
  item.paid_penalty = row.integer(15);
  item.paid_interest = row.integer(16);
  item.paid_principal = row.integer(17);
  return item;
}

}  // namespace

Store::Store(const std::string& location, db::OpenOptions options)
    : database_(location, open_options(options)) {
  db::migrate(database_, "emi-schedule", schema);
}

std::string Store::describe(const Loan& loan) {
  const LoanTerms& t = loan.terms;
  const Policy& p = loan.policy;
  std::string description = fmt::format(
      "currency={} principal={} rate={}/{} months={} disbursed={} first_due={} eom={} bpi={} "
      "rounding={} interest_rounding={} retry_after={}d max_attempts={} penalty={} "
      "non_retryable={} grace={}",
      t.currency.code, t.principal, static_cast<long long>(t.annual_rate.numerator),
      static_cast<long long>(t.annual_rate.denominator), t.months, format_date(t.disbursed),
      format_date(t.first_due), t.end_of_month ? 1 : 0, broken_period_name(t.broken_period),
      decimal::rounding_name(t.emi_rounding), decimal::rounding_name(t.interest_rounding),
      p.retry_after_days, p.max_attempts,
      p.penalty_is_flat
          ? fmt::format("flat:{}", p.penalty_flat)
          : fmt::format("percent:{}/{}", static_cast<long long>(p.penalty_rate.numerator),
                        static_cast<long long>(p.penalty_rate.denominator)),
      join(p.non_retryable), p.grace_days ? std::to_string(*p.grace_days) : "none");
  // Only terms that differ from what every loan had before they existed are named, so that a
  // loan stored then still describes (and re-creates) as it did.
  if (t.frequency != Frequency::monthly)
    description += fmt::format(" frequency={}", frequency_name(t.frequency));
  if (t.method != Method::annuity) description += fmt::format(" method={}", method_name(t.method));
  if (t.roll != Roll::none) {
    description +=
        fmt::format(" roll={} weekend={} holidays={}", roll_names.name(t.roll),
                    weekend_text(t.calendar.weekend), holidays_text(t.calendar.holidays));
  }
  return description;
}

bool Store::insert(const Loan& loan, const Schedule& schedule) {
  std::string description = describe(loan);
  const LoanTerms& t = loan.terms;
  const Policy& p = loan.policy;
  // Inserted only if new: a create of the same loan on another host at the same moment waits
  // for this one's key and then finds the loan, instead of failing on the key.
  int inserted = database_.execute(
      "INSERT INTO emi_loans (loan, description, currency, exponent, principal, rate_numerator, "
      "rate_denominator, months, disbursed, first_due, eom, bpi, rounding, interest_rounding, "
      "retry_after_days, max_attempts, penalty_flat, penalty_numerator, penalty_denominator, "
      "non_retryable, grace_days, frequency, method, roll, weekend, holidays) VALUES (?1, ?2, ?3, "
      "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, "
      "?23, ?24, ?25, ?26) "
      "ON CONFLICT (loan) DO NOTHING",
      loan.id, description, t.currency.code, t.currency.exponent, t.principal,
      static_cast<std::int64_t>(t.annual_rate.numerator),
      static_cast<std::int64_t>(t.annual_rate.denominator), t.months, format_date(t.disbursed),
      format_date(t.first_due), t.end_of_month ? 1 : 0,
      std::string(broken_period_name(t.broken_period)),
      std::string(decimal::rounding_name(t.emi_rounding)),
      std::string(decimal::rounding_name(t.interest_rounding)), p.retry_after_days, p.max_attempts,
      p.penalty_is_flat ? std::optional<std::int64_t>(p.penalty_flat) : std::nullopt,
      static_cast<std::int64_t>(p.penalty_rate.numerator),
      static_cast<std::int64_t>(p.penalty_rate.denominator), join(p.non_retryable), p.grace_days,
      std::string(frequency_name(t.frequency)), std::string(method_name(t.method)),
      std::string(roll_names.name(t.roll)), weekend_text(t.calendar.weekend),
      holidays_text(t.calendar.holidays));
  if (inserted == 0) {
    auto existing = database_.query("SELECT description FROM emi_loans WHERE loan = ?1", loan.id);
    existing.step();
    if (existing->text(0) == description) return false;
    throw Error(exit_code::data,
                fmt::format("loan '{}' already exists with different terms (stored: {})", loan.id,
                            existing->text(0)));
  }
  for (const auto& row : schedule.installments) {
    database_.execute(
        "INSERT INTO emi_installments (loan, n, due_date, opening, payment, interest, principal, "
        "closing, next_attempt) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?3)",
        loan.id, row.number, format_date(row.due), row.opening, row.payment, row.interest,
        row.principal, row.closing);
  }
  return true;
}

std::optional<Loan> Store::find(const std::string& id, db::RowLock lock) {
  auto query = database_.query(
      "SELECT currency, exponent, principal, rate_numerator, rate_denominator, months, "
      "disbursed, first_due, eom, bpi, rounding, interest_rounding, retry_after_days, "
      "max_attempts, penalty_flat, penalty_numerator, penalty_denominator, non_retryable, "
      "grace_days, frequency, method, roll, weekend, holidays FROM emi_loans WHERE loan = ?1" +
          db::row_lock_clause(database_.backend(), lock),
      id);
  if (!query.step()) return std::nullopt;
  db::Statement& row = query.row();
  Loan loan;
  loan.id = id;
  LoanTerms& t = loan.terms;
  t.currency = {row.text(0), static_cast<int>(row.integer(1))};
  t.principal = row.integer(2);
  t.annual_rate = decimal::make_fraction(row.integer(3), row.integer(4));
  t.months = static_cast<int>(row.integer(5));
  t.disbursed = parse_date(row.text(6));
  t.first_due = parse_date(row.text(7));
  t.end_of_month = row.integer(8) != 0;
  t.broken_period = parse_broken_period(row.text(9));
  t.emi_rounding = decimal::parse_rounding("rounding", row.text(10));
  t.interest_rounding = decimal::parse_rounding("interest_rounding", row.text(11));
  Policy& p = loan.policy;
  p.retry_after_days = static_cast<int>(row.integer(12));
  p.max_attempts = static_cast<int>(row.integer(13));
  p.penalty_is_flat = !row.is_null(14);
  if (p.penalty_is_flat) p.penalty_flat = row.integer(14);
  p.penalty_rate = decimal::make_fraction(row.integer(15), row.integer(16));
  p.non_retryable = split_codes(row.text(17));
  if (!row.is_null(18)) p.grace_days = static_cast<int>(row.integer(18));
  t.frequency = parse_frequency(row.text(19));
  t.method = parse_method(row.text(20));
  t.roll = roll_names.parse("roll", row.text(21));
  t.calendar.weekend = parse_weekend("weekend", row.text(22));
  t.calendar.holidays = parse_holidays_text(row.text(23));
  return loan;
}

std::vector<std::string> Store::loan_ids() {
  std::vector<std::string> ids;
  auto query = database_.query("SELECT loan FROM emi_loans ORDER BY loan");
  while (query.step()) ids.push_back(query->text(0));
  return ids;
}

template <typename... Args>
std::vector<StoredInstallment> Store::select(std::string_view where, db::RowLock lock,
                                             const Args&... args) {
  std::string sql = fmt::format(
      "SELECT {} FROM emi_installments i JOIN emi_loans l USING (loan) WHERE {} "
      "ORDER BY i.due_date, i.loan, i.n{}",
      installment_columns, where, db::row_lock_clause(database_.backend(), lock, "i"));
  std::vector<StoredInstallment> items;
  auto query = database_.query(sql, args...);
  while (query.step()) items.push_back(read_installment(query.row()));
  return items;
}

std::vector<StoredInstallment> Store::installments(const std::string& loan) {
  return select("i.loan = ?1", db::RowLock::none, loan);
}

std::optional<StoredInstallment> Store::installment(const std::string& loan, int number,
                                                    db::RowLock lock) {
  auto items = select("i.loan = ?1 AND i.n = ?2", lock, loan, number);
  if (items.empty()) return std::nullopt;
  return items.front();
}

void Store::lock_installments(const std::vector<std::pair<std::string, int>>& keys) {
  if (database_.backend() == db::Backend::sqlite || keys.empty()) return;
  std::vector<std::string> loans, numbers;
  for (const auto& [loan, number] : keys) {
    loans.push_back(loan);
    numbers.push_back(std::to_string(number));
  }
  // The sort runs below the row locks: rows are locked in (loan, n) order.
  auto query = database_.query(
      "SELECT 1 FROM emi_installments i JOIN unnest(?1::text[], ?2::int[]) AS k(loan, n) "
      "USING (loan, n) ORDER BY i.loan, i.n FOR UPDATE OF i",
      db::postgresql_array(loans), db::postgresql_array(numbers));
  while (query.step()) {
  }
}

std::vector<StoredInstallment> Store::to_remind(Date from, Date to) {
  return select("i.state != 'paid' AND i.reminded = 0 AND i.due_date BETWEEN ?1 AND ?2",
                db::RowLock::skip_locked, format_date(from), format_date(to));
}

std::vector<StoredInstallment> Store::to_collect(Date today, Instant now) {
  return select(
      "i.state = 'due' AND i.due_date <= ?1 AND i.next_attempt <= ?1 AND "
      "i.attempts < l.max_attempts AND (i.lease_until IS NULL OR i.lease_until <= ?2)",
      db::RowLock::skip_locked, format_date(today), now.time_since_epoch().count());
}

std::vector<StoredInstallment> Store::past_grace(Date today) {
  static constexpr db::Dialects past_due_date_plus_grace{
      "date(i.due_date, printf('+%d days', l.grace_days)) < ?1",
      "CAST(i.due_date AS date) + CAST(l.grace_days AS integer) < CAST(?1 AS date)"};
  return select(fmt::format("i.state = 'due' AND l.grace_days IS NOT NULL AND {}",
                            past_due_date_plus_grace.of(database_.backend())),
                db::RowLock::skip_locked, format_date(today));
}

void Store::lease(const StoredInstallment& item, Instant until) {
  database_.execute("UPDATE emi_installments SET lease_until = ?3 WHERE loan = ?1 AND n = ?2",
                    item.loan, item.row.number, until.time_since_epoch().count());
}

std::optional<StoredResult> Store::result(const std::string& loan, int number, int attempt) {
  auto query = database_.query(
      "SELECT result, code, amount FROM emi_results WHERE loan = ?1 AND n = ?2 AND attempt = ?3",
      loan, number, attempt);
  if (!query.step()) return std::nullopt;
  return StoredResult{query->text(0), query->text(1), query->integer(2)};
}

void Store::save_result(const std::string& loan, int number, int attempt,
                        const StoredResult& result, Date today) {
  database_.execute("INSERT INTO emi_results VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", loan, number,
                    attempt, result.result, result.code, result.amount, format_date(today));
}

std::int64_t Store::present(const StoredInstallment& item, int attempt, Date today) {
  database_.execute(
      "INSERT INTO emi_presentments VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING", item.loan,
      item.row.number, attempt, item.outstanding(), format_date(today));
  return *presented(item.loan, item.row.number, attempt);
}

std::optional<std::int64_t> Store::presented(const std::string& loan, int number, int attempt) {
  auto query = database_.query(
      "SELECT amount FROM emi_presentments WHERE loan = ?1 AND n = ?2 AND attempt = ?3", loan,
      number, attempt);
  if (!query.step()) return std::nullopt;
  return query->integer(0);
}

void Store::save_progress(const StoredInstallment& item) {
  database_.execute(
      "UPDATE emi_installments SET state = ?3, attempts = ?4, next_attempt = ?5, reminded = ?6, "
      "penalty = ?7, paid_penalty = ?8, paid_interest = ?9, paid_principal = ?10, "
      "lease_until = CASE WHEN attempts = ?4 THEN lease_until END WHERE loan = ?1 AND n = ?2",
      item.loan, item.row.number, item.state, item.attempts, format_date(item.next_attempt),
      item.reminded ? 1 : 0, item.penalty, item.paid_penalty, item.paid_interest,
      item.paid_principal);
}

void Store::charge_penalty(const StoredInstallment& item, Date today) {
  database_.execute("INSERT INTO emi_charges VALUES (?1, ?2, 'penalty', ?3, ?4)", item.loan,
                    item.row.number, item.penalty, format_date(today));
}

std::optional<Date> Store::latest_revision(const std::string& loan) {
  auto query = database_.query("SELECT max(on_date) FROM emi_revisions WHERE loan = ?1", loan);
  if (!query.step() || query->is_null(0)) return std::nullopt;
  return parse_date(query->text(0));
}

int Store::replace_future(const std::string& loan, int after, const std::vector<Installment>& rows,
                          const Revision& revision) {
  {
    // A presentment without a recorded result is a debit the gateway may still be taking.
    auto touched = database_.query(
        "SELECT n FROM emi_installments i WHERE loan = ?1 AND n > ?2 AND (attempts > 0 OR "
        "paid_penalty + paid_interest + paid_principal > 0 OR state != 'due' OR EXISTS "
        "(SELECT 1 FROM emi_presentments p WHERE p.loan = i.loan AND p.n = i.n)) "
        "ORDER BY n LIMIT 1",
        loan, after);
    if (touched.step()) {
      throw Error(exit_code::data,
                  fmt::format("loan '{}': installment {} is after {} and already has "
                              "presentments or payments; record its outcome first",
                              loan, touched->integer(0), format_date(revision.on)));
    }
  }
  int number = 1;
  {
    auto last = database_.query(
        "SELECT coalesce(max(revision), 0) + 1 FROM emi_revisions WHERE loan = ?1", loan);
    if (last.step()) number = static_cast<int>(last->integer(0));
  }
  database_.execute(
      "INSERT INTO emi_installments_history SELECT loan, ?3, n, due_date, opening, payment, "
      "interest, principal, closing FROM emi_installments WHERE loan = ?1 AND n > ?2",
      loan, after, number);
  database_.execute("DELETE FROM emi_installments WHERE loan = ?1 AND n > ?2", loan, after);
  for (const auto& row : rows) {
    database_.execute(
        "INSERT INTO emi_installments (loan, n, due_date, opening, payment, interest, principal, "
        "closing, next_attempt) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?3)",
        loan, row.number, format_date(row.due), row.opening, row.payment, row.interest,
        row.principal, row.closing);
  }
  database_.execute("UPDATE emi_loans SET months = ?2 WHERE loan = ?1", loan,
                    after + static_cast<int>(rows.size()));
  database_.execute("INSERT INTO emi_revisions VALUES (?1, ?2, ?3, ?4, ?5)", loan, number,
                    revision.kind, format_date(revision.on), revision.detail);
  return number;
}

void Store::set_rate(const std::string& loan, const decimal::Fraction& rate) {
  database_.execute(
      "UPDATE emi_loans SET rate_numerator = ?2, rate_denominator = ?3 WHERE loan = ?1", loan,
      static_cast<std::int64_t>(rate.numerator), static_cast<std::int64_t>(rate.denominator));
}

}  // namespace sluice::emi
