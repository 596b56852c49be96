#include "sluice/completion.hpp"

#include <algorithm>
#include <iterator>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include "sluice/cli.hpp"
#include "sluice/error.hpp"

namespace sluice {

namespace {

// What completion needs to know of one command (the tool itself or a subcommand).
struct Words {
  std::string name;
  std::string description;
  std::vector<std::string> flags;                              // options without a value
  std::vector<std::string> valued;                             // options followed by a value
  std::vector<std::pair<std::string, std::string>> described;  // option name, description
  // Valued options whose values are words (cli::complete_with), with the words.
  std::vector<std::pair<std::string, std::vector<std::string>>> choices;
};

Words words_of(const CLI::App& command) {
  Words words{command.get_name(), command.get_description(), {}, {}, {}};
  for (const CLI::Option* option : command.get_options()) {
    if (option->get_positional()) continue;
    bool takes_value = option->get_expected_max() > 0;
    const std::vector<std::string>* choices = cli::completion_words(option);
    for (const auto& name : option->get_lnames()) {
      (takes_value ? words.valued : words.flags).push_back("--" + name);
      words.described.emplace_back("--" + name, option->get_description());
      if (takes_value && choices != nullptr) words.choices.emplace_back("--" + name, *choices);
    }
    for (const auto& name : option->get_snames()) {
      (takes_value ? words.valued : words.flags).push_back("-" + name);
    }
  }
  return words;
}

void append_missing(std::vector<std::string>& target, const std::vector<std::string>& source) {
  for (const auto& item : source) {
    if (std::find(target.begin(), target.end(), item) == target.end()) target.push_back(item);
  }
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : " ") + item;
  return text;
}

std::string identifier(std::string_view name) {
  std::string result(name);
  for (auto& character : result) {
    if (character == '-') character = '_';
  }
  return result;
}

// Text inside single quotes for fish (which also takes \' and \\ there).
std::string fish_quoted(std::string_view text) {
  std::string quoted = "'";
  for (char character : text) {
    if (character == '\'' || character == '\\') quoted += '\\';
    quoted += character;
  }
  return quoted + "'";
}

struct Model {
  Words top;
  std::vector<Words> subcommands;
  std::vector<std::string> names;  // subcommand names
  // Subcommands of subcommands (`price rule set`), each named by both words ("rule set").
  std::vector<Words> nested;
  // Before any subcommand: the top level's words, and the default subcommand's options (a
  // command line that leaves the subcommand out is that subcommand's).
  Words first;
};

// The flags that only the first word may be: after a subcommand they are refused.
bool first_word_only(const std::string& flag) {
  return flag == "--version" || flag == "--help-all";
}

Model model_of(const CLI::App& app, std::string_view default_subcommand) {
  Model model{words_of(app), {}, {}, {}};
  model.first = model.top;
  std::vector<std::string> top_flags;
  std::copy_if(model.top.flags.begin(), model.top.flags.end(), std::back_inserter(top_flags),
               [](const std::string& flag) { return !first_word_only(flag); });
  for (const CLI::App* subcommand : app.get_subcommands({})) {
    Words words = words_of(*subcommand);
    if (words.name == default_subcommand) {
      append_missing(model.first.flags, words.flags);
      append_missing(model.first.valued, words.valued);
      model.first.choices.insert(model.first.choices.end(), words.choices.begin(),
                                 words.choices.end());
      for (const auto& entry : words.described) {
        if (std::find(model.first.described.begin(), model.first.described.end(), entry) ==
            model.first.described.end()) {
          model.first.described.push_back(entry);
        }
      }
    }
    // Top-level options stay valid after a subcommand (run_main's tools use fallthrough).
    append_missing(words.flags, top_flags);
    append_missing(words.valued, model.top.valued);
    words.choices.insert(words.choices.end(), model.top.choices.begin(), model.top.choices.end());
    model.names.push_back(words.name);
    for (const CLI::App* child : subcommand->get_subcommands({})) {
      Words inner = words_of(*child);
      inner.name = words.name + " " + inner.name;
      append_missing(inner.flags, top_flags);
      append_missing(inner.valued, model.top.valued);
      model.nested.push_back(std::move(inner));
    }
    model.subcommands.push_back(std::move(words));
  }
  return model;
}

// A case pattern for a command name: quoted when it is two words (a nested subcommand).
std::string case_label(const std::string& name) {
  return name.find(' ') == std::string::npos ? name : "\"" + name + "\"";
}

// "rule set"|"rule list"|...: the case patterns that recognise a nested subcommand.
std::string nested_alternatives(const Model& model) {
  std::string text;
  for (const auto& command : model.nested) {
    text += (text.empty() ? "\"" : "|\"") + command.name + "\"";
  }
  return text;
}

// "COMMAND OPTION" patterns (COMMAND empty before any subcommand) and the words each offers.
std::vector<std::pair<std::string, std::vector<std::string>>> choice_patterns(const Model& model) {
  std::vector<std::pair<std::string, std::vector<std::string>>> patterns;
  for (const auto& [option, words] : model.first.choices)
    patterns.emplace_back(" " + option, words);
  for (const auto* commands : {&model.subcommands, &model.nested}) {
    for (const auto& command : *commands) {
      for (const auto& [option, words] : command.choices) {
        patterns.emplace_back(command.name + " " + option, words);
      }
    }
  }
  return patterns;
}

std::string bash_script(const Model& model) {
  const std::string function = "_sluice_" + identifier(model.top.name);
  std::string choices;
  for (const auto& [pattern, words] : choice_patterns(model)) {
    choices +=
        fmt::format("    \"{}\") COMPREPLY=($(compgen -W \"{}\" -- \"$cur\")); return 0 ;;\n",
                    pattern, joined(words));
  }
  std::string cases;
  for (const auto* commands : {&model.subcommands, &model.nested}) {
    for (const auto& command : *commands) {
      cases +=
          fmt::format("    {}) options=\"{}\" valued=\"{}\" ;;\n", case_label(command.name),
                      joined(command.flags) + " " + joined(command.valued), joined(command.valued));
    }
  }
  std::string nested;
  if (!model.nested.empty()) {
    nested = fmt::format(
        "    case \"$command ${{COMP_WORDS[index]}}\" in\n"
        "      {}) command=\"$command ${{COMP_WORDS[index]}}\" ;;\n"
        "    esac\n",
        nested_alternatives(model));
  }
  cases += fmt::format("    *) options=\"{} {} {}\" valued=\"{}\" ;;\n", joined(model.names),
                       joined(model.first.flags), joined(model.first.valued),
                       joined(model.first.valued));
  return fmt::format(
      R"(# bash completion for {name} (generated by: {name} --completion bash)
{function}() {{
  local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
  local command="" index options valued
  for ((index = 1; index < COMP_CWORD; index++)); do
    case ${{COMP_WORDS[index]}} in
      --) compopt -o default 2>/dev/null; COMPREPLY=(); return 0 ;;
      {alternatives}) [[ -z $command ]] && command=${{COMP_WORDS[index]}} && continue ;;
    esac
{nested}  done
  case $command in
{cases}  esac
  case "$command $prev" in
{choices}  esac
  if [[ -n $prev && " $valued " == *" $prev "* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  elif [[ $cur == -* || -z $command ]]; then
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}}
complete -F {function} {name}
)",
      fmt::arg("name", model.top.name), fmt::arg("function", function),
      fmt::arg("alternatives",
               model.names.empty() ? "''" : fmt::format("{}", fmt::join(model.names, "|"))),
      fmt::arg("cases", cases), fmt::arg("choices", choices), fmt::arg("nested", nested));
}

