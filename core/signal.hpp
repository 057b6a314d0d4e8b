// Signals as a sleeping kernel path sees them: signal_pending(current), and the error an interrupted sleep
// returns.
#pragma once

#include "core/runtime.hpp"

namespace devsim::core {

// -ERESTARTSYS (include/linux/errno.h): what an interrupted sleep returns to its caller. The system call's
// return to user space turns it into -EINTR (a handler without SA_RESTART) or restarts the call; devsim's
// user side (scenarios) models the former.
inline constexpr int kERESTARTSYS = 512;

// signal_pending(current) (include/linux/sched/signal.h). In the simulator: a signal sent to the current task
// (World::send_signal, the scenario operation `signal TASK`, or the kill of a sleeping process at the end of
// an execution) that its return to user space has not delivered yet. Natively: false (no signals).
inline bool signal_pending() {
  sim::World* w = sim_world();
  return w != nullptr && w->signal_pending();
}
// fatal_signal_pending(current): the pending signal is SIGKILL.
inline bool fatal_signal_pending() {
  sim::World* w = sim_world();
  return w != nullptr && w->fatal_signal_pending();
}

}  // namespace devsim::core
