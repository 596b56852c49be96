#include "price_store.hpp"

#include <array>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice::price {
namespace {

constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE price_settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
CREATE TABLE price_rates (
  currency TEXT NOT NULL,
  date TEXT NOT NULL,
  rate TEXT NOT NULL,
  PRIMARY KEY (currency, date)
) STRICT, WITHOUT ROWID;
CREATE TABLE price_adjustments (
  country TEXT PRIMARY KEY,
  multiplier TEXT,
  plr TEXT,
  smoothing TEXT NOT NULL,
  minimum TEXT NOT NULL,
  maximum TEXT NOT NULL,
  CHECK ((multiplier IS NULL) != (plr IS NULL))
) STRICT;
CREATE TABLE price_taxes (
  country TEXT PRIMARY KEY,
  rate TEXT NOT NULL,
  inclusive INTEGER NOT NULL
) STRICT;
CREATE TABLE price_rules (
  currency TEXT PRIMARY KEY,
  rule TEXT NOT NULL,
  minimum TEXT NOT NULL
) STRICT;
-- One row per published market and price date: the parts of the breakdown that every SKU
-- of the market shares, and a digest of the market's prices (re-publishing the same prices
-- changes nothing).
CREATE TABLE price_publications (
  price_date TEXT NOT NULL,
  country TEXT NOT NULL,
  digest TEXT NOT NULL,
  skus INTEGER NOT NULL,
  published_at TEXT NOT NULL,
  header TEXT NOT NULL,
  PRIMARY KEY (price_date, country)
) STRICT;
CREATE TABLE price_published (
  price_date TEXT NOT NULL,
  country TEXT NOT NULL,
  sku TEXT NOT NULL,
  base INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  net INTEGER NOT NULL,
  tax INTEGER NOT NULL,
  PRIMARY KEY (price_date, country, sku)
) STRICT, WITHOUT ROWID;
CREATE TABLE price_quotes (
  quote_id TEXT PRIMARY KEY,
  from_currency TEXT NOT NULL,
  to_currency TEXT NOT NULL,
  amount INTEGER NOT NULL,
  amount_to INTEGER NOT NULL,
  rate_numerator TEXT NOT NULL,
  rate_denominator TEXT NOT NULL,
  record TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  accepted_at TEXT
) STRICT;
)sql";

// Version 2: a display rule's cap on how far it moves a figure ('' for none); fixed prices
// of a SKU in a market (country and currency), in the currency's minor units; reduced tax
// rates by product category, which go with their country's tax; and, per published price,
// its category ('' for none), the rate that category had ('' for the publication's) and
// where the price came from; when a quote was cancelled.
constexpr std::string_view schema_v2 = R"sql(
ALTER TABLE price_rules ADD COLUMN max_uplift TEXT NOT NULL DEFAULT '';
CREATE TABLE price_overrides (
  country TEXT NOT NULL,
  currency TEXT NOT NULL,
  sku TEXT NOT NULL,
  amount INTEGER NOT NULL,
  PRIMARY KEY (country, currency, sku)
) STRICT, WITHOUT ROWID;
CREATE TABLE price_tax_categories (
  country TEXT NOT NULL REFERENCES price_taxes (country) ON DELETE CASCADE,
  category TEXT NOT NULL,
  rate TEXT NOT NULL,
  PRIMARY KEY (country, category)
) STRICT, WITHOUT ROWID;
ALTER TABLE price_published ADD COLUMN tax_category TEXT NOT NULL DEFAULT '';
ALTER TABLE price_published ADD COLUMN tax_rate TEXT NOT NULL DEFAULT '';
ALTER TABLE price_published ADD COLUMN source TEXT NOT NULL DEFAULT 'conversion';
ALTER TABLE price_quotes ADD COLUMN cancelled_at TEXT;
)sql";

constexpr std::array<std::string_view, 2> migrations{schema_v1, schema_v2};

// PostgreSQL runs the same steps, translated (db::postgresql_ddl).
constexpr db::Schema schema{migrations};

// The caller chose must_exist and the busy timeout; the rest is this store's profile.
db::OpenOptions open_options(db::OpenOptions options) {
  options.synchronous = db::Synchronous::full;
  options.serialize_writers = true;
  options.cache_kib = 64 * 1024;
  return options;
}

Adjustment adjustment_of(db::Statement& row) {
  Adjustment adjustment;
  adjustment.country = row.text(0);
  if (!row.is_null(1)) adjustment.multiplier = row.text(1);
  if (!row.is_null(2)) adjustment.plr = row.text(2);
  adjustment.smoothing = row.text(3);
  adjustment.minimum = row.text(4);
  adjustment.maximum = row.text(5);
  return adjustment;
}

TaxRow tax_of(db::Statement& row) {
  return {row.text(0), row.text(1), row.integer(2) != 0};
}