std::string zsh_array(const std::vector<std::string>& items) {
  return "(" + joined(items) + ")";
}

std::string zsh_script(const Model& model) {
  const std::string function = "_sluice_" + identifier(model.top.name);
  std::string choices;
  for (const auto& [pattern, words] : choice_patterns(model)) {
    choices += fmt::format("    \"{}\") compadd -- {}; return ;;\n", pattern, joined(words));
  }
  std::string cases;
  for (const auto* commands : {&model.subcommands, &model.nested}) {
    for (const auto& command : *commands) {
      cases += fmt::format("    {}) options={} valued={} ;;\n", case_label(command.name),
                           zsh_array(command.flags), zsh_array(command.valued));
    }
  }
  std::string nested;
  if (!model.nested.empty()) {
    nested = fmt::format(
        "    case \"$command $word\" in\n"
        "      {}) command=\"$command $word\" ;;\n"
        "    esac\n",
        nested_alternatives(model));
  }
  cases += fmt::format("    *) options={} valued={} ;;\n", zsh_array(model.first.flags),
                       zsh_array(model.first.valued));
  return fmt::format(R"(#compdef {name}
# zsh completion for {name} (generated by: {name} --completion zsh)
{function}() {{
  local -a commands options valued
  commands={commands}
  local dashes=${{words[(i)--]}}
  if (( dashes < CURRENT )); then
    shift $dashes words
    (( CURRENT -= dashes ))
    _normal
    return
  fi
  local command="" word
  for word in ${{words[2,CURRENT-1]}}; do
    [[ -z $command ]] && (( ${{commands[(Ie)$word]}} )) && command=$word && continue
{nested}  done
  case $command in
{cases}  esac
  case "$command ${{words[CURRENT-1]}}" in
{choices}  esac
  if (( ${{valued[(Ie)${{words[CURRENT-1]}}]}} )); then
    _files
  elif [[ $PREFIX == -* ]]; then
    compadd -- $options ${{valued[@]}}
  elif [[ -z $command ]]; then
    compadd -- $commands
  else
    _files
  fi
}}
if [[ $funcstack[1] == _{name} ]]; then
  {function} "$@"
else
  compdef {function} {name}
fi
)",
                     fmt::arg("name", model.top.name), fmt::arg("function", function),
                     fmt::arg("commands", zsh_array(model.names)), fmt::arg("cases", cases),
                     fmt::arg("choices", choices), fmt::arg("nested", nested));
}

