// signals: SIGINT/SIGTERM/SIGHUP become a flag that long-running loops check, so a tool can
// roll back, clean up and exit 128+N (docs/ARCHITECTURE.md, "Errors and signals"). SIGPIPE
// keeps its default.
#pragma once

#include "sluice/timeutil.hpp"

namespace sluice {

// Installs the handlers (without SA_RESTART, so blocking reads and waits return EINTR). A
// second termination signal ends the process at once with the default action.
// cli::run_main calls this once.
void install_termination_handlers();

// The number of the first termination signal received, or 0.
int pending_signal();

// True when the pending signal came from the terminal (Ctrl-C), which the kernel already
// delivered to the whole foreground process group.
bool pending_signal_from_terminal();

// Sleeps for `duration` on the monotonic clock unless a termination signal is pending or
// arrives meanwhile. Returns true when the whole duration passed, false when a signal ended
// (or prevented) the sleep. There is no window in which a signal can be missed.
bool sleep_unless_interrupted(Duration duration);

// Throws Error(128+N) with no message when a termination signal is pending.
void throw_if_interrupted();

}  // namespace sluice
