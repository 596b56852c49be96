#include "stock_cli.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <array>
#include <cstdlib>
#include <utility>

#include "sluice/error.hpp"
#include "sluice/redis.hpp"
#include "stock.hpp"

namespace sluice::stock {
namespace {

// Everything the command line can set; the subcommands read the parts they use.
struct Settings {
  cli::StateOptions state;
  std::vector<std::string> operands;
  std::int64_t quantity = 1;
  Duration hold = default_hold;
  std::string customer;
  std::int64_t limit_per_customer = 0;
  std::string key;
  bool batch = false;
  InputOptions input;
  Format format = Format::jsonl;
};

// A redis:// or unix:// location, from --db or else SLUICE_STATE_URL; nullopt otherwise.
std::optional<std::string> redis_location(const cli::StateOptions& state) {
  if (redis::is_url(state.db_path)) return state.db_path;
  const char* url = std::getenv("SLUICE_STATE_URL");
  if (state.db_path.empty() && url != nullptr && redis::is_url(url)) return std::string(url);
  return std::nullopt;
}

// The state: on Redis for a redis location, else a file or PostgreSQL as every tool opens it.
std::unique_ptr<Store> open_store(const Settings& settings, cli::StateFile file) {
  if (std::optional<std::string> url = redis_location(settings.state)) {
    return open_redis_store(*url, settings.state.busy_timeout);
  }
  cli::StateTarget target =
      cli::state_target(settings.state, "stock", file, cli::Backends::sqlite_or_postgresql);
  return std::make_unique<SqlStore>(target.location, target.options);
}

template <typename Work>
int with_output(Work&& work) {
  return with_stdout([&](OutputStream& out) { return work(out); });
}

// Whether a command must be given its operand or option, or may go without.
enum class Presence { required, optional };

void add_quantity(CLI::App& command, Settings& s, std::int64_t minimum, const std::string& help,
                  Presence presence) {
  CLI::Option* option = command.add_option("--quantity", s.quantity, help)
                            ->check(cli::whole_number(minimum, max_quantity))
                            ->type_name("N");
  if (presence == Presence::required) {
    option->required();
  } else {
    option->capture_default_str();
  }
}

// The one SKU operand. Error(2) before any state is opened.
std::string single_sku(const Settings& settings, Presence presence) {
  if (settings.operands.size() > 1) {
    throw Error(exit_code::usage,
                fmt::format("expected one SKU, got {}", settings.operands.size()));
  }
  if (settings.operands.empty()) {
    if (presence == Presence::required) throw Error(exit_code::usage, "no SKU given");
    return {};
  }
  validate_name("SKU", settings.operands.front());
  return settings.operands.front();
}

std::string single_hold(const Settings& settings) {
  if (settings.operands.size() != 1) {
    throw Error(exit_code::usage,
                fmt::format("expected one hold, got {}", settings.operands.size()));
  }
  validate_hold(settings.operands.front());
  return settings.operands.front();
}

Duration checked_hold(Duration hold) {
  if (hold <= Duration::zero()) throw Error(exit_code::usage, "--hold must be longer than 0");
  return hold;
}

void add_reserve_options(CLI::App& command, Settings& s) {
  add_quantity(command, s, 1, "Units to hold (in --batch, for lines without \"quantity\")",
               Presence::optional);
  cli::add_duration_option(command, "--hold", s.hold,
                           "How long the hold lasts before its units go back (default: 10m)");
  command.add_option("--customer", s.customer, "Who holds: counted against --limit-per-customer")
      ->type_name("ID");
  command
      .add_option("--limit-per-customer", s.limit_per_customer,
                  "Most units a customer may hold and buy of the SKU (held and committed)")
      ->check(cli::whole_number(1, max_quantity))
      ->type_name("K");
  command.add_option("--key", s.key, "Idempotency key: a retry with it returns the same hold")
      ->type_name("KEY");
  command.add_flag("--batch", s.batch,
                   "Read requests as JSON Lines from FILE... or stdin; one result line each");
  cli::add_input_options(command, s.input);
}

ReserveRequest request_defaults(const Settings& s) {
  ReserveRequest request;
  request.quantity = s.quantity;
  request.hold = checked_hold(s.hold);
  request.limit_per_customer = s.limit_per_customer;
  return request;
}

int run_reserve(const CLI::App& command, const Settings& s) {
  if (s.batch) {
    // Per-request values: one customer or key for a whole batch would make no sense.
    constexpr std::array<std::pair<const char*, const char*>, 2> per_request{
        {{"--customer", "customer"}, {"--key", "key"}}};
    for (const auto& [option, field] : per_request) {
      if (command.count(option) > 0) {
        throw Error(
            exit_code::usage,
            fmt::format("{}: give it per request in --batch (field \"{}\")", option, field));
      }
    }
    BatchOptions options{request_defaults(s), s.operands, s.input};
    return with_output([&](OutputStream& out) {
      std::unique_ptr<Store> store = open_store(s, cli::StateFile::create);
      return reserve_batch(*store, store->clock(cli::make_clock(s.state)), options, out);
    });
  }
  ReserveRequest request = request_defaults(s);
  request.sku = single_sku(s, Presence::required);
  if (command.count("--customer") > 0) {
    validate_name("customer", s.customer);
    request.customer = s.customer;
  } else if (command.count("--limit-per-customer") > 0) {
    throw Error(exit_code::usage, "--limit-per-customer goes with --customer");
  }
  if (command.count("--key") > 0) {
    validate_name("key", s.key);
    request.key = s.key;
  }
  return with_output([&](OutputStream& out) {
    std::unique_ptr<Store> store = open_store(s, cli::StateFile::create);
    return reserve(*store, store->clock(cli::make_clock(s.state)), request, out);
  });
}

std::vector<cli::Subcommand> subcommands(CLI::App& app, const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  auto chosen = [&app](const char* name) { return app.get_subcommand(name); };
  auto sku_operand = [&s](CLI::App& command, const std::string& help) {
    command.add_option("sku", s.operands, help)->type_name("SKU");
  };
  auto hold_operand = [&s](CLI::App& command) {
    command.add_option("hold", s.operands, "The hold reserve printed (SKU:N)")->type_name("HOLD");
  };
  return {
      {"set", "Make N the SKU's total (creating it): available is N minus held and sold",
       [&s, sku_operand](CLI::App& command) {
         sku_operand(command, "The SKU");
         add_quantity(command, s, 0, "The total units of the SKU", Presence::required);
       },
       [settings] {
         const Settings& given = *settings;
         std::string sku = single_sku(given, Presence::required);
         return with_output([&](OutputStream& out) {
           std::unique_ptr<Store> store = open_store(given, cli::StateFile::create);
           return set(*store, sku, given.quantity, out);
         });
       }},
      {"add", "Restock: N more units, total and available",
       [&s, sku_operand](CLI::App& command) {
         sku_operand(command, "The SKU");
         add_quantity(command, s, 1, "Units to add", Presence::required);
       },
       [settings] {
         const Settings& given = *settings;
         std::string sku = single_sku(given, Presence::required);
         return with_output([&](OutputStream& out) {
           std::unique_ptr<Store> store = open_store(given, cli::StateFile::create);
           return add(*store, sku, given.quantity, out);
         });
       }},
      {"show", "Print total, available, held and sold of one SKU or of every SKU",
       [&s, sku_operand](CLI::App& command) {
         sku_operand(command, "The SKU (default: all)");
         cli::add_format_option(command, s.format);
       },
       [settings] {
         const Settings& given = *settings;
         std::string sku = single_sku(given, Presence::optional);
         return with_output([&](OutputStream& out) {
           std::unique_ptr<Store> store = open_store(given, cli::StateFile::must_exist);
           return show(*store, sku, given.format, out);
         });
       }},
      {"list", "Print the holds of one SKU or of every SKU, with their states",
       [&s, sku_operand](CLI::App& command) {
         sku_operand(command, "The SKU (default: all)");
         cli::add_format_option(command, s.format);
       },
       [settings] {
         const Settings& given = *settings;
         std::string sku = single_sku(given, Presence::optional);
         return with_output([&](OutputStream& out) {
           std::unique_ptr<Store> store = open_store(given, cli::StateFile::must_exist);
           return list(*store, store->clock(cli::make_clock(given.state)), sku, given.format, out);
         });
       }},
      {"reserve", "Hold units of a SKU, or refuse (sold out 1, over the customer's limit 3)",
       [&s](CLI::App& command) {
         command.add_option("sku", s.operands, "The SKU; with --batch, the input files")
             ->type_name("SKU");
         add_reserve_options(command, s);
       },
       [settings, chosen] { return run_reserve(*chosen("reserve"), *settings); }},
      {"commit", "Purchase a hold: its units become sold (refused after expiry: 4)",
       [hold_operand](CLI::App& command) { hold_operand(command); },
       [settings] {
         const Settings& given = *settings;
         std::string hold = single_hold(given);
         return with_output([&](OutputStream& out) {
           std::unique_ptr<Store> store = open_store(given, cli::StateFile::create);
           return commit(*store, store->clock(cli::make_clock(given.state)), hold, out);
         });
       }},
      {"release", "Give a hold's units back to available",
       [hold_operand](CLI::App& command) { hold_operand(command); },
       [settings] {
         const Settings& given = *settings;
         std::string hold = single_hold(given);
         return with_output([&](OutputStream& out) {
           std::unique_ptr<Store> store = open_store(given, cli::StateFile::create);
           return release(*store, store->clock(cli::make_clock(given.state)), hold, out);
         });
       }},
      {"expire", "Give the units of expired holds back (reserve and commit also do it)",
       [](CLI::App&) {},
       [settings] {
         const Settings& given = *settings;
         return with_output([&](OutputStream& out) {
           std::unique_ptr<Store> store = open_store(given, cli::StateFile::create);
           return expire(*store, store->clock(cli::make_clock(given.state)), out);
         });
       }},
      {"check", "Verify available + held + sold = total and the counts against the holds",
       [&s](CLI::App& command) { cli::add_format_option(command, s.format); },
       [settings] {
         const Settings& given = *settings;
         return with_output([&](OutputStream& out) {
           std::unique_ptr<Store> store = open_store(given, cli::StateFile::must_exist);
           return check(*store, given.format, out);
         });
       }},
  };
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  cli::add_state_options(app, settings->state);
  app.fallthrough();
  return cli::add_subcommands(app, subcommands(app, settings));
}

}  // namespace sluice::stock
