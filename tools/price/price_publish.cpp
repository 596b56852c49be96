#include "price_publish.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "sluice/crypto.hpp"
#include "sluice/error.hpp"
#include "sluice/format.hpp"

namespace sluice::price {
namespace {

struct PublishedItem {
  CatalogItem item;
  std::string where;  // for a duplicate SKU's message
};

// The whole catalog, sorted by SKU (the published table's key order, so inserts append and
// the digest does not depend on the input order). A repeated SKU is Error(65).
std::vector<PublishedItem> read_catalog(Store& store, const std::vector<std::string>& inputs,
                                        const CalcOptions& options, std::uint64_t& skipped) {
  CatalogReader reader(inputs, options.input, options.day.base_currency,
                       store.tax_category_names());
  Progress progress(options.progress, "price publish: reading", total_input_bytes(inputs));
  std::vector<PublishedItem> catalog;
  while (auto item = reader.next()) {
    catalog.push_back({std::move(*item), reader.location()});
    progress.update(reader.bytes_read(), catalog.size());
  }
  progress.finish();
  skipped = reader.skipped();
  std::stable_sort(catalog.begin(), catalog.end(),
                   [](const auto& a, const auto& b) { return a.item.sku < b.item.sku; });
  auto repeat =
      std::adjacent_find(catalog.begin(), catalog.end(),
                         [](const auto& a, const auto& b) { return a.item.sku == b.item.sku; });
  if (repeat != catalog.end()) {
    throw Error(exit_code::data,
                fmt::format("sku {} appears again (first at {})", repeat->item.sku, repeat->where),
                std::next(repeat)->where);
  }
  return catalog;
}

// Every figure of a breakdown fits: MarketPricer::price refuses one above
// max_price_minor_units (INT64_MAX), the limit calc shares.
std::int64_t stored_integer(Int128 value) {
  return static_cast<std::int64_t>(value);
}

// The rate a SKU's category has in the market when it is not the publication's standard one
// (stored per row, so that lookup shows it); "" for the standard rate.
std::string own_tax_rate(const MarketPricer& pricer, std::string_view category) {
  const Market& market = pricer.market();
  auto found = market.category_rates.find(category);
  return found == market.category_rates.end() ? std::string() : decimal::format_rate(found->second);
}

std::string market_digest(const MarketPrices& market, const std::string& header,
                          const std::vector<PublishedItem>& catalog) {
  Sha256 hash;
  hash.update_framed(header);
  for (const PublishedItem& entry : catalog) {
    Priced priced = price_item(market, entry.item, entry.where);
    const Breakdown& breakdown = priced.breakdown;
    hash.update_framed(entry.item.sku);
    hash.update_framed(entry.item.tax_category);
    hash.update_framed(own_tax_rate(market.pricer, entry.item.tax_category));
    hash.update(fmt::format("{} {} {} {} {};", stored_integer(entry.item.base),
                            stored_integer(breakdown.amount), stored_integer(breakdown.net),
                            stored_integer(breakdown.tax), source_names.name(priced.source)));
  }
  return to_hex(hash.finish());
}

void replace_market(db::Database& database, const std::string& date, const MarketPrices& market,
                    const std::vector<PublishedItem>& catalog, Progress& progress,
                    std::uint64_t& rows) {
  const std::string& country = market.pricer.market().country;
  database.execute("DELETE FROM price_published WHERE price_date = ? AND country = ?", date,
                   country);
  static constexpr std::array<std::string_view, 10> columns{
      "price_date", "country", "sku",          "base",     "amount",
      "net",        "tax",     "tax_category", "tax_rate", "source"};
  db::BulkInsert insert(database, "price_published", columns);
  for (const PublishedItem& entry : catalog) {
    Priced priced = price_item(market, entry.item, entry.where);
    const Breakdown& breakdown = priced.breakdown;
    insert.add(date).add(country).add(entry.item.sku).add(stored_integer(entry.item.base));
    insert.add(stored_integer(breakdown.amount))
        .add(stored_integer(breakdown.net))
        .add(stored_integer(breakdown.tax));
    insert.add(entry.item.tax_category)
        .add(own_tax_rate(market.pricer, entry.item.tax_category))
        .add(source_names.name(priced.source));
    insert.end_row();
    progress.update(0, ++rows);
  }
  insert.finish();
}

std::optional<std::string> stored_digest(db::Database& database, const std::string& date,
                                         const std::string& country) {
  auto query = database.query(
      "SELECT digest FROM price_publications WHERE price_date = ? AND country = ?", date, country);
  if (!query.step()) return std::nullopt;
  return query.row().text(0);
}

// Why a published price is too old for `request`, or none: its price date, then its rates'
// date, each more than max_age_days before the lookup date.
std::optional<std::string> staleness(const LookupRequest& request, const std::string& price_date,
                                     const std::optional<std::string>& rates_date) {
  auto age = [&](const std::string& day) {
    return days_between(parse_date(day), parse_date(request.date));
  };
  int max = *request.max_age_days;
  if (age(price_date) > max) {
    return fmt::format(
        "the price of sku {} in {} was published for {}, {} days before {} (--max-age {}d)",
        request.sku, request.country, price_date, age(price_date), request.date, max);
  }
  if (rates_date && age(*rates_date) > max) {
    return fmt::format(
        "the price of sku {} in {} uses rates from {}, {} days before {} (--max-age {}d)",
        request.sku, request.country, *rates_date, age(*rates_date), request.date, max);
  }
  return std::nullopt;
}

}  // namespace

int publish(Store& store, const std::vector<std::string>& inputs,
            const std::vector<MarketRequest>& markets, const CalcOptions& options,
            OutputStream& out) {
  std::uint64_t skipped = 0;
  std::vector<PublishedItem> catalog = read_catalog(store, inputs, options, skipped);
  std::vector<MarketPrices> prices = market_prices(store, markets, options);
  const std::string& date = options.day.date;
  std::vector<JsonValue> summaries;
  db::Database& database = store.database();
  db::WriteTransaction transaction(database);
  // Two publishers of a market must not both find it unpublished and both write it.
  db::take_turns_writing(database, "price_publications");
  std::string now = format_instant(options.now);
  Progress progress(options.progress, "price publish: writing", 0);
  std::uint64_t rows = 0;
  for (const MarketPrices& prices_of_market : prices) {
    const Market& market = prices_of_market.pricer.market();
    std::string header =
        to_json(market_header(prices_of_market.pricer, options.day.base_currency, ""));
    std::string digest = market_digest(prices_of_market, header, catalog);
    auto previous = stored_digest(database, date, market.country);
    std::string status = !previous ? "published" : *previous == digest ? "unchanged" : "replaced";
    if (status != "unchanged") {
      replace_market(database, date, prices_of_market, catalog, progress, rows);
      database.execute(
          "INSERT INTO price_publications (price_date, country, digest, skus, published_at, "
          "header) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (price_date, country) DO UPDATE SET "
          "digest = excluded.digest, skus = excluded.skus, published_at = excluded.published_at, "
          "header = excluded.header",
          date, market.country, digest, static_cast<std::int64_t>(catalog.size()), now, header);
    }
    summaries.push_back(JsonValue::object(
        {{"country", JsonValue::string(market.country)},
         {"price_date", JsonValue::string(date)},
         {"fx_date", market.fx_date ? JsonValue::string(*market.fx_date) : JsonValue::null()},
         {"skus", JsonValue::integer(static_cast<long long>(catalog.size()))},
         {"status", JsonValue::string(status)}}));
  }
  transaction.commit();
  progress.finish();
  RecordPrinter printer(out, options.format);
  for (const JsonValue& summary : summaries) printer.print(summary);
  printer.finish();
  return skipped > 0 ? exit_code::definite_no : exit_code::success;
}

int lookup(Store& store, const LookupRequest& request, Format format, OutputStream& out) {
  const std::string& sku = request.sku;
  const std::string& country = request.country;
  const std::string& date = request.date;
  db::Database& database = store.database();
  db::ReadTransaction transaction(database);
  auto publication = database.query(
      "SELECT price_date, header FROM price_publications WHERE country = ? AND price_date <= ? "
      "ORDER BY price_date DESC LIMIT 1",
      country, date);
  auto row = publication.step() ? database.query(
                                      "SELECT base, amount, net, tax, tax_category, tax_rate, "
                                      "source FROM price_published "
                                      "WHERE price_date = ? AND country = ? AND sku = ?",
                                      publication.row().text(0), country, sku)
                                : database.query("SELECT 1 WHERE 1 = 0");
  if (!row.step()) {
    print_diagnostic(
        Severity::error, {},
        fmt::format("no price published for sku {} in {} on or before {}", sku, country, date));
    return exit_code::definite_no;
  }
  JsonParser parser;
  ParseOutcome header = parser.parse_object(publication.row().text(1));
  if (!header.value) throw Error(exit_code::data, "a stored publication header is not JSON");
  if (request.max_age_days) {
    const JsonValue* fx_date = header.value->find("fx_date");
    std::optional<std::string> rates_date;
    if (fx_date != nullptr && fx_date->is_string()) rates_date = fx_date->text();
    if (auto stale = staleness(request, publication.row().text(0), rates_date)) {
      print_diagnostic(Severity::error, {}, *stale);
      return exit_code::definite_no;
    }
  }
  db::Statement& found = row.row();
  std::optional<Source> source = source_names.find(found.text(6));
  if (!source)
    throw Error(exit_code::data, "a stored price's source is not one of " + source_names.choices());
  Priced priced{{found.integer(1), found.integer(2), found.integer(3)}, *source};
  std::string category = found.text(4);
  std::vector<JsonValue::Member> shared = header.value->members();
  if (!found.text(5).empty()) {
    for (auto& member : shared) {
      if (member.first == "tax_rate") member.second = JsonValue::string(found.text(5));
    }
  }
  if (!request.locale.empty()) {
    const JsonValue* currency = header.value->find("currency");
    if (currency == nullptr || !currency->is_string()) {
      throw Error(exit_code::data, "a stored publication header has no currency");
    }
    DisplayFormat display("--locale", request.locale, decimal::currency(currency->text()));
    priced.display = display.format(priced.breakdown.amount);
  }
  JsonValue record = breakdown_record(sku, JsonValue::object(std::move(shared)), priced,
                                      found.integer(0), category);
  std::vector<JsonValue::Member> members = record.members();
  members.emplace_back("price_date", JsonValue::string(publication.row().text(0)));
  RecordPrinter printer(out, format);
  printer.print(JsonValue::object(std::move(members)));
  printer.finish();
  return 0;
}

}  // namespace sluice::price