RuleRow rule_of(db::Statement& row) {
  return {row.text(0), row.text(1), row.text(2), row.text(3)};
}

constexpr std::string_view adjustment_columns =
    "SELECT country, multiplier, plr, smoothing, minimum, maximum FROM price_adjustments";

}  // namespace

Store::Store(const std::string& location, db::OpenOptions options)
    : database_(location, open_options(options)) {
  db::migrate(database_, "price", schema);
}

std::optional<std::string> Store::rates_base() {
  auto query = database_.query("SELECT value FROM price_settings WHERE name = 'rates_base'");
  if (!query.step()) return std::nullopt;
  return query.row().text(0);
}

void Store::set_rates_base(std::string_view base) {
  database_.execute(
      "INSERT INTO price_settings (name, value) VALUES ('rates_base', ?1) "
      "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
      base);
}

std::int64_t Store::put_rates(const std::vector<RateRow>& rows) {
  static constexpr std::string_view upsert =
      " ON CONFLICT (currency, date) DO UPDATE SET rate = excluded.rate "
      "WHERE stored.rate != excluded.rate";
  std::int64_t changed = 0;
  if (database_.backend() == db::Backend::sqlite) {
    static const std::string insert = fmt::format(
        "INSERT INTO price_rates AS stored (currency, date, rate) VALUES (?1, ?2, ?3){}", upsert);
    for (const RateRow& row : rows)
      changed += database_.execute(insert, row.currency, row.date, row.rate);
    return changed;
  }
  // On a server, one round trip per row would make a rates history take minutes: the rows
  // are copied into a table of this transaction, then upserted in one statement. (The parser
  // keeps one of repeated rows; DISTINCT ON keeps the upsert valid whatever it is given.)
  database_.execute_script(
      "CREATE TEMP TABLE price_rates_load (currency TEXT, date TEXT, rate TEXT) ON COMMIT DROP");
  static constexpr std::array<std::string_view, 3> columns{"currency", "date", "rate"};
  db::BulkInsert copy(database_, "price_rates_load", columns);
  for (const RateRow& row : rows) {
    copy.add(row.currency).add(row.date).add(row.rate);
    copy.end_row();
  }
  copy.finish();
  static const std::string insert = fmt::format(
      "INSERT INTO price_rates AS stored (currency, date, rate) SELECT DISTINCT ON (currency, "
      "date) currency, date, rate FROM price_rates_load{}",
      upsert);
  return database_.execute(insert);
}

std::optional<StoredRate> Store::rate_on_or_before(std::string_view currency,
                                                   std::string_view date) {
  auto query = database_.query(
      "SELECT date, rate FROM price_rates WHERE currency = ? AND date <= ? "
      "ORDER BY date DESC LIMIT 1",
      currency, date);
  if (!query.step()) return std::nullopt;
  return StoredRate{query.row().text(0), query.row().text(1)};
}

std::vector<RateRow> Store::latest_rates_on_or_before(std::string_view date) {
  // Each currency's latest date on or before `date`, found through the primary key.
  std::vector<RateRow> rows;
  auto query = database_.query(
      "SELECT latest.date, latest.currency, latest.rate FROM price_rates AS latest "
      "WHERE latest.date = (SELECT max(date) FROM price_rates "
      "WHERE currency = latest.currency AND date <= ?1) ORDER BY latest.currency",
      date);
  while (query.step())
    rows.push_back({query.row().text(0), query.row().text(1), query.row().text(2)});
  return rows;
}

void Store::put_adjustment(const Adjustment& adjustment) {
  database_.execute(
      "INSERT INTO price_adjustments (country, multiplier, plr, smoothing, minimum, maximum) "
      "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (country) DO UPDATE SET "
      "multiplier = excluded.multiplier, plr = excluded.plr, smoothing = excluded.smoothing, "
      "minimum = excluded.minimum, maximum = excluded.maximum",
      adjustment.country, adjustment.multiplier, adjustment.plr, adjustment.smoothing,
      adjustment.minimum, adjustment.maximum);
}

std::optional<Adjustment> Store::adjustment(std::string_view country) {
  auto query = database_.query(std::string(adjustment_columns) + " WHERE country = ?", country);
  if (!query.step()) return std::nullopt;
  return adjustment_of(query.row());
}

std::vector<Adjustment> Store::adjustments() {
  std::vector<Adjustment> rows;
  auto query = database_.query(std::string(adjustment_columns) + " ORDER BY country");
  while (query.step()) rows.push_back(adjustment_of(query.row()));
  return rows;
}

void Store::put_tax(const TaxRow& tax) {
  database_.execute(
      "INSERT INTO price_taxes (country, rate, inclusive) VALUES (?, ?, ?) ON CONFLICT (country) "
      "DO UPDATE SET rate = excluded.rate, inclusive = excluded.inclusive",
      tax.country, tax.rate, tax.inclusive ? 1 : 0);
}

