// error: the exit statuses every sluice tool shares (docs/ARCHITECTURE.md, "Exit status"), the
// one exception type that ends a run, and the diagnostic printer
// (`TOOL: error: SOURCE:LINE: message`).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice {

// Exit statuses. Wrappers pass a child's own status through as a plain int.
namespace exit_code {
inline constexpr int success = 0;
inline constexpr int definite_no = 1;
inline constexpr int usage = 2;
inline constexpr int data = 65;
inline constexpr int no_input = 66;
inline constexpr int unavailable = 69;
inline constexpr int internal = 70;
inline constexpr int cannot_create = 73;
inline constexpr int io = 74;
inline constexpr int temporary = 75;
inline constexpr int timed_out = 124;
inline constexpr int not_executable = 126;
inline constexpr int not_found = 127;
inline constexpr int signal_base = 128;
}  // namespace exit_code

// A failure that ends the run. Caught only by cli::run_main, which prints
// `TOOL: error: LOCATION: MESSAGE` (the location part only when set) and returns code().
// An empty message prints nothing (used for a closed stdout pipe and for signals).
class Error : public std::runtime_error {
 public:
  Error(int code, std::string message, std::string location = {});
  [[nodiscard]] int code() const noexcept { return code_; }
  [[nodiscard]] const std::string& location() const noexcept { return location_; }

 private:
  int code_;
  std::string location_;
};

// Runs `work` and returns its result; an Error it throws comes back as Error(code, "CONTEXT:
// MESSAGE"). A parser says what is wrong with a text; the caller that knows where the text came
// from (an option, a field, a column) names it and assigns the exit status: 2 for an option,
// 65 for input.
template <typename Work>
auto with_context(int code, std::string_view context, Work&& work) -> decltype(work()) {
  try {
    return work();
  } catch (const Error& error) {
    throw Error(code, std::string(context) + ": " + error.what(), error.location());
  }
}

// "SOURCE:LINE" as used in locations; SOURCE is the file name or "<stdin>".
std::string location(std::string_view source, long long line);

enum class Severity { error, warning, note };

// The name diagnostics start with; cli::run_main sets it to the tool's name.
void set_program_name(std::string_view name);
const std::string& program_name();

// TEXT with its control characters (C0, DEL, and C1 as UTF-8) written as \u00XX, so that text
// quoted from input cannot end a line, move the cursor or change colours where it is shown.
std::string without_control_characters(std::string_view text);

// TEXT on one line for quoting in a diagnostic: each run of white space (spaces, tabs, line
// ends) becomes one space and the ends are trimmed, so that multi-line SQL or DDL reads as
// written rather than as \u000a escapes.
std::string single_line(std::string_view text);

// Prints one diagnostic line to stderr, its location and message passed through
// without_control_characters. Colour is used only when stderr is a terminal and NO_COLOR is
// unset. Never throws.
void print_diagnostic(Severity severity, std::string_view location, std::string_view message);
inline void warn(std::string_view message, std::string_view where = {}) {
  print_diagnostic(Severity::warning, where, message);
}
inline void note(std::string_view message, std::string_view where = {}) {
  print_diagnostic(Severity::note, where, message);
}

}  // namespace sluice
