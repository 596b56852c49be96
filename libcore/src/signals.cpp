#include "sluice/signals.hpp"

#include <signal.h>

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

void throw_if_interrupted() {
  if (received_signal != 0) throw Error(exit_code::signal_base + received_signal, "");
}

}  // namespace sluice
