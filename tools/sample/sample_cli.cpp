#include "sample_cli.hpp"

#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "sample_run.hpp"
#include "sluice/error.hpp"
#include "sluice/fdio.hpp"

namespace sluice::sample {

namespace {

struct Settings {
  std::vector<std::string> inputs;
  std::string rate = "100%";
  std::vector<std::string> rules;
  std::string key;
  std::uint64_t seed = 0;
  std::size_t reservoir = 0;
  InputOptions input;
};

SampleOptions options_of(const Settings& settings) {
  SampleOptions options;
  options.rate = parse_keep_rate("--rate", settings.rate);
  for (const std::string& rule : settings.rules) options.rules.push_back(parse_rule(rule));
  if (!settings.key.empty()) {
    options.key =
        with_context(exit_code::usage, "--key", [&] { return parse_field_path(settings.key); });
  }
  options.seed = settings.seed;
  if (settings.reservoir > 0) options.reservoir = settings.reservoir;
  options.input = settings.input;
  return options;
}

int run(const Settings& settings) {
  SampleOptions options = options_of(settings);
  return with_stdout([&](OutputStream& out) {
    SampleCounts counts = run_sample(settings.inputs, options, out);
    return counts.skipped > 0 ? exit_code::definite_no : 0;
  });
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  Settings& s = *settings;
  app.add_option("inputs", s.inputs, "Event files (default: stdin)");
  auto* rate = app.add_option("--rate", s.rate,
                              "Share of events (or of keys) kept where no rule applies: 1%, "
                              "0.5%, 250bp")
                   ->type_name("RATE")
                   ->capture_default_str();
  auto* rule = app.add_option("--rule", s.rules,
                              "CONDITION:RATE, repeatable: events meeting CONDITION are kept at "
                              "RATE (the first rule met applies)")
                   ->type_name("CONDITION:RATE")
                   ->allow_extra_args(false);
  auto* key = app.add_option("--key", s.key,
                             "Field (or path a.b) whose value decides: a key is always kept or "
                             "always dropped")
                  ->type_name("FIELD");
  app.add_option("--seed", s.seed, "Key of the hash and seed of the draws")
      ->check(cli::unsigned_whole_number(UINT64_MAX))
      ->capture_default_str();
  app.add_option("--reservoir", s.reservoir,
                 "Keep a uniform sample of exactly N lines (Algorithm L) instead")
      ->type_name("N")
      ->check(cli::whole_number(1, 100000000))
      ->excludes(rate)
      ->excludes(rule)
      ->excludes(key);
  cli::add_input_options(app, s.input);
  return [settings] { return run(*settings); };
}

}  // namespace sluice::sample
