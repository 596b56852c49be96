#include "checkpoint_cli.hpp"

#include <CLI/CLI.hpp>

#include "checkpoint.hpp"
#include "sluice/keys.hpp"

namespace sluice::checkpoint {
namespace {

// Everything the command line can set; the subcommands read the parts they use.
struct Settings {
  cli::StateOptions state;
  bool quiet = false;
  RunOptions run;
  Format format = Format::jsonl;
};

Store open_store(const Settings& settings, cli::StateFile file) {
  return cli::open_state<Store>(settings.state, "checkpoint", file,
                                cli::Backends::sqlite_or_postgresql);
}

void add_job(CLI::App& command, Settings& s) {
  command.add_option("--job", s.run.job, "The job's name")->required();
}

void add_run_options(CLI::App& command, Settings& s) {
  add_job(command, s);
  command.add_option("--every", s.run.every, "Lines per chunk (a checkpoint after each)")
      ->check(cli::whole_number(1, 1000000000))
      ->capture_default_str();
  cli::add_duration_option(command, "--every-time", s.run.every_time,
                           "Also end a chunk this long after it started (0: never)");
  command.add_option("--input", s.run.input, "Read lines from FILE (default: stdin)")
      ->type_name("FILE");
  command.add_flag("--restart", s.run.restart,
                   "Start over from line 1 (also on a changed input, or after completion)");
  cli::add_command_operand(command, s.run.command)->required();
}

// Runs a subcommand's work on the state with stdout (flushed after, so that a write error
// surfaces), after checking the job's name.
template <typename Work>
cli::Action with_store(const std::shared_ptr<Settings>& settings, cli::StateFile file, Work work) {
  return [settings, file, work] {
    validate_key("job", settings->run.job);
    Clock requested = cli::make_clock(settings->state);
    return with_stdout([&](OutputStream& out) {
      Store store = open_store(*settings, file);
      return work(store, store.clock(requested), out);
    });
  };
}

std::vector<cli::Subcommand> subcommands(const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  using cli::StateFile;
  return {
      {"run", "Feed the input's lines to CMD in chunks, resuming at the job's next line",
       [&s](CLI::App& command) { add_run_options(command, s); },
       with_store(settings, StateFile::create,
                  [settings](Store& store, const Clock& clock, OutputStream&) {
                    RunOptions options = settings->run;
                    options.quiet = settings->quiet;
                    return run(store, clock, options);
                  })},
      {"show", "Print a job's checkpoint",
       [&s](CLI::App& command) {
         add_job(command, s);
         cli::add_format_option(command, s.format);
       },
       with_store(settings, StateFile::must_exist,
                  [settings](Store& store, const Clock&, OutputStream& out) {
                    return show(store, settings->run.job, settings->format, out);
                  })},
      {"list", "Print every job's checkpoint",
       [&s](CLI::App& command) { cli::add_format_option(command, s.format); },
       [settings] {
         cli::make_clock(settings->state);  // a bad --now is a usage error here too
         return with_stdout([&](OutputStream& out) {
           Store store = open_store(*settings, StateFile::must_exist);
           return list(store, settings->format, out);
         });
       }},
      {"reset", "Forget a job's checkpoint (its next run starts at line 1)",
       [&s](CLI::App& command) { add_job(command, s); },
       with_store(settings, StateFile::must_exist,
                  [settings](Store& store, const Clock&, OutputStream&) {
                    return reset(store, settings->run.job);
                  })},
  };
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  cli::add_state_options(app, settings->state);
  app.add_flag("--quiet,-q", settings->quiet, "Print no notes (errors still print)");
  app.fallthrough();
  return cli::add_subcommands(app, subcommands(settings));
}

}  // namespace sluice::checkpoint
