// completion: shell completion scripts (bash, zsh, fish) generated from a tool's CLI11
// definitions, so that they can never disagree with the options the tool accepts. Every tool
// prints its own with the hidden `TOOL --completion SHELL` (cli::run_main handles it); the
// build installs them where each shell looks.
#pragma once

#include <string>
#include <string_view>

namespace CLI {
class App;
}  // namespace CLI

namespace sluice {

// The completion script of `app` (all of whose options must be defined) for `shell`: "bash",
// "zsh" or "fish". Subcommands complete as words, options by name, an option that takes a
// value with file names, operands with file names, and the words after "--" of a wrapper as
// the shell would complete a command line; a subcommand's own subcommands (`price rule set`)
// complete their options and words after both words. Error(2) for another shell. With a
// default_subcommand (see cli::run_main), the first word completes to its options as well.
// --version and --help-all complete only as the first word, where they are accepted.
std::string completion_script(const CLI::App& app, std::string_view shell,
                              std::string_view default_subcommand = {});

}  // namespace sluice
