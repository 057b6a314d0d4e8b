#include "tools/stop_signals.hpp"

namespace devsim::tool {

namespace {
std::atomic<bool> g_stop{false};
volatile std::sig_atomic_t g_signal = 0;
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler stores to it");

extern "C" void on_stop_signal(int sig) {
  g_signal = sig;
  g_stop.store(true);
}
}  // namespace

std::atomic<bool>& stop_requested() {
  return g_stop;
}

int stop_signal() {
  return g_signal;
}

const char* stop_signal_name() {
  return g_signal == SIGTERM ? "SIGTERM" : "SIGINT";
}

void reset_stop() {
  g_stop = false;
  g_signal = 0;
}

StopSignals::StopSignals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, &old_int_);
  sigaction(SIGTERM, &sa, &old_term_);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
}

}  // namespace devsim::tool
