// signals: SIGINT/SIGTERM/SIGHUP become a flag that long-running loops check, so a tool can
// roll back, clean up and exit 128+N (DESIGN.md section 8). SIGPIPE keeps its default.
#pragma once

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

// Throws Error(128+N) with no message when a termination signal is pending.
void throw_if_interrupted();

}  // namespace sluice
