// Simulated kernel memory: every allocation's shadow state, kept for the whole execution.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "sim/choice.hpp"
#include "sim/race.hpp"
#include "sim/report.hpp"
#include "sim/shadow.hpp"
#include "sim/site.hpp"
#include "sim/stacktrace.hpp"

namespace devsim::sim {

class World;
struct Report;

// Index into the allocation table; 0 is "no allocation" (a null handle). (Declared in sim/shadow.hpp.)

// What the shadow knows about one object.
struct Allocation {
  void* base = nullptr;       // real storage, inside the thread's reserved region (sim/shadow.hpp)
  std::uint64_t address = 0;  // simulated kernel address, deterministic across runs
  std::uint32_t size = 0;
  bool freed = false;
  bool not_leak = false;                 // kmemleak_not_leak(): expected to outlive the execution
  const std::type_info* type = nullptr;  // the C++ type constructed there, if any
  void (*destroy)(void*) = nullptr;
  TaskId alloc_task = kNoTask;
  Site alloc_site;
  std::uint64_t alloc_step = 0;
  TaskId free_task = kNoTask;
  Site free_site;
  std::uint64_t free_step = 0;
  StackTrace alloc_stack;  // captured at the allocation and the free, symbolised only if a report prints them
  StackTrace free_stack;
  // Who has touched it: the first task to access it owns it; once another task accesses it, it is shared and
  // its accesses become scheduling points (see KernelMemory::on_access).
  TaskId owner = kNoTask;
  bool shared = false;
};

// What an instrumented access is.
enum AccessFlags : unsigned {
  kAccessRead = 0,
  kAccessWrite = 1u << 0,
  kAccessMarked = 1u << 1,   // READ_ONCE/WRITE_ONCE, atomics: intended to race, never a data-race
  kAccessAcquire = 1u << 2,  // an atomic with acquire semantics
  kAccessRelease = 1u << 3,  // an atomic with release semantics
  kAccessNoPoint = 1u << 4,  // never a scheduling point (vptr reads)
  kAccessPrimitive = kAccessNoPoint | kAccessMarked | (1u << 5),  // a primitive's look at its own object
};

// The allocation table of one world.
//
// INVARIANT: storage handed out is never reused within an execution. A freed object is marked freed and
// left intact in quarantine until the world is destroyed (its C++ destructor runs only then), so a
// use-after-free is detected through the shadow and any access that slips past a detector still reads a
// valid object: never real undefined behaviour.
class KernelMemory {
 public:
  explicit KernelMemory(World& world);
  ~KernelMemory();
  KernelMemory(const KernelMemory&) = delete;
  KernelMemory& operator=(const KernelMemory&) = delete;

  // Allocates `size` bytes (filled with 0 if `zero`, else with the 0xbe pattern so reads of uninitialised
  // memory are deterministic). A yield point. Returns the new id; storage via record(id).base.
  AllocId allocate(std::size_t size, std::size_t align, bool zero, const std::type_info* type, void (*destroy)(void*),
                   const Site& site);
  // kfree: reports double and invalid frees. A yield point.
  void free(AllocId id, const void* pointer, const Site& site);
  // kfree of a raw pointer: finds its allocation (slow path, for C-style code).
  void free_raw(const void* pointer, const Site& site);
  // The allocation `pointer` points into (0 if none): for objects embedded in a simulated allocation (a cdev
  // or a work item inside driver data) that must check their own accesses. O(1): one granule-map load.
  AllocId find(const void* pointer) const;
  // The simulated address of the allocation `pointer` (inside this world's region) points into, or 0: the name
  // partial-order reduction gives every access to that object (one name per object, so a primitive on a field
  // conflicts with the object's free).
  std::uintptr_t object_address(const void* pointer) const {
    const AllocId id = find(pointer);
    return id == 0 ? 0 : table_[id].address;
  }
  // An instrumented access of `size` bytes at `pointer` (inside this world's region) by code at `pc`:
  // checked like KPtr (use-after-free, out-of-bounds), a scheduling point when the memory is shared, and fed
  // to the data-race detector. `flags` are AccessFlags. Never throws (it runs inside compiler callbacks).
  void on_access(const void* pointer, std::size_t size, unsigned flags, std::uintptr_t pc) noexcept;

