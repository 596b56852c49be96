#include "emi_cycle.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "sluice/crypto.hpp"
#include "sluice/error.hpp"
#include "sluice/format.hpp"
#include "sluice/jsonl.hpp"
#include "sluice/keys.hpp"
#include "sluice/progress.hpp"
#include "sluice/signals.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::emi {
namespace {

JsonValue money(const decimal::Currency& currency, std::int64_t minor) {
  return JsonValue::string(decimal::format_amount(minor, currency.exponent));
}
JsonValue text(std::string value) {
  return JsonValue::string(std::move(value));
}

JsonValue installment_state(const StoredInstallment& item) {
  const auto& c = item.currency;
  return JsonValue::object(
      {{"loan", text(item.loan)},
       {"n", JsonValue::integer(item.row.number)},
       {"due_date", text(format_date(item.row.due))},
       {"payment", money(c, item.row.payment)},
       {"interest", money(c, item.row.interest)},
       {"principal", money(c, item.row.principal)},
       {"closing", money(c, item.row.closing)},
       {"state", text(item.state)},
       {"attempts", JsonValue::integer(item.attempts)},
       {"penalty", money(c, item.penalty)},
       {"paid", money(c, item.paid_penalty + item.paid_interest + item.paid_principal)},
       {"outstanding", money(c, item.outstanding())}});
}

// Settles `amount` against penalty, then interest, then principal.
void settle(StoredInstallment& item, std::int64_t amount) {
  auto take = [&amount](std::int64_t owed, std::int64_t& paid) {
    std::int64_t part = std::min(amount, owed - paid);
    paid += part;
    amount -= part;
  };
  take(item.penalty, item.paid_penalty);
  take(item.row.interest, item.paid_interest);
  take(item.row.principal, item.paid_principal);
}

Outcome refused(std::string reason) {
  return Outcome{false, std::move(reason), false, 0};
}

void fail_attempt(StoredInstallment& item, const Policy& policy, const PaymentResult& result,
                  Date today, Outcome& outcome) {
  bool final_attempt =
      item.attempts >= policy.max_attempts || policy.non_retryable.contains(result.code);
  if (!final_attempt) {
    item.next_attempt =
        Date(std::chrono::sys_days(today) + std::chrono::days(policy.retry_after_days));
    return;
  }
  item.state = "overdue";
  if (item.penalty == 0) {
    item.penalty = penalty_for(item.row, policy);
    outcome.penalty_charged = item.penalty > 0;
  }
}

}  // namespace

std::int64_t penalty_for(const Installment& row, const Policy& policy) {
  if (policy.penalty_is_flat) return policy.penalty_flat;
  return static_cast<std::int64_t>(
      decimal::divide(static_cast<decimal::Int128>(row.payment) * policy.penalty_rate.numerator,
                      policy.penalty_rate.denominator, decimal::Rounding::half_up));
}

bool repeats(const StoredResult& stored, const PaymentResult& result) {
  if (stored.result != (result.paid ? "paid" : "failed") || stored.code != result.code) {
    return false;
  }
  // A payment of "everything outstanding" names no amount to compare.
  if (!result.paid || !result.amount || stored.amount == 0) return true;
  return *result.amount == stored.amount;
}

Outcome apply_result(StoredInstallment& item, const Policy& policy, const PaymentResult& result,
                     const std::optional<StoredResult>& stored, Date today) {
  if (stored) return refused(repeats(*stored, result) ? "duplicate" : "conflict");
  if (item.state == "paid") return refused("already_paid");
  if (result.attempt != item.attempts + 1) return refused("superseded");
  std::int64_t amount = result.amount.value_or(item.outstanding());
  if (result.paid && (amount <= 0 || amount > item.outstanding())) return refused("amount_not_due");
  Outcome outcome{true, "", false, 0};
  item.attempts = result.attempt;
  if (!result.paid) {
    fail_attempt(item, policy, result, today, outcome);
    return outcome;
  }
  settle(item, amount);
  outcome.paid = amount;
  if (item.outstanding() == 0) {
    item.state = "paid";
  } else {
    item.next_attempt =
        Date(std::chrono::sys_days(today) + std::chrono::days(policy.retry_after_days));
  }
  return outcome;
}

