#include "sluice/signals.hpp"

#include <poll.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <csignal>

#include "sluice/error.hpp"

namespace sluice {
namespace {

volatile std::sig_atomic_t received_signal = 0;
volatile std::sig_atomic_t received_from_terminal = 0;

void on_termination(int number, siginfo_t* info, void*) {
  if (received_signal != 0) {
    // A second signal while the first is being handled (say, a child that ignores SIGINT):
    // stop now, the default way. State stays consistent: this is no worse than SIGKILL.
    ::signal(number, SIG_DFL);
    ::raise(number);
    return;
  }
  received_from_terminal = info != nullptr && info->si_code == SI_KERNEL ? 1 : 0;
  received_signal = number;
}

}  // namespace

void install_termination_handlers() {
  struct sigaction action {};
  action.sa_sigaction = on_termination;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  for (int number : {SIGINT, SIGTERM, SIGHUP}) sigaction(number, &action, nullptr);
}

int pending_signal() {
  return received_signal;
}

bool pending_signal_from_terminal() {
  return received_from_terminal != 0;
}

bool sleep_unless_interrupted(Duration duration) {
  // Block the signals while checking the flag; ppoll() unblocks them atomically while it
  // waits, so one that arrives between the check and the wait still wakes it.
  sigset_t termination, previous;
  sigemptyset(&termination);
  for (int number : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&termination, number);
  ::sigprocmask(SIG_BLOCK, &termination, &previous);
  const auto until = std::chrono::steady_clock::now() + duration;
  bool completed = false;
  while (received_signal == 0) {
    auto left = until - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      completed = true;
      break;
    }
    auto nanoseconds = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec timeout{static_cast<time_t>(nanoseconds / 1'000'000'000),
                     static_cast<long>(nanoseconds % 1'000'000'000)};
    ::ppoll(nullptr, 0, &timeout, &previous);
  }
  ::sigprocmask(SIG_SETMASK, &previous, nullptr);
  return completed;
}

void throw_if_interrupted() {
  if (received_signal != 0) throw Error(exit_code::signal_base + received_signal, "");
}

}  // namespace sluice
