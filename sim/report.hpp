// What a detector found: one structured report, rendered KASAN-style as text and as JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/choice.hpp"
#include "sim/site.hpp"
#include "sim/stacktrace.hpp"

namespace devsim::sim {

// Bug kinds are open-ended strings so that later layers (refcount warnings, lock inversions, list
// corruption, context misuse) add their own without sim/ knowing them. The ones sim/ detects:
namespace bug {
inline constexpr std::string_view kUseAfterFree = "use-after-free";
inline constexpr std::string_view kDoubleFree = "double-free";
inline constexpr std::string_view kInvalidFree = "invalid-free";
inline constexpr std::string_view kOutOfBounds = "slab-out-of-bounds";
inline constexpr std::string_view kLeak = "memory-leak";
inline constexpr std::string_view kDeadlock = "deadlock";
inline constexpr std::string_view kSoftLockup = "soft-lockup";
// A CPU stuck with interrupts off: a hard-IRQ handler that waits forever (kernel/watchdog.c, "hard LOCKUP").
inline constexpr std::string_view kHardLockup = "hard-lockup";
inline constexpr std::string_view kStackOverflow = "stack-overflow";
inline constexpr std::string_view kStepBudget = "step-budget-exceeded";
inline constexpr std::string_view kHeldAtExit = "held-at-exit";
inline constexpr std::string_view kTaskException = "unhandled-exception";
inline constexpr std::string_view kSleepInAtomic = "sleep-in-atomic";
// A blocking operation in a task that is not TASK_RUNNING (a wait_event() condition that sleeps): a warning.
inline constexpr std::string_view kBlockingNotRunning = "blocking-op-not-running";
inline constexpr std::string_view kDataRace = "data-race";
// A user task asleep in a wait whose condition holds, with nothing left to wake it (World::wait_condition_held).
inline constexpr std::string_view kLostWakeup = "lost-wake-up";
// A task in an uninterruptible sleep that only a signal to a process could end (World::report_hung_task).
inline constexpr std::string_view kHungTask = "hung-task";
}  // namespace bug

// A task at a site: "task app/1 at legacy_ioctl (drivers/legacy.cpp:42), step 7".
struct TaskSite {
  TaskSite() = default;
  TaskSite(std::string task_label, std::optional<Site> at, std::uint64_t at_step, const StackTrace& call_stack = {})
      : task(std::move(task_label)), site(at), step(at_step), stack(call_stack) {}

  std::string task;  // "app/1": name/id, as the kernel prints comm/pid
  std::optional<Site> site;
  std::uint64_t step = 0;  // the execution's scheduling step at that moment
  StackTrace stack;        // its call stack then, innermost first (empty: not captured)
};

// A further stack a report shows: the tasks of a deadlock, the registration of a devres action.
struct StackSection {
  std::string title;  // "Blocked (waits for …)", "Registered by"
  TaskSite at;
};
// The site's function, "file:line", and "function (file:line)", whichever form the TaskSite carries; empty
// (describe: "(no site)") when it has none.
std::string site_function(const TaskSite& ts);
std::string site_location(const TaskSite& ts);
std::string describe(const TaskSite& ts);

// A memory access that went wrong.
struct MemoryAccess {
  bool write = false;
  std::uint32_t size = 0;
  std::uint64_t address = 0;  // simulated kernel address (deterministic across runs)
  std::uint64_t object = 0;   // the object's base address
  std::uint32_t object_size = 0;
  std::uint32_t offset = 0;  // of the access within the object
  std::string type;          // the C++ type allocated there, if known
};

struct Report {
  std::string kind;      // one of bug::k* or a later layer's kind
  std::string headline;  // "use-after-free in legacy_ioctl"; kind + where, like KASAN's BUG: line
  std::optional<MemoryAccess> access;
  std::optional<TaskSite> accessed_by;  // the task that did the faulting operation
  std::optional<TaskSite> allocated_by;
  std::optional<TaskSite> freed_by;
  std::vector<StackSection> related;  // printed after the free stack, in order
  // A data race's other access (kind data-race): its task, what is known of its stack, and what it did.
  std::optional<TaskSite> racing_by;
  std::optional<MemoryAccess> racing_access;
  std::vector<std::string> details;  // further lines: waiters of a deadlock, both orders of an inversion…
  Schedule schedule;                 // the choices that led here (filled in by the world)
  bool fatal = true;                 // a warning (refcount saturation) is reported but does not stop

  // kind + access site + free site: what makes two failures "the same bug" for deduplication.
  std::string signature() const;
};

// KASAN/kmemleak-style text, with the schedule at the end.
std::string render_text(const Report& report);
// The same report as a JSON object (nlohmann-compatible text).
std::string render_json(const Report& report);

}  // namespace devsim::sim