  // A primitive (lock, completion, wait queue, refcount, SRCU…) about to work on its object at `object`, for a
  // caller at `site`: an object in freed simulated memory is a use-after-free at the caller's site, the
  // primitive (code at `pc`) named in the details.
  void check_primitive(const void* object, const Site& site, std::uintptr_t pc);
  // Checks an access of `size` bytes at `pointer` inside allocation `id`; reports use-after-free or
  // out-of-bounds. Returns true when the access is valid.
  // `note`, if any, is a further line of the report (what the access was, when the site alone does not say).
  bool check(AllocId id, const void* pointer, std::size_t size, bool write, const Site& site,
             std::string_view note = {});

  // The demangled name of an allocation's type ("" if untyped).
  static std::string type_name(const Allocation& a);
  void mark_not_leak(AllocId id) { table_[id].not_leak = true; }
  // Replaces the deferred destructor of an allocation (null: none). For owners that destroy the object
  // themselves at its last put (Arc) and must not have it destroyed a second time when the world ends.
  void set_destroy(AllocId id, void (*destroy)(void*)) { table_[id].destroy = destroy; }
  const Allocation& record(AllocId id) const { return table_[id]; }
  std::size_t live_objects() const { return live_; }
  std::size_t allocations() const { return table_.size() - 1; }
  // kmemleak: one report per live object that nothing references (sim/kmemleak.hpp), in allocation order.
  void report_leaks();

  // A further stack to print with reports on objects freed by the current task from now on, until
  // pop_free_context(): a devres release names the probe that registered the resource ("Registered by").
  // LIFETIME: `section` must outlive the matching pop (the releasing code keeps it on its stack).
  void push_free_context(const StackSection* section);
  void pop_free_context();
  // Runs the deferred C++ destructors of every object (freed or leaked). Called once, as the world ends.
  void destroy_all();

 private:
  void report_bad_access(AllocId id, const void* pointer, std::size_t size, bool write, const Site& site,
                         std::string_view note, std::string_view kind);
  void note_free_context(AllocId id);
  void add_free_related(AllocId id, Report& r) const;
  void report_bad_access_at(AllocId id, const void* pointer, std::size_t size, bool write, std::uintptr_t pc,
                            std::string_view kind);
  void report_race(AllocId id, const void* pointer, std::size_t size, bool write, std::uintptr_t pc,
                   const RaceDetector::Access& other, std::uintptr_t other_address);
  void fill_bad_access(Report& r, AllocId id, const void* pointer, std::size_t size, bool write,
                       std::string_view kind) const;

  World& world_;
  // LIFETIME: storage comes from this thread's reserved region, from where the enclosing world (if any) had got
  // to, and is handed back only when this world ends, after every destroy() has run: that is the quarantine.
  // Never reused within an execution.
  shadow::View saved_view_;  // the enclosing world's view, restored by the destructor
  std::uintptr_t region_end_ = 0;
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> reported_races_;  // (pc, other pc) this execution
  // The last bad access a checked handle reported (report_bad_access): the plain access that follows it is the
  // same one and is not reported again.
  struct CheckedReport {
    TaskId task = kNoTask;
    AllocId id = 0;
    std::string_view kind;
  };
  CheckedReport checked_report_;
  // [0] is the null sentinel. An explorer builds a world per execution: the table's storage is handed from one
  // execution's memory to the next on the thread (its records are several hundred bytes, and growing it afresh
  // every execution made the C library consolidate its free lists each time).
  std::vector<Allocation> table_;
  std::uint64_t next_address_;
  std::size_t live_ = 0;
  // Free contexts in force, per task (push_free_context), and the stacks they gave to frees: rare, so plain
  // vectors searched linearly.
  std::vector<std::pair<TaskId, const StackSection*>> free_contexts_;
  std::vector<std::pair<AllocId, StackSection>> free_related_;
};

// push_free_context() for a scope, in the current world (nothing outside one).
class FreeContextScope {
 public:
  explicit FreeContextScope(const StackSection* section);
  ~FreeContextScope();
  FreeContextScope(const FreeContextScope&) = delete;
  FreeContextScope& operator=(const FreeContextScope&) = delete;

 private:
  KernelMemory* memory_ = nullptr;
};

}  // namespace devsim::sim