int create(Store& store, const Loan& loan) {
  Schedule schedule = build_schedule(loan.terms);
  db::WriteTransaction transaction(store.database());
  bool created = store.insert(loan, schedule);
  transaction.commit();
  OutputStream out(STDOUT_FILENO);
  out.write_line(
      to_json(JsonValue::object({{"loan", text(loan.id)},
                                 {"created", JsonValue::boolean(created)},
                                 {"currency", text(loan.terms.currency.code)},
                                 {"principal", money(loan.terms.currency, loan.terms.principal)},
                                 {"emi", money(loan.terms.currency, schedule.emi)},
                                 {"months", JsonValue::integer(loan.terms.months)},
                                 {"first_due", text(format_date(loan.terms.first_due))}})));
  out.flush();
  return exit_code::success;
}

int show(Store& store, const std::string& loan, Format format) {
  db::ReadTransaction read(store.database());
  if (!store.find(loan)) throw Error(exit_code::no_input, fmt::format("no loan '{}'", loan));
  auto items = store.installments(loan);
  OutputStream out(STDOUT_FILENO);
  RecordPrinter printer(out, format);
  for (const auto& item : items) printer.print(installment_state(item));
  printer.finish();
  out.flush();
  return exit_code::success;
}

int remind(Store& store, Date today, int ahead_days) {
  Date until = Date(std::chrono::sys_days(today) + std::chrono::days(ahead_days));
  db::WriteTransaction transaction(store.database());
  OutputStream out(STDOUT_FILENO);
  for (auto& item : store.to_remind(today, until)) {
    out.write_line(to_json(JsonValue::object({{"loan", text(item.loan)},
                                              {"n", JsonValue::integer(item.row.number)},
                                              {"due_date", text(format_date(item.row.due))},
                                              {"amount", money(item.currency, item.outstanding())},
                                              {"currency", text(item.currency.code)}})));
    item.reminded = true;
    store.save_progress(item);
  }
  // Deliver before committing: a crash in between re-sends reminders, never loses one.
  out.flush();
  transaction.commit();
  return exit_code::success;
}

// Installments unpaid past their loan's grace period become overdue, with the penalty.
void apply_grace(Store& store, Date today) {
  std::map<std::string, std::optional<Loan>> loans;
  for (auto& item : store.past_grace(today)) {
    auto [entry, fresh] = loans.try_emplace(item.loan);
    if (fresh) entry->second = store.find(item.loan);
    item.state = "overdue";
    if (item.penalty != 0) {
      store.save_progress(item);
      continue;
    }
    item.penalty = penalty_for(item.row, entry->second->policy);
    store.save_progress(item);
    if (item.penalty > 0) store.charge_penalty(item, today);
  }
}

std::string idempotency_key(std::string_view loan, int number, int attempt) {
  constexpr std::string_view derived_prefix = "sha256:";
  std::string readable = fmt::format("{}:{}:{}", loan, number, attempt);
  if (is_valid_key(readable) && !loan.starts_with(derived_prefix)) return readable;
  return fmt::format("{}{}:{}:{}", derived_prefix, to_hex(sha256(loan)), number, attempt);
}

namespace {

// The intent for the next attempt at `item`, recording what it presents.
JsonValue present(Store& store, const StoredInstallment& item, Date today) {
  int attempt = item.attempts + 1;
  std::int64_t amount = store.present(item, attempt, today);
  return JsonValue::object(
      {{"loan", text(item.loan)},
       {"n", JsonValue::integer(item.row.number)},
       {"attempt", JsonValue::integer(attempt)},
       {"amount", money(item.currency, amount)},
       {"currency", text(item.currency.code)},
       {"due_date", text(format_date(item.row.due))},
       {"idempotency_key", text(idempotency_key(item.loan, item.row.number, attempt))}});
}

}  // namespace

