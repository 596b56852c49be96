#include "sluice/proc.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/signals.hpp"

namespace sluice::proc {

int decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return exit_code::signal_base + WTERMSIG(status);
  return exit_code::internal;
}

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

struct Pipe {
  int read_end = -1;
  int write_end = -1;
};

Pipe make_pipe() {
  std::array<int, 2> ends{};
  if (::pipe2(ends.data(), O_CLOEXEC) != 0) {
    throw Error(exit_code::internal, fmt::format("cannot create a pipe: {}", std::strerror(errno)));
  }
  return {ends[0], ends[1]};
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// The environment the child gets: ours with `extra` added or overriding.
std::vector<std::string> child_environment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> entries;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    auto name = text.substr(0, text.find('='));
    bool overridden = std::any_of(extra.begin(), extra.end(),
                                  [&](const auto& pair) { return pair.first == name; });
    if (!overridden) entries.emplace_back(text);
  }
  for (const auto& [name, value] : extra) entries.push_back(name + "=" + value);
  return entries;
}

std::vector<char*> pointers_to(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (const auto& text : strings) pointers.push_back(const_cast<char*>(text.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

// posix_spawn attributes and file actions, destroyed with the object.
class SpawnSetup {
 public:
  SpawnSetup(const Command& command, int input, int output, int errors) {
    posix_spawnattr_init(&attributes_);
    posix_spawn_file_actions_init(&actions_);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (command.own_process_group) {
      flags |= POSIX_SPAWN_SETPGROUP;
      posix_spawnattr_setpgroup(&attributes_, 0);
    }
    sigset_t defaults, none;
    sigemptyset(&defaults);
    for (int number : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGALRM, SIGQUIT})
      sigaddset(&defaults, number);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attributes_, &defaults);
    posix_spawnattr_setsigmask(&attributes_, &none);
    posix_spawnattr_setflags(&attributes_, flags);
    if (input >= 0) posix_spawn_file_actions_adddup2(&actions_, input, STDIN_FILENO);
    if (output >= 0) posix_spawn_file_actions_adddup2(&actions_, output, STDOUT_FILENO);
    if (errors >= 0) posix_spawn_file_actions_adddup2(&actions_, errors, STDERR_FILENO);
    // dup2 onto itself clears close-on-exec in the child only (POSIX 2024; glibc since 2.29).
    for (int fd : command.inherited_fds) posix_spawn_file_actions_adddup2(&actions_, fd, fd);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attributes_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  const posix_spawnattr_t* attributes() const { return &attributes_; }
  const posix_spawn_file_actions_t* actions() const { return &actions_; }

 private:
  posix_spawnattr_t attributes_;
  posix_spawn_file_actions_t actions_;
};

// The state of one running child while run() supervises it.
class Supervisor {
 public:
  Supervisor(const Command& command, const Handlers& handlers, const Limits& limits)
      : command_(command), handlers_(handlers), limits_(limits) {}
  // If supervision failed part-way (a handler threw, poll failed), the child must not outlive
  // it unsupervised: kill it (and its group), reap it and close every descriptor.
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  Outcome run();

 private:
  void start();
  void record_launch_failure(int error);
  void supervise();
  int poll_timeout_ms(SteadyTime now) const;
  void handle_deadlines(SteadyTime now);
  void forward_signal();
  [[nodiscard]] bool group_outlives_child() const;
  void pump_output(int& fd, const std::function<void(std::string_view)>& handler);
  void feed_input();
  void drain_ready_output();
  void send(int number);
  bool reap(bool block);

  const Command& command_;
  const Handlers& handlers_;
  const Limits& limits_;
  Outcome outcome_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool exited_ = false;
  bool finished_ = false;  // run() returned normally (not by an exception)
  Pipe input_, output_, errors_;
  std::size_t input_offset_ = 0;
  std::optional<SteadyTime> timeout_at_, kill_at_;
  SteadyTime next_tick_{};
  std::array<char, 65536> chunk_{};
};

void Supervisor::start() {
  if (command_.input) input_ = make_pipe();
  if (command_.capture_stdout) output_ = make_pipe();
  if (command_.capture_stderr) errors_ = make_pipe();
  // posix_spawn (a vfork in glibc) instead of fork: the parent's pages are not copied or
  // marked copy-on-write, which is most of a wrapper's start-up cost in a VM; and glibc
  // reports a failed exec as the return value, so no error pipe is needed.
  std::vector<std::string> environment = child_environment(command_.environment);
  std::vector<char*> arguments = pointers_to(command_.argv);
  std::vector<char*> environment_pointers = pointers_to(environment);
  SpawnSetup setup(command_, input_.read_end, output_.write_end, errors_.write_end);
  int error = ::posix_spawnp(&pid_, arguments[0], setup.actions(), setup.attributes(),
                             arguments.data(), environment_pointers.data());
  close_fd(input_.read_end);
  close_fd(output_.write_end);
  close_fd(errors_.write_end);
  if (error == EAGAIN || error == ENOMEM) {
    pid_ = -1;
    throw Error(exit_code::temporary,
                fmt::format("cannot start {}: {}", command_.argv.front(), std::strerror(error)));
  }
  if (error != 0) {
    pid_ = -1;
    record_launch_failure(error);
    return;
  }
  // Also set the group from the parent, so signals sent right after the spawn reach it.
  if (command_.own_process_group) ::setpgid(pid_, pid_);
  if (input_.write_end >= 0) ::fcntl(input_.write_end, F_SETFL, O_NONBLOCK);
}

void Supervisor::record_launch_failure(int error) {
  outcome_.launch_failed = true;
  outcome_.launch_error = std::strerror(error);
  outcome_.exit_status = error == ENOENT ? exit_code::not_found : exit_code::not_executable;
  outcome_.signal = 0;
}

void Supervisor::send(int number) {
  if (pid_ <= 0) return;
  if (command_.own_process_group) {
    // The group, even after its leader was reaped: descendants that keep the output pipes open
    // (or hold a TreeLock) must not outlive a timeout or a stop. The group's id stays theirs
    // while any of them lives.
    ::kill(-pid_, number);
  } else if (!exited_) {
    ::kill(pid_, number);
  }
}

bool Supervisor::reap(bool block) {
  if (exited_) return true;
  int status = 0;
  pid_t got;
  do {
    got = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got != pid_) return false;
  exited_ = true;
  outcome_.exit_status = decode_wait_status(status);
  outcome_.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return true;
}

int Supervisor::poll_timeout_ms(SteadyTime now) const {
  std::optional<SteadyTime> wake;
  auto consider = [&](std::optional<SteadyTime> at) {
    if (at && (!wake || *at < *wake)) wake = at;
  };
  consider(timeout_at_);
  consider(kill_at_);
  if (handlers_.on_tick && handlers_.tick_interval > Duration::zero()) consider(next_tick_);
  if (pidfd_ < 0) consider(now + std::chrono::milliseconds(10));  // no pidfd: poll waitpid
  if (!wake) return -1;
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(*wake - now).count();
  return static_cast<int>(std::max<long long>(0, wait));
}

void Supervisor::handle_deadlines(SteadyTime now) {
  if (timeout_at_ && now >= *timeout_at_) {
    outcome_.timed_out = true;
    timeout_at_.reset();
    send(SIGTERM);
    kill_at_ = now + limits_.kill_after;
  }
  if (kill_at_ && now >= *kill_at_) {
    kill_at_.reset();
    send(SIGKILL);
  }
  if (handlers_.on_tick && handlers_.tick_interval > Duration::zero() && now >= next_tick_) {
    next_tick_ = now + handlers_.tick_interval;
    handlers_.on_tick();
  }
}

bool Supervisor::group_outlives_child() const {
  // Descendants that were just sent the forwarded signal get a moment to act on it.
  int checks = outcome_.forwarded_signal != 0 ? 20 : 1;
  for (int check = 0; check < checks; ++check) {
    if (::kill(-pid_, 0) != 0) return false;  // ESRCH: no process is left in the group
    if (check + 1 < checks) ::usleep(10'000);
  }
  return true;
}

void Supervisor::forward_signal() {
  int number = pending_signal();
  if (number == 0 || outcome_.forwarded_signal != 0) return;
  outcome_.forwarded_signal = number;
  // Ctrl-C already reached a child that shares our process group; do not send it twice.
  if (!command_.own_process_group && pending_signal_from_terminal()) return;
  send(number);
}

void Supervisor::pump_output(int& fd, const std::function<void(std::string_view)>& handler) {
  ssize_t got = ::read(fd, chunk_.data(), chunk_.size());
  if (got > 0) {
    if (handler) handler(std::string_view(chunk_.data(), static_cast<std::size_t>(got)));
    return;
  }
  if (got < 0 && (errno == EINTR || errno == EAGAIN)) return;
  close_fd(fd);
}

void Supervisor::drain_ready_output() {
  // Bounded: a descendant that keeps writing must not keep us here.
  for (int round = 0; round < 256; ++round) {
    std::array<pollfd, 2> fds{};
    nfds_t count = 0;
    if (output_.read_end >= 0) fds[count++] = pollfd{output_.read_end, POLLIN, 0};
    if (errors_.read_end >= 0) fds[count++] = pollfd{errors_.read_end, POLLIN, 0};
    if (count == 0 || ::poll(fds.data(), count, 0) <= 0) return;
    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == output_.read_end) {
        pump_output(output_.read_end, handlers_.on_stdout);
      } else {
        pump_output(errors_.read_end, handlers_.on_stderr);
      }
    }
  }
}

void Supervisor::feed_input() {
  const std::string& input = *command_.input;
  if (input_offset_ < input.size()) {
    ssize_t wrote =
        ::write(input_.write_end, input.data() + input_offset_, input.size() - input_offset_);
    if (wrote > 0) input_offset_ += static_cast<std::size_t>(wrote);
    // EPIPE: the child closed its stdin without reading everything; that is its choice.
    if (wrote < 0 && errno != EINTR && errno != EAGAIN) input_offset_ = input.size();
  }
  if (input_offset_ >= input.size()) close_fd(input_.write_end);
}

// Blocks the termination signals for the life of the object. The supervision loop waits in
// ppoll() with the previous mask, so a signal can only arrive while it waits: one delivered
// between checking the flag and starting to wait would otherwise go unnoticed until the next
// wake-up (up to a whole lease-renewal tick).
class TerminationSignalsBlocked {
 public:
  TerminationSignalsBlocked() {
    sigset_t termination;
    sigemptyset(&termination);
    for (int number : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&termination, number);
    ::sigprocmask(SIG_BLOCK, &termination, &previous_);
  }
  ~TerminationSignalsBlocked() { ::sigprocmask(SIG_SETMASK, &previous_, nullptr); }
  TerminationSignalsBlocked(const TerminationSignalsBlocked&) = delete;
  TerminationSignalsBlocked& operator=(const TerminationSignalsBlocked&) = delete;
  [[nodiscard]] const sigset_t* while_waiting() const { return &previous_; }

 private:
  sigset_t previous_;
};

int wait_for_events(pollfd* fds, nfds_t count, int timeout_ms, const sigset_t* mask) {
  timespec timeout{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1'000'000};
  return ::ppoll(fds, count, timeout_ms < 0 ? nullptr : &timeout, mask);
}

void Supervisor::supervise() {
  TerminationSignalsBlocked blocked;
  forward_signal();  // one that arrived before the block
  auto now = std::chrono::steady_clock::now();
  if (limits_.timeout) timeout_at_ = now + *limits_.timeout;
  next_tick_ = now + handlers_.tick_interval;
  if (input_.write_end >= 0 && command_.input->empty()) close_fd(input_.write_end);
  while (!exited_ || output_.read_end >= 0 || errors_.read_end >= 0) {
    // Interrupted after the child exited: take what it wrote, then stop waiting for
    // descendants that still hold its output pipes (they got the signal too when they share
    // its process group). Checked before waiting, so that nothing blocks in between.
    if (exited_ && outcome_.forwarded_signal != 0) {
      drain_ready_output();
      if (command_.own_process_group) ::kill(-pid_, outcome_.forwarded_signal);
      break;
    }
    std::array<pollfd, 4> fds{};
    nfds_t count = 0;
    auto watch = [&](int fd, short events) {
      if (fd >= 0) fds[count++] = pollfd{fd, events, 0};
    };
    watch(output_.read_end, POLLIN);
    watch(errors_.read_end, POLLIN);
    watch(input_.write_end, POLLOUT);
    if (!exited_) watch(pidfd_, POLLIN);
    int ready =
        wait_for_events(fds.data(), count, poll_timeout_ms(std::chrono::steady_clock::now()),
                        blocked.while_waiting());
    if (ready < 0 && errno != EINTR) {
      throw Error(exit_code::internal, fmt::format("poll failed: {}", std::strerror(errno)));
    }
    forward_signal();
    for (nfds_t i = 0; ready > 0 && i < count; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == output_.read_end)
        pump_output(output_.read_end, handlers_.on_stdout);
      else if (fds[i].fd == errors_.read_end)
        pump_output(errors_.read_end, handlers_.on_stderr);
      else if (fds[i].fd == input_.write_end)
        feed_input();
    }
    if (!exited_) reap(false);
    handle_deadlines(std::chrono::steady_clock::now());
  }
  close_fd(input_.write_end);
}

