#include "price_quote.hpp"

#include <fmt/format.h>

#include "price_json.hpp"
#include "sluice/crypto.hpp"
#include "sluice/error.hpp"
#include "sluice/format.hpp"

namespace sluice::price {
namespace {

Int128 amount_option(std::string_view option, std::string_view text,
                     const decimal::Currency& currency, decimal::Negative negative) {
  return with_context(exit_code::usage, option,
                      [&] { return decimal::parse_amount(text, currency.exponent, negative); });
}

std::string utc_day(Instant now) {
  return format_date(std::chrono::year_month_day(std::chrono::floor<std::chrono::days>(now)));
}

struct StoredQuote {
  std::string quote_id;
  std::string record;
  std::string to_currency;
  Int128 amount_to = 0;
  Instant expires_at;
  std::optional<std::string> accepted_at;
  std::optional<std::string> cancelled_at;
};

constexpr std::string_view quote_columns =
    "SELECT quote_id, record, to_currency, amount_to, expires_at, accepted_at, cancelled_at "
    "FROM price_quotes";

StoredQuote quote_of(db::Statement& row) {
  StoredQuote quote{
      row.text(0), row.text(1), row.text(2), row.integer(3), parse_instant(row.text(4)), {}, {}};
  if (!row.is_null(5)) quote.accepted_at = row.text(5);
  if (!row.is_null(6)) quote.cancelled_at = row.text(6);
  return quote;
}

std::optional<StoredQuote> find_quote(db::Database& database, const std::string& quote_id) {
  auto query = database.query(std::string(quote_columns) + " WHERE quote_id = ?", quote_id);
  if (!query.step()) return std::nullopt;
  return quote_of(query.row());
}

StoredQuote known_quote(db::Database& database, const std::string& quote_id) {
  auto quote = find_quote(database, quote_id);
  if (!quote) throw Error(exit_code::data, fmt::format("no quote '{}'", quote_id));
  return *quote;
}

// What a quote is at `now`: accepted and cancelled are final; an open quote expires at
// expires_at.
std::string_view quote_status(const StoredQuote& quote, Instant now) {
  if (quote.accepted_at) return "accepted";
  if (quote.cancelled_at) return "cancelled";
  return now >= quote.expires_at ? "expired" : "open";
}

// The stored quote record with `extra` members appended.
JsonValue quote_with(const StoredQuote& quote, std::vector<JsonValue::Member> extra) {
  JsonParser parser;
  ParseOutcome parsed = parser.parse_object(quote.record);
  if (!parsed.value) throw Error(exit_code::data, "a stored quote is not JSON");
  std::vector<JsonValue::Member> members = parsed.value->members();
  for (auto& member : extra) members.push_back(std::move(member));
  return JsonValue::object(std::move(members));
}

enum class QuoteEnd { accepted, cancelled };

// Sets accepted_at or cancelled_at of a quote that has neither; false when another process
// did first.
bool mark_quote(db::Database& database, QuoteEnd end, const std::string& quote_id,
                const std::string& at) {
  // Fixed statements, one per column: nothing from outside reaches the SQL text.
  std::string_view sql =
      end == QuoteEnd::accepted
          ? "UPDATE price_quotes SET accepted_at = ?1 WHERE quote_id = ?2 AND accepted_at IS "
            "NULL AND cancelled_at IS NULL RETURNING quote_id"
          : "UPDATE price_quotes SET cancelled_at = ?1 WHERE quote_id = ?2 AND accepted_at IS "
            "NULL AND cancelled_at IS NULL RETURNING quote_id";
  auto update = database.query(sql, at, quote_id);
  return update.step();
}

int refuse(OutputStream& out, const std::string& quote_id, std::string_view error,
           JsonValue::Member detail, std::string_view message) {
  out.write_line(to_json(JsonValue::object({{"quote_id", JsonValue::string(quote_id)},
                                            {"error", JsonValue::string(std::string(error))},
                                            std::move(detail)})));
  print_diagnostic(Severity::error, {}, message);
  return exit_code::definite_no;
}

int refuse_used(OutputStream& out, const std::string& quote_id, const std::string& accepted_at) {
  return refuse(out, quote_id, "quote_used", {"accepted_at", JsonValue::string(accepted_at)},
                fmt::format("quote {} was already accepted at {}", quote_id, accepted_at));
}

int refuse_expired(OutputStream& out, const StoredQuote& quote) {
  std::string expired = format_instant(quote.expires_at);
  return refuse(
      out, quote.quote_id, "quote_expired", {"expires_at", JsonValue::string(expired)},
      fmt::format("quote {} expired at {}: request a new quote", quote.quote_id, expired));
}

int refuse_cancelled(OutputStream& out, const std::string& quote_id,
                     const std::string& cancelled_at) {
  return refuse(out, quote_id, "quote_cancelled", {"cancelled_at", JsonValue::string(cancelled_at)},
                fmt::format("quote {} was cancelled at {}", quote_id, cancelled_at));
}

// A quote that can no longer change (used, cancelled) refused as accept refuses it; the
// status an accept or cancel that lost a race to the other reports.
int refuse_final(OutputStream& out, const StoredQuote& quote) {
  if (quote.accepted_at) return refuse_used(out, quote.quote_id, *quote.accepted_at);
  return refuse_cancelled(out, quote.quote_id, quote.cancelled_at.value_or(""));
}

JsonValue status_record(const StoredQuote& quote, Instant now) {
  return quote_with(quote, {{"status", JsonValue::string(std::string(quote_status(quote, now)))},
                            {"accepted_at", text_or_null(quote.accepted_at)},
                            {"cancelled_at", text_or_null(quote.cancelled_at)}});
}

}  // namespace

int quote(Store& store, const QuoteRequest& request, Instant now, OutputStream& out) {
  decimal::Currency from = decimal::currency(request.from), to = decimal::currency(request.to);
  Int128 amount = amount_option("--amount", request.amount, from, decimal::Negative::refused);
  if (amount == 0) throw Error(exit_code::usage, "--amount: must be above zero");
  Fraction fee = decimal::parse_rate("--fee", request.fee);
  if (fee >= Fraction{1, 1}) throw Error(exit_code::usage, "--fee: must be below 100%");
  if (request.ttl <= Duration::zero()) throw Error(exit_code::usage, "--ttl: must be above zero");
  if (request.ttl > max_quote_ttl) {
    throw Error(exit_code::usage,
                fmt::format("--ttl: {} is longer than a quote may hold its rate "
                            "({})",
                            format_duration(request.ttl), format_duration(max_quote_ttl)));
  }
  db::WriteTransaction transaction(store.database());
  CrossRate cross = cross_rate(store, from.code, to.code, utc_day(now), request.max_rate_age_days);
  Fraction rate = cross.rate * (Fraction{1, 1} - fee);
  Fraction scaled = rate * decimal::make_fraction(decimal::power_of_ten(to.exponent),
                                                  decimal::power_of_ten(from.exponent));
  Int128 amount_to = decimal::round(Fraction{amount, 1} * scaled, request.rounding);
  std::string quote_id = "q_" + random_hex(12);
  Instant expires_at = now + request.ttl;
  JsonValue record = JsonValue::object(
      {{"quote_id", JsonValue::string(quote_id)},
       {"from", JsonValue::string(from.code)},
       {"to", JsonValue::string(to.code)},
       {"amount", JsonValue::string(decimal::format_amount(amount, from.exponent))},
       {"amount_to", JsonValue::string(decimal::format_amount(amount_to, to.exponent))},
       {"rate", JsonValue::string(decimal::format_decimal(rate, 10))},
       {"fee", JsonValue::string(decimal::format_rate(fee))},
       {"fx_date", cross.date ? JsonValue::string(*cross.date) : JsonValue::null()},
       {"created_at", JsonValue::string(format_instant(now))},
       {"expires_at", JsonValue::string(format_instant(expires_at))}});
  std::string text = to_json(record);
  store.database().execute(
      "INSERT INTO price_quotes (quote_id, from_currency, to_currency, amount, amount_to, "
      "rate_numerator, rate_denominator, record, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      quote_id, from.code, to.code, static_cast<std::int64_t>(amount),
      static_cast<std::int64_t>(amount_to), decimal::format_decimal(Fraction{rate.numerator, 1}, 0),
      decimal::format_decimal(Fraction{rate.denominator, 1}, 0), text, format_instant(expires_at));
  transaction.commit();
  out.write_line(text);
  return 0;
}

int accept(Store& store, const std::string& quote_id, const std::string& amount_to, Instant now,
           OutputStream& out) {
  db::WriteTransaction transaction(store.database());
  StoredQuote quote = known_quote(store.database(), quote_id);
  if (!amount_to.empty()) {
    const decimal::Currency to = decimal::currency(quote.to_currency);
    Int128 expected = amount_option("--amount-to", amount_to, to, decimal::Negative::refused);
    if (expected != quote.amount_to) {
      throw Error(exit_code::data,
                  fmt::format("--amount-to {} differs from quote {}'s amount_to {}", amount_to,
                              quote_id, decimal::format_amount(quote.amount_to, to.exponent)));
    }
  }
  if (quote.accepted_at || quote.cancelled_at) return refuse_final(out, quote);
  if (now >= quote.expires_at) return refuse_expired(out, quote);
  std::string accepted_at = format_instant(now);
  // Conditional on the quote being unused: on a server, a concurrent accept or cancel that
  // committed first (the row lock orders them, not one writer at a time) leaves no row to
  // update.
  if (!mark_quote(store.database(), QuoteEnd::accepted, quote_id, accepted_at)) {
    return refuse_final(out, known_quote(store.database(), quote_id));
  }
  transaction.commit();
  out.write_line(to_json(quote_with(quote, {{"status", JsonValue::string("accepted")},
                                            {"accepted_at", JsonValue::string(accepted_at)}})));
  return 0;
}

int show_quote(Store& store, const std::string& quote_id, Instant now, Format format,
               OutputStream& out) {
  db::ReadTransaction transaction(store.database());
  StoredQuote quote = known_quote(store.database(), quote_id);
  print_record(out, format, status_record(quote, now));
  return 0;
}

int list_quotes(Store& store, Instant now, Format format, OutputStream& out) {
  RecordPrinter printer(out, format);
  db::ReadTransaction transaction(store.database());
  auto query =
      store.database().query(std::string(quote_columns) + " ORDER BY expires_at, quote_id");
  while (query.step()) printer.print(status_record(quote_of(query.row()), now));
  printer.finish();
  return 0;
}

int cancel_quote(Store& store, const std::string& quote_id, Instant now, OutputStream& out) {
  db::WriteTransaction transaction(store.database());
  StoredQuote quote = known_quote(store.database(), quote_id);
  if (quote.accepted_at) return refuse_final(out, quote);
  if (!quote.cancelled_at) {
    if (now >= quote.expires_at) return refuse_expired(out, quote);
    if (!mark_quote(store.database(), QuoteEnd::cancelled, quote_id, format_instant(now))) {
      return refuse_final(out, known_quote(store.database(), quote_id));
    }
    transaction.commit();
    quote.cancelled_at = format_instant(now);
  }
  out.write_line(to_json(status_record(quote, now)));
  return 0;
}

int allocate(const std::string& amount, const std::string& currency, const std::string& ratios,
             Format format, OutputStream& out) {
  decimal::Currency money = decimal::currency(currency);
  Int128 total = amount_option("--amount", amount, money, decimal::Negative::allowed);
  std::vector<std::string> texts;
  std::vector<Fraction> fractions;
  Int128 common = 1;  // the least common denominator of the ratios
  for (std::string_view rest = ratios; !rest.empty() || texts.empty();) {
    auto comma = rest.find(',');
    texts.emplace_back(rest.substr(0, comma));
    fractions.push_back(decimal::parse_decimal("--ratios", texts.back()));
    common =
        common / decimal::gcd(common, fractions.back().denominator) * fractions.back().denominator;
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  std::vector<Int128> weights;
  for (const Fraction& fraction : fractions) {
    weights.push_back(fraction.numerator * (common / fraction.denominator));
  }
  std::vector<Int128> parts = decimal::allocate(total, weights);
  RecordPrinter printer(out, format);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    printer.print(JsonValue::object(
        {{"part", JsonValue::integer(static_cast<long long>(i + 1))},
         {"ratio", JsonValue::string(texts[i])},
         {"amount", JsonValue::string(decimal::format_amount(parts[i], money.exponent))},
         {"currency", JsonValue::string(money.code)}}));
  }
  printer.finish();
  return 0;
}

}  // namespace sluice::price
