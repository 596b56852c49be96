#include "sluice/cli.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <CLI/CLI.hpp>

#include "sluice/error.hpp"
#include "sluice/keys.hpp"
#include "test_support.hpp"

namespace sluice::cli {
namespace {

TEST(WholeNumber, AcceptsDecimalDigitsInRangeOnly) {
  CLI::Validator check = whole_number(0, 1000);
  auto verdict = [&](std::string text) { return check(text); };
  EXPECT_EQ(verdict("0"), "");
  EXPECT_EQ(verdict("1000"), "");
  EXPECT_EQ(verdict("1001"), "'1001' is not a whole number from 0 to 1000");
  EXPECT_EQ(verdict("-3"), "'-3' is not a whole number from 0 to 1000");
  EXPECT_NE(verdict("99999999999999999999999"), "");  // past long long: refused, not clamped
  EXPECT_NE(verdict("0x10"), "");
  EXPECT_NE(verdict("+5"), "");
  EXPECT_NE(verdict(""), "");
  EXPECT_EQ(whole_number(-5, 5)("-5"), "");
}

TEST(ExitCodeSet, ParsesListsAndRanges) {
  EXPECT_EQ(exit_code_set("--x", "1,75,100-103"), (std::set<int>{1, 75, 100, 101, 102, 103}));
  EXPECT_EQ(exit_code_set("--x", ""), std::set<int>{});
}

TEST(ExitCodeSet, RejectsBadText) {
  for (const char* text : {"1,", "a", "5-3", "256", "-1", "1,,2"}) {
    EXPECT_EQ(testing::exit_status_of([&] { exit_code_set("--x", text); }), exit_code::usage)
        << text;
  }
}

TEST(SizeOption, ParsesUnits) {
  EXPECT_EQ(size_option("--s", "1024"), 1024u);
  EXPECT_EQ(size_option("--s", "16MiB"), 16u << 20);
  EXPECT_EQ(size_option("--s", "2kB"), 2000u);
  EXPECT_EQ(testing::exit_status_of([] { size_option("--s", "12 MiB"); }), exit_code::usage);
  EXPECT_EQ(testing::exit_status_of([] { size_option("--s", "MiB"); }), exit_code::usage);
}

TEST(DurationOption, CountsWholeUnitsAndRefusesFractions) {
  EXPECT_EQ(duration_in_units("--base", "1s", std::chrono::milliseconds(1), "milliseconds"), 1000);
  EXPECT_EQ(duration_in_units("--grace", "48h", std::chrono::days(1), "days"), 2);
  try {
    duration_in_units("--grace", "36h", std::chrono::days(1), "days");
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), exit_code::usage);
    EXPECT_EQ(std::string(error.what()), "--grace: '36h' is not a whole number of days");
  }
}

TEST(DurationOption, NamesTheOptionInErrors) {
  try {
    duration_option("--lease", "soon");
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), exit_code::usage);
    EXPECT_EQ(std::string(error.what()).rfind("--lease: ", 0), 0u);
  }
}