std::optional<TaxRow> Store::tax(std::string_view country) {
  auto query = database_.query("SELECT country, rate, inclusive FROM price_taxes WHERE country = ?",
                               country);
  if (!query.step()) return std::nullopt;
  return tax_of(query.row());
}

std::vector<TaxRow> Store::taxes() {
  std::vector<TaxRow> rows;
  auto query = database_.query("SELECT country, rate, inclusive FROM price_taxes ORDER BY country");
  while (query.step()) rows.push_back(tax_of(query.row()));
  return rows;
}

void Store::put_rule(const RuleRow& rule) {
  database_.execute(
      "INSERT INTO price_rules (currency, rule, minimum, max_uplift) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (currency) DO UPDATE SET rule = excluded.rule, minimum = excluded.minimum, "
      "max_uplift = excluded.max_uplift",
      rule.currency, rule.rule, rule.minimum, rule.max_uplift);
}

std::optional<RuleRow> Store::rule(std::string_view currency) {
  auto query = database_.query(
      "SELECT currency, rule, minimum, max_uplift FROM price_rules WHERE currency = ?", currency);
  if (!query.step()) return std::nullopt;
  return rule_of(query.row());
}

std::vector<RuleRow> Store::rules() {
  std::vector<RuleRow> rows;
  auto query = database_.query(
      "SELECT currency, rule, minimum, max_uplift FROM price_rules ORDER BY currency");
  while (query.step()) rows.push_back(rule_of(query.row()));
  return rows;
}

void Store::put_override(const Override& fixed) {
  database_.execute(
      "INSERT INTO price_overrides (country, currency, sku, amount) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (country, currency, sku) DO UPDATE SET amount = excluded.amount",
      fixed.country, fixed.currency, fixed.sku, fixed.amount);
}

bool Store::remove_override(std::string_view country, std::string_view currency,
                            std::string_view sku) {
  return database_.execute(
             "DELETE FROM price_overrides WHERE country = ? AND currency = ? AND sku = ?", country,
             currency, sku) > 0;
}

std::vector<Override> Store::overrides(std::optional<std::string_view> country,
                                       std::optional<std::string_view> currency) {
  std::vector<Override> rows;
  // The CASTs type the parameters for PostgreSQL, which cannot infer a type from IS NULL.
  auto query = database_.query(
      "SELECT country, currency, sku, amount FROM price_overrides "
      "WHERE (CAST(?1 AS TEXT) IS NULL OR country = ?1) "
      "AND (CAST(?2 AS TEXT) IS NULL OR currency = ?2) "
      "ORDER BY country, currency, sku",
      country, currency);
  while (query.step()) {
    db::Statement& row = query.row();
    rows.push_back({row.text(0), row.text(1), row.text(2), row.integer(3)});
  }
  return rows;
}

void Store::put_tax_category(const TaxCategoryRow& category) {
  database_.execute(
      "INSERT INTO price_tax_categories (country, category, rate) VALUES (?, ?, ?) "
      "ON CONFLICT (country, category) DO UPDATE SET rate = excluded.rate",
      category.country, category.category, category.rate);
}

bool Store::remove_tax_category(std::string_view country, std::string_view category) {
  return database_.execute("DELETE FROM price_tax_categories WHERE country = ? AND category = ?",
                           country, category) > 0;
}

std::vector<TaxCategoryRow> Store::tax_categories(std::optional<std::string_view> country) {
  std::vector<TaxCategoryRow> rows;
  auto query = database_.query(
      "SELECT country, category, rate FROM price_tax_categories WHERE CAST(?1 AS TEXT) IS NULL OR "
      "country = ?1 "
      "ORDER BY country, category",
      country);
  while (query.step())
    rows.push_back({query.row().text(0), query.row().text(1), query.row().text(2)});
  return rows;
}

std::set<std::string, std::less<>> Store::tax_category_names() {
  std::set<std::string, std::less<>> names;
  auto query = database_.query("SELECT DISTINCT category FROM price_tax_categories");
  while (query.step()) names.insert(query.row().text(0));
  return names;
}

bool Store::remove(std::string_view table, std::string_view key) {
  // Fixed statements, one per table: nothing from the command line reaches the SQL text.
  if (table == "adjustments") {
    return database_.execute("DELETE FROM price_adjustments WHERE country = ?", key) > 0;
  }
  if (table == "taxes") {
    return database_.execute("DELETE FROM price_taxes WHERE country = ?", key) > 0;
  }
  if (table == "rules") {
    return database_.execute("DELETE FROM price_rules WHERE currency = ?", key) > 0;
  }
  throw Error(exit_code::internal, fmt::format("no price table '{}'", table));
}

}  // namespace sluice::price
