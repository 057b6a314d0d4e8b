// Boot: state that outlives one execution and lasts for a whole exploration — what the kernel keeps from boot
// to reboot while many "executions" (system calls, hotplugs) run through it.
#pragma once

#include <memory>
#include <vector>

namespace devsim::sim {

// One "boot" of the simulated machine: explore() opens one for all its executions (unless one is already open
// on this thread, which it then shares), so a later layer can keep state across them. lockdep does: its
// dependency graph persists, as the kernel's does, so A -> B seen in one execution and B -> A in another is an
// inversion.
//
// INVARIANT: at most one Boot is current per thread; it outlives every World built while it is current.
// Extensions must not point into any World (they outlive them).
class Boot {
 public:
  Boot() : previous_(t_current) {
    if (t_current == nullptr) t_current = this;
  }
  ~Boot() {
    if (t_current == this) t_current = previous_;
  }
  Boot(const Boot&) = delete;
  Boot& operator=(const Boot&) = delete;

  // The boot open on this thread, or null (a lone run_once / replay: state lives in the world).
  static Boot* current() { return t_current; }

  // Per-boot state of a later layer, created on first use. T must be default-constructible.
  template <class T>
  T& extension() {
    const void* key = &kKey<T>;
    for (Extension& e : extensions_)
      if (e.key == key) return *static_cast<T*>(e.state.get());
    extensions_.push_back(Extension{key, {new T(), [](void* p) { delete static_cast<T*>(p); }}});
    return *static_cast<T*>(extensions_.back().state.get());
  }

 private:
  struct Extension {
    const void* key;
    std::unique_ptr<void, void (*)(void*)> state;
  };
  template <class T>
  static inline const char kKey = 0;
  static inline thread_local Boot* t_current = nullptr;
  Boot* previous_;
  std::vector<Extension> extensions_;
};

}  // namespace devsim::sim