Supervisor::~Supervisor() {
  // Supervision ended by an exception (a handler stopping the run, poll failing): nothing of
  // the command may go on unsupervised, including its group's processes after the leader ended.
  bool group_left = command_.own_process_group && !finished_;
  if (pid_ > 0 && (!exited_ || group_left)) {
    send(SIGKILL);
    reap(true);
  }
  for (int* fd : {&input_.read_end, &input_.write_end, &output_.read_end, &output_.write_end,
                  &errors_.read_end, &errors_.write_end, &pidfd_}) {
    close_fd(*fd);
  }
}

Outcome Supervisor::run() {
  // Writing to a child that closed its stdin must not kill us with SIGPIPE.
  struct sigaction ignore {
  }, previous{};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &previous);
  try {
    start();
    if (!outcome_.launch_failed) {
      pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
      supervise();
      if (command_.own_process_group) outcome_.descendants_remain = group_outlives_child();
    }
  } catch (...) {
    sigaction(SIGPIPE, &previous, nullptr);
    throw;
  }
  sigaction(SIGPIPE, &previous, nullptr);
  finished_ = true;
  return outcome_;
}

}  // namespace

Outcome run(const Command& command, const Handlers& handlers, const Limits& limits) {
  if (command.argv.empty()) throw Error(exit_code::usage, "no command given");
  Supervisor supervisor(command, handlers, limits);
  return supervisor.run();
}

std::string replace_program(const std::string& path, char** argv) {
  ::execv(path.c_str(), argv);
  return std::strerror(errno);
}

}  // namespace sluice::proc