TEST(StatePath, FollowsSluiceStateDirThenXdgThenHome) {
  testing::TempDir dir;
  ::setenv("SLUICE_STATE_DIR", (dir.path() + "/a/b").c_str(), 1);
  EXPECT_EQ(default_state_path("idemkey", StateFile::create), dir.path() + "/a/b/idemkey.db");
  struct stat info {};
  EXPECT_EQ(::stat((dir.path() + "/a/b").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  // A relative directory is created as given, with no stray directories along the way.
  ASSERT_EQ(::chdir(dir.path().c_str()), 0);
  ::setenv("SLUICE_STATE_DIR", "rel/sub", 1);
  EXPECT_EQ(default_state_path("t", StateFile::create), "rel/sub/t.db");
  EXPECT_EQ(::stat((dir.path() + "/rel/sub").c_str(), &info), 0);
  EXPECT_NE(::stat((dir.path() + "/r").c_str(), &info), 0);
  ASSERT_EQ(::chdir("/"), 0);
  ::unsetenv("SLUICE_STATE_DIR");
  ::setenv("XDG_STATE_HOME", dir.path().c_str(), 1);
  EXPECT_EQ(default_state_path("t", StateFile::must_exist), dir.path() + "/sluice/t.db");
  ::unsetenv("XDG_STATE_HOME");
  ::setenv("HOME", "/home/someone", 1);
  EXPECT_EQ(default_state_path("t", StateFile::must_exist),
            "/home/someone/.local/state/sluice/t.db");
}

TEST(TreeLockPath, BesideAStateFileOrOnePerServerInTheStateDirectory) {
  testing::TempDir dir;
  db::Database file(dir.file("jobq.db"), db::OpenOptions{});
  EXPECT_EQ(tree_lock_path(file, "jobq", "work.lock"), dir.file("jobq.db") + ".work.lock");
  testing::StateLocation server(db::Backend::postgresql);
  if (!server.available()) return;
  db::Database remote(server.location(), db::OpenOptions{});
  ::setenv("SLUICE_STATE_DIR", dir.path().c_str(), 1);
  // The name idemkey has always given its run lock: key_hash("server", URL) in hex.
  EXPECT_EQ(tree_lock_path(remote, "idemkey", "run.lock"),
            fmt::format("{}/idemkey-{:016x}.run.lock", dir.path(),
                        stable_hash({"server", remote.path()})));
  ::unsetenv("SLUICE_STATE_DIR");
}

TEST(StatePath, WarnsAboutADirectoryOthersMayWriteUnlessSticky) {
  testing::TempDir dir;
  std::string shared = dir.path() + "/shared";
  ASSERT_EQ(::mkdir(shared.c_str(), 0700), 0);
  ::setenv("SLUICE_STATE_DIR", shared.c_str(), 1);
  ::chmod(shared.c_str(), 0777);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(default_state_path("t", StateFile::create), shared + "/t.db");
  EXPECT_NE(::testing::internal::GetCapturedStderr().find(
                "warning: state directory '" + shared +
                "' may be written by others (mode 0777): chmod 700 it"),
            std::string::npos);
  ::chmod(shared.c_str(), 01777);
  ::testing::internal::CaptureStderr();
  default_state_path("t", StateFile::create);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  ::unsetenv("SLUICE_STATE_DIR");
}

TEST(MakeClock, FixesNowFromTheOption) {
  StateOptions options;
  options.now = "2026-03-01T12:00:00Z";
  EXPECT_EQ(format_instant(make_clock(options).now()), "2026-03-01T12:00:00Z");
  options.now = "yesterday";
  EXPECT_EQ(testing::exit_status_of([&] { make_clock(options); }), exit_code::usage);
}

int run_with(std::vector<std::string> arguments, const Define& define) {
  std::vector<char*> argv;
  for (auto& argument : arguments) argv.push_back(argument.data());
  return run_main(static_cast<int>(argv.size()), argv.data(), "demo", "demo tool", define);
}

TEST(RunMain, MapsParseErrorsTo2AndErrorsToTheirCode) {
  auto define = [](CLI::App& app) -> Action {
    static int value = 0;
    app.add_option("--value", value)->required();
    return [] {
      if (value == 3) throw Error(exit_code::temporary, "busy");
      if (value == 4) throw std::runtime_error("boom");
      return value;
    };
  };
  EXPECT_EQ(run_with({"demo", "--bogus"}, define), exit_code::usage);
  EXPECT_EQ(run_with({"demo"}, define), exit_code::usage);
  EXPECT_EQ(run_with({"demo", "--value", "x"}, define), exit_code::usage);
  EXPECT_EQ(run_with({"demo", "--value", "5"}, define), 5);
  EXPECT_EQ(run_with({"demo", "--value", "3"}, define), exit_code::temporary);
  EXPECT_EQ(run_with({"demo", "--value", "4"}, define), exit_code::internal);
  EXPECT_EQ(run_with({"demo", "--help"}, define), exit_code::success);
}

// Rows return 10 + their index; the command's own work (when allowed) returns 7.
std::vector<Subcommand> numbered_rows() {
  return {{"first", "The first", nullptr, [] { return 10; }},
          {"second", "The second", nullptr, [] { return 11; }}};
}

TEST(AddSubcommands, RunsTheRowChosenAndRequiresExactlyOne) {
  auto define = [](CLI::App& app) -> Action { return add_subcommands(app, numbered_rows()); };
  EXPECT_EQ(run_with({"demo", "first"}, define), 10);
  EXPECT_EQ(run_with({"demo", "second"}, define), 11);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run_with({"demo"}, define), exit_code::usage);
  EXPECT_EQ(run_with({"demo", "first", "second"}, define), exit_code::usage);
  ::testing::internal::GetCapturedStderr();
}

TEST(AddSubcommands, WithItsOwnWorkRunsItWhenNoRowIsNamed) {
  auto define = [](CLI::App& app) -> Action {
    return add_subcommands(app, numbered_rows(), [] { return 7; });
  };
  EXPECT_EQ(run_with({"demo"}, define), 7);
  EXPECT_EQ(run_with({"demo", "second"}, define), 11);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run_with({"demo", "first", "second"}, define), exit_code::usage);
  ::testing::internal::GetCapturedStderr();
}

