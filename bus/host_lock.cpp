#include "bus/host_lock.hpp"

namespace devsim::bus {

// LIFETIME: never destroyed, so a thread still finishing at exit (a native executor's last work item) can take it.
std::mutex& HostGuard::mutex() {
  static auto* m = new std::mutex;
  return *m;
}

std::condition_variable& HostGuard::condition() {
  static auto* c = new std::condition_variable;
  return *c;
}

}  // namespace devsim::bus