std::string fish_script(const Model& model) {
  const std::string& name = model.top.name;
  std::string script =
      fmt::format("# fish completion for {0} (generated by: {0} --completion fish)\n", name);
  auto add_options = [&](const Words& words, const std::string& condition) {
    for (const auto& [option, description] : words.described) {
      bool valued =
          std::find(words.valued.begin(), words.valued.end(), option) != words.valued.end();
      // By name: clang 14 cannot capture a structured binding.
      const std::string& name_of_option = option;
      auto choice = std::find_if(
          words.choices.begin(), words.choices.end(),
          [&name_of_option](const auto& entry) { return entry.first == name_of_option; });
      std::string value = !valued ? ""
                          : choice == words.choices.end()
                              ? " -r -F"
                              : " -x -a " + fish_quoted(joined(choice->second));
      script += fmt::format("complete -c {} -n {} -l {}{} -d {}\n", name, fish_quoted(condition),
                            option.substr(2), value, fish_quoted(description));
    }
  };
  add_options(model.first, "not __fish_seen_subcommand_from --");
  for (const auto& command : model.subcommands) {
    script += fmt::format("complete -c {} -f -n '__fish_use_subcommand' -a {} -d {}\n", name,
                          command.name, fish_quoted(command.description));
    add_options(command, "__fish_seen_subcommand_from " + command.name);
  }
  for (const auto& command : model.nested) {
    auto space = command.name.find(' ');
    std::string parent = command.name.substr(0, space), child = command.name.substr(space + 1);
    script += fmt::format("complete -c {} -f -n {} -a {} -d {}\n", name,
                          fish_quoted("__fish_seen_subcommand_from " + parent +
                                      "; and not __fish_seen_subcommand_from " + child),
                          child, fish_quoted(command.description));
    add_options(command, "__fish_seen_subcommand_from " + parent +
                             "; and __fish_seen_subcommand_from " + child);
  }
  return script;
}

}  // namespace

std::string completion_script(const CLI::App& app, std::string_view shell,
                              std::string_view default_subcommand) {
  Model model = model_of(app, default_subcommand);
  if (shell == "bash") return bash_script(model);
  if (shell == "zsh") return zsh_script(model);
  if (shell == "fish") return fish_script(model);
  throw Error(exit_code::usage, fmt::format("--completion: '{}' is not bash, zsh or fish", shell));
}

}  // namespace sluice
