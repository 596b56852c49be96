#include "sluice/completion.hpp"

#include <gtest/gtest.h>
#include <CLI/CLI.hpp>

#include "sluice/cli.hpp"
#include "test_support.hpp"

namespace sluice {
namespace {

struct TinyApp {
  CLI::App app{"tiny", "tiny"};
  std::string file;
  bool flag = false;
  TinyApp() {
    app.add_option("--db", file, "State file");
    auto* run = app.add_subcommand("run", "Run it");
    run->add_flag("--dry-run", flag, "Do nothing");
    run->add_option("--input", file, "Input 'file'");
  }
};

TEST(Completion, BashListsSubcommandsOptionsAndWhichTakeValues) {
  TinyApp tiny;
  std::string script = completion_script(tiny.app, "bash");
  EXPECT_NE(script.find("      run) [[ -z $command ]]"), std::string::npos) << script;
  EXPECT_NE(
      script.find("    run) options=\"--help -h --dry-run --input --db\" valued=\"--input --db\""),
      std::string::npos)
      << script;
  EXPECT_NE(script.find("complete -F _sluice_tiny tiny"), std::string::npos);
}

TEST(Completion, ZshAndFishScriptsNameEveryOption) {
  TinyApp tiny;
  std::string zsh = completion_script(tiny.app, "zsh");
  EXPECT_EQ(zsh.rfind("#compdef tiny\n", 0), 0U);
  EXPECT_NE(zsh.find("    run) options=(--help -h --dry-run) valued=(--input --db)"),
            std::string::npos)
      << zsh;
  std::string fish = completion_script(tiny.app, "fish");
  EXPECT_NE(fish.find("complete -c tiny -n '__fish_seen_subcommand_from run' -l input -r -F -d "
                      "'Input \\'file\\''"),
            std::string::npos)
      << fish;
}

TEST(Completion, NestedSubcommandsAreNamedByBothWords) {
  CLI::App app{"tiny", "tiny"};
  std::string rule;
  auto* set = app.add_subcommand("rule", "Rules")->add_subcommand("set", "Set one");
  cli::complete_with(set->add_option("--rule", rule, "The rule"), {"none", "end-99"});
  std::string bash = completion_script(app, "bash");
  EXPECT_NE(bash.find("      \"rule set\") command=\"$command ${COMP_WORDS[index]}\" ;;"),
            std::string::npos)
      << bash;
  EXPECT_NE(bash.find("    \"rule set\") options=\"--help -h --rule\" valued=\"--rule\" ;;"),
            std::string::npos)
      << bash;
  EXPECT_NE(bash.find("    \"rule set --rule\") COMPREPLY=($(compgen -W \"none end-99\""),
            std::string::npos)
      << bash;
  std::string fish = completion_script(app, "fish");
  EXPECT_NE(fish.find("-n '__fish_seen_subcommand_from rule; and __fish_seen_subcommand_from "
                      "set' -l rule -x -a 'none end-99'"),
            std::string::npos)
      << fish;
}

TEST(Completion, OtherShellsAreUsageErrors) {
  TinyApp tiny;
  EXPECT_EQ(testing::exit_status_of([&] { (void)completion_script(tiny.app, "tcsh"); }), 2);
}

}  // namespace
}  // namespace sluice