TEST(AddDurationOption, ParsesWhileTheCommandLineIsParsedAndShowsItsDefault) {
  static Duration ttl = std::chrono::minutes(10);
  static bool ran = false;
  auto define = [](CLI::App& app) -> Action {
    ttl = std::chrono::minutes(10);
    ran = false;
    add_duration_option(app, "--ttl", ttl, "How long");
    return [] {
      ran = true;
      return 0;
    };
  };
  EXPECT_EQ(run_with({"demo"}, define), exit_code::success);
  EXPECT_EQ(ttl, std::chrono::minutes(10));
  EXPECT_EQ(run_with({"demo", "--ttl", "1h30m"}, define), exit_code::success);
  EXPECT_EQ(ttl, std::chrono::minutes(90));
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run_with({"demo", "--ttl", "soon"}, define), exit_code::usage);
  std::string error = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(ran);
  EXPECT_EQ(error.rfind("demo: error: --ttl: ", 0), 0u) << error;
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run_with({"demo", "--help"}, define), exit_code::success);
  std::string help = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(help.find("--ttl DURATION=10m"), std::string::npos) << help;
}

TEST(AddCommandOperand, LeadingOperandsEndAtTheDoubleDashAndOptionsMayComeBetween) {
  static std::vector<std::string> names, command;
  static std::string ttl;
  static int other = 0;
  auto define = [](CLI::App& app) -> Action {
    names.clear();
    command.clear();
    ttl.clear();
    CLI::App* run = app.add_subcommand("run", "A wrapper with operands");
    run->add_option("--ttl", ttl, "How long");
    add_command_operand(*run, names, command);
    CLI::App* show = app.add_subcommand("show", "Another subcommand");
    show->add_option("--other", other, "Other");
    return [] { return 0; };
  };
  EXPECT_EQ(
      run_with({"demo", "run", "b", "--ttl", "5s", "a", "--", "sh", "-c", "[x,y] --ttl"}, define),
      0);
  EXPECT_EQ(names, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(ttl, "5s");
  EXPECT_EQ(command, (std::vector<std::string>{"sh", "-c", "[x,y] --ttl"}));
  // Without "--" there is no command: the tool refuses that itself.
  EXPECT_EQ(run_with({"demo", "run", "a", "b"}, define), 0);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(command.empty());
  // Another subcommand leaves the variables alone.
  EXPECT_EQ(run_with({"demo", "show", "--other", "3"}, define), 0);
  EXPECT_TRUE(names.empty());
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run_with({"demo", "run", "a", "--bogus", "--", "true"}, define), exit_code::usage);
  ::testing::internal::GetCapturedStderr();
}

TEST(RunMain, HelpShowsNoDefaultForARequiredOption) {
  // always_capture_default() records every option's initial value, and CLI11 prints it even
  // when the option must be given: "--months INT=0 REQUIRED" reads as if 0 were allowed.
  auto define = [](CLI::App& app) -> Action {
    static int months = 0;
    static int retries = 5;
    app.add_option("--months", months, "Term")->required();
    app.add_option("--retries", retries, "Attempts");
    auto* sub = app.add_subcommand("calc", "A subcommand");
    sub->add_option("--principal", months, "Amount")->required();
    return [] { return 0; };
  };
  ::testing::internal::CaptureStdout();
  int status = run_with({"demo", "--help-all"}, define);
  std::string help = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(status, exit_code::success);
  EXPECT_NE(help.find("--months INT REQUIRED"), std::string::npos) << help;
  EXPECT_NE(help.find("--principal INT REQUIRED"), std::string::npos) << help;
  EXPECT_NE(help.find("--retries INT=5"), std::string::npos) << help;
}

}  // namespace
}  // namespace sluice::cli