int collect(Store& store, Date today, Instant now, Duration lease) {
  std::vector<JsonValue> intents;
  {
    // Printed after the commit: a crash in between prints nothing, and a run after the lease
    // offers the same intents for the same amounts.
    db::WriteTransaction transaction(store.database());
    apply_grace(store, today);
    for (const auto& item : store.to_collect(today, now)) {
      intents.push_back(present(store, item, today));
      store.lease(item, now + lease);
    }
    transaction.commit();
  }
  OutputStream out(STDOUT_FILENO);
  for (const auto& intent : intents) out.write_line(to_json(intent));
  out.flush();
  return exit_code::success;
}

}  // namespace sluice::emi

namespace sluice::emi {
namespace {

std::string string_field(JsonlReader& reader, const Record& record, std::string_view name,
                         bool required) {
  const JsonValue* value = record.value.find(name);
  if (value == nullptr || value->kind() == JsonValue::Kind::null) {
    if (required) reader.reject(record, fmt::format("field \"{}\" is missing", name));
    return {};
  }
  if (!value->is_string()) {
    reader.reject(record, fmt::format("field \"{}\" must be a string", name));
    return {};
  }
  return value->text();
}

std::optional<int> positive_field(JsonlReader& reader, const Record& record,
                                  std::string_view name) {
  const JsonValue* value = record.value.find(name);
  int number = 0;
  const std::string* digits = value != nullptr && value->is_number() ? &value->text() : nullptr;
  bool valid = digits != nullptr && !digits->empty() && digits->size() <= 9 &&
               digits->find_first_not_of("0123456789") == std::string::npos;
  if (valid) number = std::stoi(*digits);
  if (!valid || number < 0) {
    reader.reject(record, fmt::format("field \"{}\" must be a non-negative integer", name));
    return std::nullopt;
  }
  return number;
}

}  // namespace

std::optional<ReadResult> read_result(JsonlReader& reader, const Record& record) {
  ReadResult read;
  read.location = reader.location_of(reader.current_input(), record.line);
  PaymentResult& result = read.result;
  // Each check returns at the first problem, so a bad line is reported (and counted) once.
  const JsonValue* loan = record.value.find("loan");
  if (loan == nullptr || !loan->is_string() || loan->text().empty()) {
    reader.reject(record, "field \"loan\" must be a non-empty string");
    return std::nullopt;
  }
  result.loan = loan->text();
  auto number = positive_field(reader, record, "n");
  if (!number) return std::nullopt;
  auto attempt = positive_field(reader, record, "attempt");
  if (!attempt) return std::nullopt;
  std::string outcome = string_field(reader, record, "result", true);
  if (const JsonValue* given = record.value.find("result");
      outcome.empty() && (given == nullptr || !given->is_string())) {
    return std::nullopt;  // missing or not a string: reported by string_field
  }
  if (outcome != "paid" && outcome != "failed") {
    reader.reject(record, "field \"result\" must be \"paid\" or \"failed\"");
    return std::nullopt;
  }
  result.number = *number;
  result.attempt = *attempt;
  result.paid = outcome == "paid";
  if (const JsonValue* code = record.value.find("code");
      code != nullptr && code->kind() != JsonValue::Kind::null && !code->is_string()) {
    reader.reject(record, "field \"code\" must be a string");
    return std::nullopt;
  }
  result.code = string_field(reader, record, "code", false);
  if (const JsonValue* amount = record.value.find("amount");
      amount != nullptr && (amount->is_string() || amount->is_number())) {
    read.amount_text = amount->text();
  } else if (amount != nullptr && amount->kind() != JsonValue::Kind::null) {
    reader.reject(record, "field \"amount\" must be a decimal string or number");
    return std::nullopt;
  }
  return read;
}

bool read_amount(JsonlReader& reader, const Record& record, ReadResult& read,
                 const decimal::Currency& currency) {
  if (!read.amount_text) return true;
  try {
    read.result.amount = decimal::parse_amount(*read.amount_text, currency.exponent);
  } catch (const Error& error) {
    reader.reject(record, fmt::format("field \"amount\": {}", error.what()));
    return false;
  }
  return true;
}

namespace {

// Reads and checks every result before anything is written: bad input leaves state as it was.
// An amount is read in its loan's currency; a result for an unknown loan keeps it as text.
std::vector<ReadResult> read_results(Store& store, JsonlReader& reader) {
  std::vector<ReadResult> results;
  std::map<std::string, std::optional<decimal::Currency>> currencies;
  while (auto record = reader.next()) {
    auto result = read_result(reader, *record);
    if (!result) continue;
    auto [entry, fresh] = currencies.try_emplace(result->result.loan);
    if (fresh) {
      auto loan = store.find(result->result.loan);
      if (loan) entry->second = loan->terms.currency;
    }
    if (entry->second && !read_amount(reader, *record, *result, *entry->second)) continue;
    results.push_back(std::move(*result));
  }
  return results;
}

JsonValue outcome_record(const ReadResult& read, const Outcome& outcome,
                         const std::optional<StoredInstallment>& item) {
  const PaymentResult& result = read.result;
  std::vector<JsonValue::Member> members{{"loan", text(result.loan)},
                                         {"n", JsonValue::integer(result.number)},
                                         {"attempt", JsonValue::integer(result.attempt)},
                                         {"result", text(result.paid ? "paid" : "failed")},
                                         {"applied", JsonValue::boolean(outcome.applied)}};
  if (!outcome.applied) members.emplace_back("reason", text(outcome.reason));
  if (item) {
    members.emplace_back("state", text(item->state));
    members.emplace_back("outstanding", money(item->currency, item->outstanding()));
    if (outcome.penalty_charged)
      members.emplace_back("penalty", money(item->currency, item->penalty));
  }
  return JsonValue::object(std::move(members));
}

Outcome apply_one(Store& store, std::map<std::string, std::optional<Loan>>& loans,
                  PaymentResult result, Date today, std::optional<StoredInstallment>& item) {
  auto [entry, fresh] = loans.try_emplace(result.loan);
  if (fresh) entry->second = store.find(result.loan);
  if (!entry->second) return refused("unknown_loan");
  // Held until the batch commits: the same result arriving twice at once applies once.
  item = store.installment(result.loan, result.number, db::RowLock::for_update);
  if (!item) return refused("unknown_installment");
  // The gateway took what was presented, not what is outstanding now: a penalty may have been
  // added since the debit went out.
  if (result.paid && !result.amount) {
    result.amount = store.presented(result.loan, result.number, result.attempt);
  }
  Outcome outcome = apply_result(*item, entry->second->policy, result,
                                 store.result(result.loan, result.number, result.attempt), today);
  if (!outcome.applied) return outcome;
  store.save_progress(*item);
  store.save_result(result.loan, result.number, result.attempt,
                    StoredResult{result.paid ? "paid" : "failed", result.code, outcome.paid},
                    today);
  if (outcome.penalty_charged) store.charge_penalty(*item, today);
  return outcome;
}

// One line on stderr for a result that conflicts with the one recorded for its attempt.
void report_conflict(Store& store, const ReadResult& read) {
  const PaymentResult& result = read.result;
  auto stored = store.result(result.loan, result.number, result.attempt);
  auto loan = store.find(result.loan);
  std::string recorded = stored->result;
  if (!stored->code.empty()) recorded += " " + stored->code;
  if (stored->amount != 0) {
    recorded += " " + decimal::format_amount(stored->amount, loan->terms.currency.exponent);
  }
  print_diagnostic(Severity::error, read.location,
                   fmt::format("conflict: loan '{}' installment {} attempt {} was recorded as {}; "
                               "this different result is not applied",
                               result.loan, result.number, result.attempt, recorded));
}

}  // namespace

int record(Store& store, const std::vector<std::string>& inputs, Date today,
           const InputOptions& input, std::size_t batch) {
  JsonlReader reader(inputs, input);
  std::vector<ReadResult> results = read_results(store, reader);
  std::map<std::string, std::optional<Loan>> loans;
  OutputStream out(STDOUT_FILENO);
  bool conflicted = false;
  for (std::size_t start = 0; start < results.size(); start += batch) {
    throw_if_interrupted();
    db::WriteTransaction transaction(store.database());
    std::size_t end = std::min(results.size(), start + batch);
    std::vector<std::pair<std::string, int>> keys;
    for (std::size_t index = start; index < end; ++index) {
      keys.emplace_back(results[index].result.loan, results[index].result.number);
    }
    store.lock_installments(keys);
    // The batch's reports wait until all of it has been applied: on a server a statement can
    // still fail (a lock wait that runs out), and the batch then rolls back unreported.
    std::vector<std::string> reports;
    for (std::size_t index = start; index < end; ++index) {
      std::optional<StoredInstallment> item;
      Outcome outcome = apply_one(store, loans, results[index].result, today, item);
      reports.push_back(to_json(outcome_record(results[index], outcome, item)));
      if (outcome.reason == "conflict") {
        report_conflict(store, results[index]);
        conflicted = true;
      }
    }
    // Deliver before committing, as remind and idemkey filter do: a crash in between makes
    // the re-run apply and report this batch again; it never loses a report.
    for (const std::string& report : reports) out.write_line(report);
    out.flush();
    transaction.commit();
  }
  out.flush();
  if (conflicted) return exit_code::data;
  return reader.skipped() > 0 ? exit_code::definite_no : exit_code::success;
}

int list(Store& store, Format format) {
  db::ReadTransaction read(store.database());
  OutputStream out(STDOUT_FILENO);
  RecordPrinter printer(out, format);
  for (const auto& id : store.loan_ids()) {
    auto loan = store.find(id);
    const auto& terms = loan->terms;
    printer.print(JsonValue::object({{"loan", text(id)},
                                     {"currency", text(terms.currency.code)},
                                     {"principal", money(terms.currency, terms.principal)},
                                     {"rate", text(decimal::format_rate(terms.annual_rate))},
                                     {"months", JsonValue::integer(terms.months)},
                                     {"disbursed", text(format_date(terms.disbursed))},
                                     {"first_due", text(format_date(terms.first_due))}}));
  }
  printer.finish();
  out.flush();
  return exit_code::success;
}

int status(Store& store, const std::optional<std::string>& loan, Date today, Format format) {
  db::ReadTransaction read(store.database());
  std::vector<std::string> ids = loan ? std::vector<std::string>{*loan} : store.loan_ids();
  OutputStream out(STDOUT_FILENO);
  RecordPrinter printer(out, format);
  for (const auto& id : ids) {
    auto loan_terms = store.find(id);
    if (!loan_terms) throw Error(exit_code::no_input, fmt::format("no loan '{}'", id));
    auto items = store.installments(id);
    const decimal::Currency currency = loan_terms->terms.currency;
    long long paid = 0, due = 0, overdue = 0;
    std::int64_t overdue_amount = 0, penalties = 0, outstanding_principal = 0, due_amount = 0;
    for (const auto& item : items) {
      penalties += item.penalty;
      outstanding_principal += item.row.principal - item.paid_principal;
      if (item.state == "paid") {
        ++paid;
      } else if (item.state == "overdue") {
        ++overdue;
        overdue_amount += item.outstanding();
      } else if (item.row.due <= today) {
        ++due;
        due_amount += item.outstanding();
      }
    }
    printer.print(JsonValue::object(
        {{"loan", text(id)},
         {"currency", text(currency.code)},
         {"installments", JsonValue::integer(static_cast<long long>(items.size()))},
         {"paid", JsonValue::integer(paid)},
         {"due", JsonValue::integer(due)},
         {"due_amount", money(currency, due_amount)},
         {"overdue", JsonValue::integer(overdue)},
         {"overdue_amount", money(currency, overdue_amount)},
         {"penalties", money(currency, penalties)},
         {"outstanding_principal", money(currency, outstanding_principal)}}));
  }
  printer.finish();
  out.flush();
  return exit_code::success;
}

Payoff payoff_quote(const Loan& loan, const std::vector<StoredInstallment>& items, Date on,
                    const decimal::Fraction& late_rate) {
  const LoanTerms& terms = loan.terms;
  if (on < terms.disbursed) {
    throw Error(exit_code::data, fmt::format("loan '{}' was disbursed on {}, after {}", loan.id,
                                             format_date(terms.disbursed), format_date(on)));
  }
  // A flat loan's interest is on its original principal for the whole term, overdue or not.
  const bool reducing = terms.method != Method::flat;
  Payoff quote;
  quote.accrued_from = accrual_start(terms);
  std::int64_t not_yet_due = 0;  // principal of the installments due after `on`, unpaid
  bool running = false;          // whether a period runs on `on` (an installment is due after)
  for (const auto& item : items) {
    std::int64_t unpaid_principal = item.row.principal - item.paid_principal;
    quote.principal += unpaid_principal;
    quote.fees += item.penalty - item.paid_penalty;
    if (item.row.due <= on) {
      quote.interest_due += item.row.interest - item.paid_interest;
      std::int64_t unpaid = item.row.payment - item.paid_interest - item.paid_principal;
      int late_days = days_between(item.row.due, on);
      quote.late_interest += actual_over_365(unpaid, late_rate, late_days);
      if (item.row.number == 0) continue;  // a broken-period charge repays no principal
      quote.accrued_from = std::max(quote.accrued_from, item.row.due);
      // Principal past its due date still owes the loan's rate (late interest is a penalty
      // on top); the schedule's later interest is on the balance without it.
      if (reducing) {
        quote.interest_on_overdue +=
            actual_over_365(unpaid_principal, terms.annual_rate, late_days);
      }
    } else if (item.row.number > 0) {
      not_yet_due += unpaid_principal;
      running = true;
    }
  }
  if (!running) return quote;
  std::int64_t basis = reducing ? not_yet_due : terms.principal;
  // Under --bpi separate a date inside the broken period its charge covers accrues nothing.
  quote.accrued_days = std::max(days_between(quote.accrued_from, on), 0);
  quote.interest_accrued = actual_over_365(basis, terms.annual_rate, quote.accrued_days);
  return quote;
}

int payoff(Store& store, const std::string& id, Date on, const decimal::Fraction& late_rate,
           Format format) {
  db::ReadTransaction read(store.database());
  auto loan = store.find(id);
  if (!loan) throw Error(exit_code::no_input, fmt::format("no loan '{}'", id));
  Payoff quote = payoff_quote(*loan, store.installments(id), on, late_rate);
  const decimal::Currency& currency = loan->terms.currency;
  OutputStream out(STDOUT_FILENO);
  RecordPrinter printer(out, format);
  printer.print(
      JsonValue::object({{"loan", text(id)},
                         {"on", text(format_date(on))},
                         {"currency", text(currency.code)},
                         {"principal", money(currency, quote.principal)},
                         {"interest_due", money(currency, quote.interest_due)},
                         {"interest_accrued", money(currency, quote.interest_accrued)},
                         {"accrued_from", text(format_date(quote.accrued_from))},
                         {"accrued_days", JsonValue::integer(quote.accrued_days)},
                         {"interest_on_overdue", money(currency, quote.interest_on_overdue)},
                         {"day_count", text("ACT/365F")},
                         {"fees", money(currency, quote.fees)},
                         {"late_interest", money(currency, quote.late_interest)},
                         {"total", money(currency, quote.total())}}));
  printer.finish();
  out.flush();
  return exit_code::success;
}

namespace {

// The terms of one create --from record: its fields over the command line's defaults.
TermsText terms_of(JsonlReader& reader, const Record& record, const TermsText& defaults) {
  TermsText terms = defaults;
  auto field = [&](std::string_view name, std::string& target) {
    const JsonValue* value = record.value.find(name);
    if (value == nullptr || value->kind() == JsonValue::Kind::null) return;
    if (!value->is_string() && !value->is_number()) {
      reader.reject(record, fmt::format("field \"{}\" must be a string or a number", name));
    }
    target = value->text();
  };
  field("principal", terms.principal);
  field("rate", terms.rate);
  field("currency", terms.currency);
  if (terms.currency.empty()) {
    reader.reject(record, "field \"currency\" is missing and no --currency was given");
  }
  field("disbursed", terms.disbursed);
  field("first_due", terms.first_due);
  field("bpi", terms.broken_period);
  field("rounding", terms.rounding);
  field("interest_rounding", terms.interest_rounding);
  field("frequency", terms.frequency);
  field("method", terms.method);
  std::string months = std::to_string(terms.months);
  field("months", months);
  if (months.empty() || months.size() > 4 ||
      months.find_first_not_of("0123456789") != std::string::npos) {
    reader.reject(record, "field \"months\" must be a whole number");
  }
  terms.months = std::stoi(months);
  if (const JsonValue* eom = record.value.find("eom"); eom != nullptr) {
    if (eom->kind() != JsonValue::Kind::boolean)
      reader.reject(record, "field \"eom\" must be true or false");
    terms.end_of_month = eom->as_boolean();
  }
  return terms;
}

// parse_terms names the options it reads; a value that came from the record is named as the
// record's field instead ("--first-due: ..." becomes "field \"first_due\": ...").
std::string field_message(const Record& record, const std::string& message) {
  if (!message.starts_with("--")) return message;
  std::size_t end = std::min(message.find_first_of(": ", 2), message.size());
  std::string field = message.substr(2, end - 2);
  std::replace(field.begin(), field.end(), '-', '_');
  if (record.value.find(field) == nullptr) return message;
  return fmt::format("field \"{}\"{}", field, message.substr(end));
}

}  // namespace

int create_from(Store& store, JsonlReader& reader, const TermsText& defaults,
                const Rolling& rolling, const Policy& policy, Date today, Progress& progress) {
  long long created = 0, unchanged = 0;
  db::WriteTransaction transaction(store.database());
  while (auto record = reader.next()) {
    progress.update(reader.bytes_read(), static_cast<std::uint64_t>(created + unchanged));
    const JsonValue* id = record->value.find("loan");
    if (id == nullptr || !id->is_string() || id->text().empty()) {
      reader.reject(*record, "field \"loan\" must be a non-empty string");
    }
    try {
      Loan loan{id->text(), parse_terms(terms_of(reader, *record, defaults), today, rolling),
                policy};
      if (!policy.penalty_is_flat || loan.terms.currency.code == defaults.currency) {
        (store.insert(loan, build_schedule(loan.terms)) ? created : unchanged) += 1;
      } else {
        reader.reject(*record, "a flat --penalty is in the default currency; this loan is not");
      }
    } catch (const Error& error) {
      if (error.code() != exit_code::usage && error.code() != exit_code::data) throw;
      reader.reject(*record, field_message(*record, error.what()));
    }
  }
  transaction.commit();
  progress.finish();
  OutputStream out(STDOUT_FILENO);
  out.write_line(to_json(JsonValue::object(
      {{"created", JsonValue::integer(created)}, {"unchanged", JsonValue::integer(unchanged)}})));
  out.flush();
  return exit_code::success;
}

namespace {

// A loan and where its rebuilt part starts: the last installment due on or before `on`
// (0 when none is) and the balance still owed after it.
struct Split {
  Loan loan;
  int after = 0;
  std::int64_t balance = 0;
  std::optional<std::int64_t> current_emi;  // the payment of the next regular installment
};

// Rebuilding from a period before the latest revision's would rebuild that revision's rows
// from a balance that predates it, silently undoing it: revisions go in date order, though
// several may share a period (interest is monthly, so their days within it do not matter).
void refuse_earlier_period(const Split& split, Date on, std::optional<Date> latest,
                           int latest_after) {
  if (!latest || split.after >= latest_after) return;
  throw Error(
      exit_code::data,
      fmt::format("loan '{}' was last revised on {}, after installment {}; a revision on "
                  "{} (after installment {}) would undo that: revisions must come in "
                  "date order (the latest one's period or later)",
                  split.loan.id, format_date(*latest), latest_after, format_date(on), split.after));
}

Split split_at(Store& store, const std::string& id, Date on) {
  // Held until the revision commits: the revision number and the installments it replaces
  // are read and written by one change of this loan at a time.
  auto loan = store.find(id, db::RowLock::for_update);
  if (!loan) throw Error(exit_code::no_input, fmt::format("no loan '{}'", id));
  Split split{*loan, 0, 0, std::nullopt};
  std::optional<Date> latest = store.latest_revision(id);
  int latest_after = 0;
  for (const auto& item : store.installments(id)) {
    if (item.row.number == 0) continue;  // a separate broken-period charge
    if (latest && item.row.due <= *latest) latest_after = item.row.number;
    if (item.row.due <= on) {
      split.after = item.row.number;
    } else if (!split.current_emi) {
      // The first installment rebuilt opens with the balance after every earlier revision
      // (each rewrites it), where the scheduled closing balance before it does not.
      split.balance = item.row.opening;
      split.current_emi = item.row.payment;
    }
  }
  if (!split.current_emi) {
    throw Error(exit_code::data,
                fmt::format("loan '{}' has no installment due after {}", id, format_date(on)));
  }
  refuse_earlier_period(split, on, latest, latest_after);
  return split;
}

int print_revision(const Split& split, int revision, std::string_view kind, Date on,
                   const Remainder& remainder, std::vector<JsonValue::Member> extra) {
  const auto& currency = split.loan.terms.currency;
  std::vector<JsonValue::Member> members{{"loan", text(split.loan.id)},
                                         {"revision", JsonValue::integer(revision)},
                                         {"kind", text(std::string(kind))},
                                         {"on", text(format_date(on))},
                                         {"after", JsonValue::integer(split.after)},
                                         {"balance", money(currency, split.balance)}};
  for (auto& member : extra) members.push_back(std::move(member));
  members.emplace_back("emi", money(currency, remainder.emi));
  members.emplace_back(
      "months",
      JsonValue::integer(split.after + static_cast<long long>(remainder.installments.size())));
  OutputStream out(STDOUT_FILENO);
  out.write_line(to_json(JsonValue::object(std::move(members))));
  out.flush();
  return exit_code::success;
}

}  // namespace

int prepay(Store& store, const std::string& loan, const std::string& amount_text, Date on,
           PrepayMode mode) {
  db::WriteTransaction transaction(store.database());
  Split split = split_at(store, loan, on);
  const auto& currency = split.loan.terms.currency;
  std::int64_t amount = with_context(exit_code::usage, "--amount", [&] {
    return decimal::parse_amount(amount_text, currency.exponent);
  });
  if (amount <= 0 || amount > split.balance) {
    throw Error(exit_code::data,
                fmt::format("--amount {} must be more than zero and at most the balance {} of "
                            "loan '{}' after {}",
                            amount_text, decimal::format_amount(split.balance, currency.exponent),
                            loan, format_date(on)));
  }
  Remainder remainder;
  if (amount < split.balance) {
    std::optional<std::int64_t> keep;
    if (mode == PrepayMode::reduce_tenure) keep = split.current_emi;
    remainder = reschedule(split.loan.terms, split.after, split.balance - amount, keep);
  }
  int revision = store.replace_future(
      loan, split.after, remainder.installments,
      {"prepay", on,
       fmt::format("amount={} mode={}", decimal::format_amount(amount, currency.exponent),
                   prepay_mode_names.name(mode))});
  transaction.commit();
  return print_revision(split, revision, "prepay", on, remainder,
                        {{"amount", money(currency, amount)},
                         {"new_balance", money(currency, split.balance - amount)},
                         {"mode", text(std::string(prepay_mode_names.name(mode)))}});
}

int reprice(Store& store, const std::string& loan, const decimal::Fraction& rate, Date from,
            bool keep_emi) {
  db::WriteTransaction transaction(store.database());
  Split split = split_at(store, loan, from);
  split.loan.terms.annual_rate = rate;
  std::optional<std::int64_t> keep;
  if (keep_emi) keep = split.current_emi;
  Remainder remainder = reschedule(split.loan.terms, split.after, split.balance, keep);
  store.set_rate(loan, rate);
  int revision = store.replace_future(
      loan, split.after, remainder.installments,
      {"reprice", from,
       fmt::format("rate={} keep_emi={}", decimal::format_rate(rate), keep_emi ? 1 : 0)});
  transaction.commit();
  return print_revision(
      split, revision, "reprice", from, remainder,
      {{"rate", text(decimal::format_rate(rate))}, {"keep_emi", JsonValue::boolean(keep_emi)}});
}

}  // namespace sluice::emi
