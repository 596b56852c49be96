#include "emi_cli.hpp"

#include <chrono>
#include <memory>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "emi_calc.hpp"
#include "emi_cycle.hpp"
#include "sluice/clock.hpp"
#include "sluice/error.hpp"
#include "sluice/timeutil.hpp"
#include "sluice/timezone.hpp"

namespace sluice::emi {
namespace {

struct Settings {
  TermsText terms;
  CalcOptions calc;
  std::string today;
  std::string time_zone;  // --tz; "" = UTC
  cli::StateOptions state;
  std::string loan;
  std::string retry_after = "2d";
  int max_attempts = 3;
  std::string penalty = "percent:2%";
  std::string non_retryable = "R02,R03,R04,R07,R10";
  std::string ahead = "1d";
  Duration lease = std::chrono::hours(1);
  std::string grace;
  ProgressMode progress = ProgressMode::automatic;
  InputOptions input;  // record: --skip-invalid; create --from, record: --max-line-bytes
  int batch = 1000;
  std::string from;
  std::string amount;
  std::string on;
  PrepayMode mode = PrepayMode::reduce_tenure;
  std::string rate;
  std::string late_rate = "0%";
  bool keep_emi = false;
  std::vector<std::string> inputs;
};

// --today, and --tz for the zone whose calendar says what today is when --today is not given
// (a cron job in India before 05:30 IST must not collect yesterday's installments).
void add_today(CLI::App& command, Settings& settings) {
  command
      .add_option("--today", settings.today,
                  "Use this date as today (default: today in --tz at --now)")
      ->type_name("DATE");
  command.add_option("--tz", settings.time_zone, "IANA time zone of today (default: UTC)")
      ->type_name("ZONE");
}

// An option whose value is a word of `table`, kept as text in `target` (whose value is the
// default).
template <typename Enum, std::size_t Count>
void add_term_word(CLI::App& command, const std::string& name, const NameTable<Enum, Count>& table,
                   std::string& target, const std::string& help) {
  std::vector<std::string> words;
  for (const Named<Enum>& entry : table.entries()) words.emplace_back(entry.name);
  cli::add_word_option(
      command, name, std::move(words), target,
      [&target](const std::string& word) { target = word; }, help);
}

// The loan terms; `required` marks principal, rate and months (create --from reads them from
// its file instead).
void add_terms_options(CLI::App& command, Settings& settings, bool required) {
  TermsText& terms = settings.terms;
  command.add_option("--principal", terms.principal, "Amount lent, in the currency's precision")
      ->required(required);
  command.add_option("--rate", terms.rate, "Annual rate with its unit: 10%, 8.5%, 850bp")
      ->required(required);
  command.add_option("--months", terms.months, "Number of installments (months if monthly)")
      ->required(required);
  // Kept as words: a create --from record may override them, and parse_terms reads both.
  add_term_word(command, "--frequency", frequency_names, terms.frequency,
                "Installments monthly, weekly or fortnightly (rate / 12, 52 or 26)");
  add_term_word(command, "--method", method_names, terms.method,
                "Repayment: annuity (equal installments), equal-principal or flat");
  command
      .add_option("--calendar", terms.calendar,
                  "Holidays, one YYYY-MM-DD a line ('#' comments), for --roll")
      ->type_name("FILE");
  // Given at all, even as the default, --weekend without --roll is a usage error.
  command.add_option("--weekend", terms.weekend, "Weekend days for --roll: sat,sun, fri,sat, none")
      ->type_name("DAYS")
      ->capture_default_str()
      ->each([&terms](const std::string&) { terms.weekend_given = true; });
  add_term_word(command, "--roll", roll_names, terms.roll,
                "Due dates off weekends and holidays: none, following, modified-following or "
                "preceding");
  command
      .add_option("--currency", terms.currency,
                  "ISO 4217 code (sets the minor unit); required, no default")
      ->type_name("CODE");
  command.add_option("--disbursed", terms.disbursed, "Disbursal date (default: today)")
      ->type_name("DATE");
  command.add_option("--first-due", terms.first_due, "First due date (default: one period later)")
      ->type_name("DATE");
  command.add_flag("--eom", terms.end_of_month, "Keep month-end due dates on month ends");
  // The modes stay text until the terms are read, so that a stored loan's own can fill in.
  cli::complete_with(command
                         .add_option("--bpi", terms.broken_period,
                                     "Broken-period interest: none, add-to-first or separate")
                         ->type_name("MODE"),
                     broken_period_words());
  cli::complete_with(command
                         .add_option("--rounding", terms.rounding,
                                     "EMI rounding: half-up, half-even, ceiling, floor or down")
                         ->type_name("MODE"),
                     decimal::rounding_words());
  cli::complete_with(
      command
          .add_option("--interest-rounding", terms.interest_rounding,
                      "Monthly interest rounding: half-up, half-even, ceiling, floor or down")
          ->type_name("MODE"),
      decimal::rounding_words());
  add_today(command, settings);
}

// The roll and calendar of the command line, with the holidays of --calendar read once
// (create --from applies them to every record).
Rolling rolling_of(const TermsText& terms) {
  return parse_rolling(terms,
                       terms.calendar.empty() ? std::set<Date>{} : read_holidays(terms.calendar));
}

void add_policy_options(CLI::App& command, Settings& settings) {
  command.add_option("--retry-after", settings.retry_after, "Wait before re-presenting a debit")
      ->type_name("DAYS");
  command.add_option("--max-attempts", settings.max_attempts, "Presentments before overdue")
      ->check(CLI::Range(1, 100));
  command
      .add_option("--penalty", settings.penalty, "flat:AMOUNT or percent:RATE of the installment")
      ->type_name("RULE");
  command.add_option("--non-retryable", settings.non_retryable, "Failure codes never retried")
      ->type_name("CODES");
  command
      .add_option("--grace", settings.grace,
                  "Unpaid this long after the due date: overdue (default: no limit)")
      ->type_name("DAYS");
}

// Commands that take --today also take --now (the instant whose day in --tz is today).
void add_state(CLI::App& command, Settings& settings, cli::WithNow with_now = cli::WithNow::no) {
  cli::add_state_options(command, settings.state, with_now);
}

Date today(const Settings& settings) {
  // The zone is checked even beside --today: a misspelt --tz is a usage error either way.
  TimeZone zone =
      settings.time_zone.empty() ? TimeZone::utc() : TimeZone::named("--tz", settings.time_zone);
  if (!settings.today.empty()) return cli::date_option("--today", settings.today);
  return Date(zone.local_day(cli::make_clock(settings.state).now()));
}

int whole_days(std::string_view option, const std::string& text) {
  // At most 36500d (parse_duration's limit), so the count fits an int.
  return static_cast<int>(cli::duration_in_units(option, text, std::chrono::days(1), "days"));
}

// `currency_code` is the currency a flat penalty is read in ("" when none was given).
Policy policy_of(const Settings& settings, std::string_view currency_code) {
  Policy policy;
  policy.retry_after_days = whole_days("--retry-after", settings.retry_after);
  policy.max_attempts = settings.max_attempts;
  if (!settings.grace.empty()) policy.grace_days = whole_days("--grace", settings.grace);
  std::string_view rule = settings.penalty;
  if (rule.starts_with("flat:")) {
    policy.penalty_is_flat = true;
    if (currency_code.empty()) {
      throw Error(exit_code::usage, "a flat --penalty needs --currency (its amount's currency)");
    }
    int exponent = decimal::currency(currency_code).exponent;
    policy.penalty_flat = with_context(exit_code::usage, "--penalty", [&] {
      return decimal::parse_amount(rule.substr(5), exponent);
    });
  } else if (rule.starts_with("percent:")) {
    policy.penalty_rate = decimal::parse_rate("--penalty", rule.substr(8));
  } else {
    throw Error(exit_code::usage,
                fmt::format("--penalty: '{}' is not flat:AMOUNT or percent:RATE", rule));
  }
  policy.non_retryable = split_codes(settings.non_retryable);
  return policy;
}

Store open_store(const Settings& settings, cli::StateFile file) {
  return cli::open_state<Store>(settings.state, "emi-schedule", file,
                                cli::Backends::sqlite_or_postgresql);
}

// `command` tells a --months not given from one given as 0 (a usage error naming the range).
int create_loans(const Settings& settings, const CLI::App& command) {
  Date day = today(settings);
  if (!settings.from.empty()) {
    // Checked before the state file is opened: a bad policy or calendar option (or a missing
    // holiday file) creates nothing, not even the state file.
    Policy policy = policy_of(settings, settings.terms.currency);
    Rolling rolling = rolling_of(settings.terms);
    std::vector<std::string> inputs;
    if (settings.from != "-") inputs.push_back(settings.from);
    JsonlReader reader(inputs, settings.input);  // a missing file is reported here
    Progress progress(settings.progress, "emi-schedule create", total_input_bytes(inputs));
    Store store = open_store(settings, cli::StateFile::create);
    return create_from(store, reader, settings.terms, rolling, policy, day, progress);
  }
  if (settings.loan.empty()) throw Error(exit_code::usage, "create needs --loan or --from");
  if (settings.terms.principal.empty() || settings.terms.rate.empty() ||
      command.count("--months") == 0) {
    throw Error(exit_code::usage, "create --loan needs --principal, --rate and --months");
  }
  Loan loan{settings.loan, parse_terms(settings.terms, day, rolling_of(settings.terms)), {}};
  loan.policy = policy_of(settings, loan.terms.currency.code);
  Store store = open_store(settings, cli::StateFile::create);
  return create(store, loan);
}

// The options of `show`: one loan, printed in --format.
void add_show_options(CLI::App& command, Settings& settings) {
  command.add_option("--loan", settings.loan, "The loan's ID")->required();
  cli::add_format_option(command, settings.calc.format);
  add_state(command, settings);
}

void add_create_options(CLI::App& command, Settings& settings) {
  auto* loan_option = command.add_option("--loan", settings.loan, "The loan's ID");
  command
      .add_option("--from", settings.from,
                  "Create every loan of a JSONL file (- is stdin) in one transaction")
      ->type_name("FILE")
      ->excludes(loan_option);
  add_terms_options(command, settings, false);
  cli::add_progress_option(command, settings.progress);
  cli::add_input_options(command, settings.input, cli::WithSkipInvalid::no);
  add_policy_options(command, settings);
  add_state(command, settings, cli::WithNow::yes);
}

void add_record_options(CLI::App& command, Settings& settings) {
  add_today(command, settings);
  cli::add_input_options(command, settings.input);
  command.add_option("--batch", settings.batch, "Results applied per transaction")
      ->check(CLI::Range(1, 1000000));
  command.add_option("inputs", settings.inputs, "Result files (default: stdin)");
  add_state(command, settings, cli::WithNow::yes);
}

void add_prepay_options(CLI::App& command, Settings& settings) {
  command.add_option("--loan", settings.loan, "The loan's ID")->required();
  command.add_option("--amount", settings.amount, "Amount prepaid")->required();
  command.add_option("--on", settings.on, "Date of the prepayment")->type_name("DATE")->required();
  cli::add_choice_option(command, "--mode", settings.mode, prepay_mode_names,
                         "reduce-tenure or reduce-emi");
  add_state(command, settings);
}

void add_reprice_options(CLI::App& command, Settings& settings) {
  command.add_option("--loan", settings.loan, "The loan's ID")->required();
  command.add_option("--rate", settings.rate, "New annual rate: 9%, 875bp")->required();
  command.add_option("--from", settings.on, "Installments due after DATE")
      ->type_name("DATE")
      ->required();
  command.add_flag("--keep-emi", settings.keep_emi, "Keep the EMI and change the number of months");
  add_state(command, settings);
}

// Only create makes a state file; every other stateful subcommand needs an existing one.
Store existing_store(const Settings& settings) {
  return open_store(settings, cli::StateFile::must_exist);
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  Settings& s = *settings;
  // Each row's run reads the settings its define bound, through the shared pointer.
  return cli::add_subcommands(
      app, {{"calc", "Print a loan's schedule (no state)",
             [&s](CLI::App& command) {
               add_terms_options(command, s, true);
               command.add_flag("--summary", s.calc.summary, "Add a summary record");
               cli::add_format_option(command, s.calc.format);
               // calc keeps no state, but its default disbursal date is today at --now.
               command
                   .add_option("--now", s.state.now, "Use this time as now (RFC 3339 or @EPOCH)")
                   ->type_name("TIME");
             },
             [settings] {
               const TermsText& terms = settings->terms;
               return calc(parse_terms(terms, today(*settings), rolling_of(terms)), settings->calc);
             }},
            {"create", "Store a loan, its schedule and policy",
             [&s](CLI::App& command) { add_create_options(command, s); },
             [settings, &app] { return create_loans(*settings, *app.get_subcommand("create")); }},
            {"show", "Print a stored loan's installments",
             [&s](CLI::App& command) { add_show_options(command, s); },
             [settings] {
               Store store = existing_store(*settings);
               return show(store, settings->loan, settings->calc.format);
             }},
            {"list", "Print the stored loans",
             [&s](CLI::App& command) {
               cli::add_format_option(command, s.calc.format);
               add_state(command, s);
             },
             [settings] {
               Store store = existing_store(*settings);
               return list(store, settings->calc.format);
             }},
            {"remind", "Emit reminders for installments due soon",
             [&s](CLI::App& command) {
               add_today(command, s);
               command.add_option("--ahead", s.ahead, "How far ahead to remind")->type_name("DAYS");
               add_state(command, s, cli::WithNow::yes);
             },
             [settings] {
               Store store = existing_store(*settings);
               return remind(store, today(*settings), whole_days("--ahead", settings->ahead));
             }},
            {"collect", "Emit debit intents for what is due",
             [&s](CLI::App& command) {
               add_today(command, s);
               cli::add_duration_option(command, "--lease", s.lease,
                                        "No other collect emits an intent for this long");
               // --now: the instant leases are taken and judged at (the state's clock).
               cli::add_state_options(command, s.state, cli::WithNow::yes);
             },
             [settings] {
               Store store = existing_store(*settings);
               Instant now = store.database().clock(cli::make_clock(settings->state)).now();
               return collect(store, today(*settings), now, settings->lease);
             }},
            {"record", "Apply payment results (JSONL)",
             [&s](CLI::App& command) { add_record_options(command, s); },
             [settings] {
               const Settings& given = *settings;
               Store store = existing_store(given);
               return record(store, given.inputs, today(given), given.input,
                             static_cast<std::size_t>(given.batch));
             }},
            {"prepay", "Pay principal early; rebuild the rest",
             [&s](CLI::App& command) { add_prepay_options(command, s); },
             [settings] {
               const Settings& given = *settings;
               Date on = cli::date_option("--on", given.on);  // before the state file is opened
               Store store = existing_store(given);
               return prepay(store, given.loan, given.amount, on, given.mode);
             }},
            {"reprice", "Apply a new rate to what remains",
             [&s](CLI::App& command) { add_reprice_options(command, s); },
             [settings] {
               const Settings& given = *settings;
               // Options before the state file is opened.
               decimal::Fraction rate = decimal::parse_rate("--rate", given.rate);
               Date from = cli::date_option("--from", given.on);
               Store store = existing_store(given);
               return reprice(store, given.loan, rate, from, given.keep_emi);
             }},
            {"payoff", "What closes a loan on a date: principal, interest, fees",
             [&s](CLI::App& command) {
               command.add_option("--loan", s.loan, "The loan's ID")->required();
               command.add_option("--on", s.on, "Date of the payoff (default: today)")
                   ->type_name("DATE");
               command
                   .add_option("--late-rate", s.late_rate,
                               "Annual rate of interest on overdue installments (default: 0%)")
                   ->type_name("RATE");
               add_today(command, s);
               cli::add_format_option(command, s.calc.format);
               add_state(command, s, cli::WithNow::yes);
             },
             [settings] {
               const Settings& given = *settings;
               // Options first: a bad one is a usage error whatever the state file.
               Date on = given.on.empty() ? today(given) : cli::date_option("--on", given.on);
               decimal::Fraction late_rate = decimal::parse_rate("--late-rate", given.late_rate);
               Store store = existing_store(given);
               return payoff(store, given.loan, on, late_rate, given.calc.format);
             }},
            {"status", "Per loan: paid, due, overdue, penalties",
             [&s](CLI::App& command) {
               command.add_option("--loan", s.loan, "Only this loan");
               add_today(command, s);
               cli::add_format_option(command, s.calc.format);
               add_state(command, s, cli::WithNow::yes);
             },
             [settings] {
               const Settings& given = *settings;
               Store store = existing_store(given);
               auto loan = given.loan.empty() ? std::nullopt : std::optional(given.loan);
               return status(store, loan, today(given), given.calc.format);
             }}});
}

}  // namespace sluice::emi
