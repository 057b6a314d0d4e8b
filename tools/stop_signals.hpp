// SIGINT and SIGTERM as a request to stop: a long command (devsim run, devsim fuzz) winds down, keeps and writes what
// it found so far, and exits 128 + the signal's number.
#pragma once

#include <atomic>
#include <csignal>

namespace devsim::tool {

// Set by the handlers StopSignals installs; a command may set it itself (a failed write ends a fuzz campaign).
// INVARIANT: lock-free, so the handler may store to it.
std::atomic<bool>& stop_requested();
// The signal that asked to stop (SIGINT, SIGTERM), or 0.
int stop_signal();
// Its name for messages and JSON: "SIGTERM", else "SIGINT" (also when a command stopped itself).
const char* stop_signal_name();
// Clears both, for a command that starts afresh.
void reset_stop();

// Installs the handlers for its lifetime and puts the previous ones back. A second signal gets the default action
// (the handler is reset when it runs), so a command that does not wind down can still be killed.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

}  // namespace devsim::tool
