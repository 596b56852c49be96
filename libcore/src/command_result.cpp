#include "sluice/command_result.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <utility>

#include "sluice/fdio.hpp"

namespace sluice {

void hash_command_request(Sha256& hasher, const std::vector<std::string>& command,
                          const std::vector<std::string>& environment_names,
                          const std::optional<std::string>& input) {
  hasher.update_framed(std::to_string(command.size()));
  for (const auto& argument : command) hasher.update_framed(argument);
  std::set<std::string> names(environment_names.begin(), environment_names.end());
  hasher.update_framed(std::to_string(names.size()));
  for (const auto& name : names) {
    hasher.update_framed(name);
    const char* value = std::getenv(name.c_str());
    hasher.update_framed(value == nullptr ? "unset" : "set");
    if (value != nullptr) hasher.update_framed(value);
  }
  hasher.update_framed(input ? "stdin" : "no-stdin");
  if (input) hasher.update_framed(*input);
}

void OutputCapture::pass(std::string_view chunk) {
  if (fd_ >= 0 && passing_on_ && write_all(fd_, chunk) != 0) passing_on_ = false;
}

void OutputCapture::take(std::string_view chunk) {
  if (pass_on_ == PassOn::live || overflowed_) pass(chunk);
  if (overflowed_) return;
  if (bytes_.size() + chunk.size() > limit_) {
    overflowed_ = true;
    if (pass_on_ == PassOn::after_overflow) {
      pass(bytes_);
      pass(chunk);
    }
    bytes_.clear();
    bytes_.shrink_to_fit();
    return;
  }
  bytes_.append(chunk);
}

proc::Handlers capture_handlers(OutputCapture& out, OutputCapture& err) {
  proc::Handlers handlers;
  handlers.on_stdout = [&out](std::string_view chunk) { out.take(chunk); };
  handlers.on_stderr = [&err](std::string_view chunk) { err.take(chunk); };
  return handlers;
}

int replay_result(std::string_view stdout_bytes, std::string_view stderr_bytes, int exit_status) {
  write_or_throw(STDOUT_FILENO, stdout_bytes, "the saved standard output");
  write_or_throw(STDERR_FILENO, stderr_bytes, "the saved standard error");
  return exit_status;
}

void renew_while_running(proc::Handlers& handlers, LeaseRenewal renewal) {
  handlers.tick_interval = std::max<Duration>(renewal.lease / 3, std::chrono::milliseconds(100));
  handlers.on_tick = [renewal = std::move(renewal), lost = false]() mutable {
    if (lost) return;  // taken over: nothing left to renew
    try {
      if (!renewal.renew()) {
        lost = true;
        if (renewal.on_lost) renewal.on_lost();
      }
    } catch (const Error& error) {
      if (renewal.on_error) renewal.on_error(error);
    }
  };
}

}  // namespace sluice
