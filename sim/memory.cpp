#include "sim/memory.hpp"

#include <cxxabi.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "sim/kmemleak.hpp"
#include "sim/race.hpp"
#include "sim/world.hpp"

namespace devsim::sim {

namespace {
// Where simulated objects live: the x86-64 direct map, so reports look like the kernel's.
constexpr std::uint64_t kFirstAddress = 0xffff888100000000ULL;
constexpr std::uint64_t kRedzone = 64;

std::uint64_t round_up(std::uint64_t n, std::uint64_t to) {
  return (n + to - 1) / to * to;
}

std::string hex(std::uint64_t v) {
  std::ostringstream s;
  s << std::hex << v;
  return s.str();
}

// This thread's reserved region: object storage, its granule map and its race cells, mapped on first use and
// unmapped when the thread exits. LIFETIME: outlives every world of the thread (worlds end before their thread).
struct Region {
  char* data = nullptr;
  AllocId* granules = nullptr;
  RaceDetector::Cell* cells = nullptr;
  std::uint32_t generation = 0;  // bumped per world: cells of earlier worlds read as empty

  static constexpr std::size_t kGranuleMapBytes = shadow::kRegionBytes / shadow::kGranule * sizeof(AllocId);
  static constexpr std::size_t kCellMapBytes = shadow::kRegionBytes / shadow::kCellBytes * sizeof(RaceDetector::Cell);

  static void* reserve(std::size_t bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return p;
  }
  void map() {
    data = static_cast<char*>(reserve(shadow::kRegionBytes));
    granules = static_cast<AllocId*>(reserve(kGranuleMapBytes));
    cells = static_cast<RaceDetector::Cell*>(reserve(kCellMapBytes));
  }
  ~Region() {
    if (data == nullptr) return;
    munmap(data, shadow::kRegionBytes);
    munmap(granules, kGranuleMapBytes);
    munmap(cells, kCellMapBytes);
  }
};
thread_local Region t_region;

std::uintptr_t round_up_ptr(std::uintptr_t n, std::uintptr_t to) {
  return (n + to - 1) / to * to;
}
}  // namespace

std::string KernelMemory::type_name(const Allocation& a) {
  if (a.type == nullptr) return {};
  // Demangling allocates and walks the whole name; a type's name never changes, so each thread keeps it.
  thread_local std::unordered_map<const std::type_info*, std::string> cache;
  auto [it, fresh] = cache.try_emplace(a.type);
  if (!fresh) return it->second;
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(a.type->name(), nullptr, nullptr, &status),
                                              std::free);
  it->second = status == 0 && name ? std::string(name.get()) : std::string(a.type->name());
  return it->second;
}

void null_dereference(const Site& site) {
  if (World::current() == nullptr) {
    // Natively there is no task to kill: the oops ends the process, as a kernel with panic_on_oops would.
    std::fprintf(stderr, "BUG: kernel NULL pointer dereference in %s at %s (native runtime)\n",
                 site_function(site).c_str(), site_location(site).c_str());
    std::abort();
  }
  World& w = *World::current();
  Report r;
  r.kind = "null-ptr-deref";
  r.headline = "null-ptr-deref in " + site_function(site);
  r.accessed_by = w.task_site(w.current_task(), site);
  w.report(std::move(r));
  w.oops();
}

namespace {
// The storage of the allocation table of the last world that ended on this thread.
thread_local std::vector<Allocation> t_spare_table;
}  // namespace

KernelMemory::KernelMemory(World& world) : world_(world), next_address_(kFirstAddress) {
  table_.swap(t_spare_table);  // a nested world finds it empty and grows its own
  table_.clear();
  table_.emplace_back();  // id 0: null
  Region& region = t_region;
  if (region.data == nullptr) region.map();
  saved_view_ = shadow::t_view;
  // A nested world continues where the enclosing one got to; the outermost starts at the region's start.
  std::uintptr_t start = saved_view_.memory != nullptr
                             ? round_up_ptr(saved_view_.base + saved_view_.used, shadow::kGranule)
                             : reinterpret_cast<std::uintptr_t>(region.data);
  const std::uintptr_t data = reinterpret_cast<std::uintptr_t>(region.data);
  region_end_ = data + shadow::kRegionBytes;
  shadow::View v;
  v.base = start;
  v.used = 0;
  v.granules = region.granules + (start - data) / shadow::kGranule;
  v.memory = this;
  v.cells = region.cells + (start - data) / shadow::kCellBytes;
  v.generation = ++region.generation;
  shadow::t_view = v;
}

KernelMemory::~KernelMemory() {
  destroy_all();
  shadow::t_view = saved_view_;
  table_.clear();
  if (table_.capacity() > t_spare_table.capacity()) t_spare_table.swap(table_);
}

void KernelMemory::destroy_all() {
  // Reverse order: an object constructed later may refer to an earlier one.
  for (std::size_t i = table_.size(); i-- > 1;) {
    Allocation& a = table_[i];
    if (a.destroy != nullptr) std::exchange(a.destroy, nullptr)(a.base);
  }
}

AllocId KernelMemory::allocate(std::size_t size, std::size_t align, bool zero, const std::type_info* type,
                               void (*destroy)(void*), const Site& site) {
  world_.yield(EventKind::Alloc, nullptr, site);
  // Storage: the next granules of the region, then one granule of redzone that the granule map attributes to
  // this object, so an access just past its end is named as out of bounds of this object.
  shadow::View& v = shadow::t_view;
  const std::uintptr_t start = round_up_ptr(v.base + v.used, std::max<std::size_t>(align, shadow::kGranule));
  const std::uintptr_t end = start + round_up_ptr(size == 0 ? 1 : size, shadow::kGranule) + shadow::kGranule;
  if (end > region_end_ || table_.size() >= ~AllocId{0}) {
    // LIFETIME: not a bug of the driver: a devsim limit, raised to the model as an exception.
    throw std::length_error("devsim limit: simulated kernel memory of one execution exceeds " +
                            std::to_string(shadow::kRegionBytes >> 20) + " MiB");
  }
  const auto id = static_cast<AllocId>(table_.size());
  const std::size_t first = v.used / shadow::kGranule, gap = (start - v.base) / shadow::kGranule,
                    last = (end - v.base) / shadow::kGranule;
  std::fill(v.granules + first, v.granules + gap, AllocId{0});
  std::fill(v.granules + gap, v.granules + last, id);
  v.used = end - v.base;
  void* base = reinterpret_cast<void*>(start);
  std::memset(base, zero ? 0 : 0xbe, size);
  Allocation a;
  a.base = base;
  a.address = next_address_;
  next_address_ += round_up(size == 0 ? 1 : size, kRedzone) + kRedzone;
  a.size = static_cast<std::uint32_t>(size);
  a.type = type;
  a.destroy = destroy;
  a.alloc_task = world_.current_task();
  // Objects the model's set-up code allocates are the shared roots every task starts from: shared at once.
  a.shared = !world_.in_task();
  a.alloc_site = site;
  a.alloc_step = world_.steps();
  a.alloc_stack = capture_current_stack();
  table_.push_back(a);
  ++live_;
  if (world_.trace() != nullptr)  // the label costs a strlen per allocation: only when tracing
    world_.record_address(EventKind::Alloc, a.address, size, site, type != nullptr ? type->name() : "");
  return static_cast<AllocId>(table_.size() - 1);
}

void KernelMemory::free(AllocId id, const void* pointer, const Site& site) {
  if (id == 0 && pointer == nullptr) return;  // kfree(NULL) is a no-op
  world_.yield(EventKind::Free, nullptr, site);
  if (id == 0 || id >= table_.size()) {
    Report r;
    r.kind = bug::kInvalidFree;
    r.headline = "invalid-free in " + site_function(site);
    r.accessed_by = world_.task_site(world_.current_task(), site);
    r.details.push_back("the pointer was not returned by kmalloc in this execution");
    world_.report(std::move(r));
    return;
  }
  Allocation& a = table_[id];
  // Before any report: a free found invalid or double is still the free for partial-order reduction, and must
  // conflict with the accesses and frees that would make it valid in another order.
  world_.touch(reinterpret_cast<const void*>(a.address), true);
  if (pointer != a.base) {
    Report r;
    r.kind = bug::kInvalidFree;
    r.headline = "invalid-free in " + site_function(site);
    MemoryAccess acc;
    acc.write = true;
    acc.object = a.address;
    acc.object_size = a.size;
    acc.offset = static_cast<std::uint32_t>(static_cast<const char*>(pointer) - static_cast<const char*>(a.base));
    acc.address = a.address + acc.offset;
    acc.type = type_name(a);
    r.access = acc;
    r.accessed_by = world_.task_site(world_.current_task(), site);
    r.allocated_by = TaskSite{world_.task_label(a.alloc_task), a.alloc_site, a.alloc_step, a.alloc_stack};
    r.details.push_back("the pointer is inside the object, not at its start");
    world_.report(std::move(r));
    return;
  }
  if (a.freed) {
    Report r;
    r.kind = bug::kDoubleFree;
    r.headline = "double-free in " + site_function(site);
    MemoryAccess acc;
    acc.write = true;
    acc.address = acc.object = a.address;
    acc.object_size = a.size;
    acc.size = a.size;
    acc.type = type_name(a);
    r.access = acc;
    r.accessed_by = world_.task_site(world_.current_task(), site);
    r.allocated_by = TaskSite{world_.task_label(a.alloc_task), a.alloc_site, a.alloc_step, a.alloc_stack};
    r.freed_by = TaskSite{world_.task_label(a.free_task), a.free_site, a.free_step, a.free_stack};
    add_free_related(id, r);
    world_.report(std::move(r));
    return;
  }
  a.freed = true;
  a.free_task = world_.current_task();
  a.free_site = site;
  a.free_step = world_.steps();
  a.free_stack = capture_current_stack();
  if (!free_contexts_.empty()) note_free_context(id);
  --live_;
  world_.note_acted();
  if (world_.trace() != nullptr)
    world_.record_address(EventKind::Free, a.address, a.size, site, a.type != nullptr ? a.type->name() : "");
}

AllocId KernelMemory::find(const void* pointer) const {
  // Only this world's part of the region holds its objects (an enclosing world's objects test as outside).
  const shadow::View& v = shadow::t_view;
  if (v.memory != this || !shadow::in_region(pointer)) return 0;
  AllocId id = v.granules[(reinterpret_cast<std::uintptr_t>(pointer) - v.base) / shadow::kGranule];
  if (id == 0) return 0;
  // The redzone granule belongs to the object for reports, not for lookups.
  const Allocation& a = table_[id];
  const char* base = static_cast<const char*>(a.base);
  const char* p = static_cast<const char*>(pointer);
  return p < base + std::max<std::uint32_t>(a.size, 1) ? id : 0;
}

void KernelMemory::free_raw(const void* pointer, const Site& site) {
  if (pointer == nullptr) return;
  AllocId id = find(pointer);
  free(id == 0 ? ~AllocId{0} : id, pointer, site);
}

bool KernelMemory::check(AllocId id, const void* pointer, std::size_t size, bool write, const Site& site,
                         std::string_view note) {
  const Allocation& a = table_[id];
  const char* base = static_cast<const char*>(a.base);
  const char* p = static_cast<const char*>(pointer);
  // Before any report: the access that finds the object freed conflicts with the free, or the order in which
  // it would have been valid is never explored (partial-order reduction).
  world_.touch(reinterpret_cast<const void*>(a.address), write);
  if (p < base || p + size > base + a.size) {
    report_bad_access(id, pointer, size, write, site, note, bug::kOutOfBounds);
    return false;
  }
  if (a.freed) {
    report_bad_access(id, pointer, size, write, site, note, bug::kUseAfterFree);
    return false;
  }
  if (world_.trace() != nullptr) {
    world_.record_address(write ? EventKind::Write : EventKind::Read, a.address + static_cast<std::uint64_t>(p - base),
                          size, site, a.type != nullptr ? a.type->name() : "");
  }
  return true;
}

void KernelMemory::report_bad_access(AllocId id, const void* pointer, std::size_t size, bool write, const Site& site,
                                     std::string_view note, std::string_view kind) {
  Report r;
  r.headline = std::string(kind) + " in " + site_function(site);
  fill_bad_access(r, id, pointer, size, write, kind);
  r.accessed_by = world_.task_site(world_.current_task(), site);
  if (!note.empty()) r.details.emplace_back(note);
  checked_report_ = CheckedReport{world_.current_task(), id, kind};
  world_.report(std::move(r));
}

void KernelMemory::report_bad_access_at(AllocId id, const void* pointer, std::size_t size, bool write,
                                        std::uintptr_t pc, std::string_view kind) {
  // A checked handle (KPtr, a core/ borrow) reports its access itself, then performs it with plain code, which
  // the instrumentation sees: that is the same bad access, reported once (KASAN reports one access once).
  if (checked_report_.task == world_.current_task() && checked_report_.id == id && checked_report_.kind == kind) {
    checked_report_ = {};
    return;
  }
  Report r;
  r.headline = std::string(kind) + " in " + innermost_frame(pc).function;
  fill_bad_access(r, id, pointer, size, write, kind);
  // No source site: the stack (captured from inside the instrumentation's callback, whose engine frames symbolize
  // drops) begins at the instrumented function.
  r.accessed_by = world_.task_site(world_.current_task(), std::nullopt);
  if (r.accessed_by->stack.empty()) r.accessed_by->stack = stack_of_return_address(pc);
  world_.report(std::move(r));
}

void KernelMemory::fill_bad_access(Report& r, AllocId id, const void* pointer, std::size_t size, bool write,
                                   std::string_view kind) const {
  const Allocation& a = table_[id];
  r.kind = std::string(kind);
  MemoryAccess acc;
  acc.write = write;
  acc.size = static_cast<std::uint32_t>(size);
  acc.object = a.address;
  acc.object_size = a.size;
  acc.offset = static_cast<std::uint32_t>(static_cast<const char*>(pointer) - static_cast<const char*>(a.base));
  acc.address = a.address + acc.offset;
  acc.type = type_name(a);
  r.access = acc;
  r.allocated_by = TaskSite{world_.task_label(a.alloc_task), a.alloc_site, a.alloc_step, a.alloc_stack};
  if (a.freed) r.freed_by = TaskSite{world_.task_label(a.free_task), a.free_site, a.free_step, a.free_stack};
  add_free_related(id, r);
}

void KernelMemory::on_access(const void* pointer, std::size_t size, unsigned flags, std::uintptr_t pc) noexcept {
  // LIFETIME: simulated objects' destructors run as the world ends (teardown); they are not the driver's
  // accesses.
  if (world_.tearing_down()) return;
  const shadow::View& v = shadow::t_view;
  const auto address = reinterpret_cast<std::uintptr_t>(pointer);
  const AllocId id = v.granules[(address - v.base) / shadow::kGranule];
  if (id == 0) return;  // alignment padding between objects: nobody's
  const bool write = (flags & kAccessWrite) != 0;
  try {
    // devsim's model of the kernel (core/, bus/) places its scheduling points at its operations, checks the
    // driver's use of its objects itself (with the driver's call site) and is trusted like the kernel's own
    // primitives: its plain accesses are neither checked, nor scheduling points, nor race-checked. The code under
    // test (drivers, models, a user's drivers) gets all three.
    // Their own memory is checked where a primitive starts working on its object (kAccessPrimitive, from
    // World::yield), named after the primitive; their other accesses only carry atomics' ordering.
    if ((flags & kAccessPrimitive) == 0 && is_kernel_model_code(pc)) {
      if ((flags & kAccessMarked) != 0 && world_.in_task() && !world_.stopping() && !table_[id].freed) {
        // Happens-before state changes with the order of these: a write for partial-order reduction.
        if ((flags & (kAccessRelease | kAccessAcquire)) != 0)
          world_.touch(reinterpret_cast<const void*>(table_[id].address), true);
        if ((flags & kAccessRelease) != 0) world_.races().release(world_.current_task(), pointer);
        if ((flags & kAccessAcquire) != 0) world_.races().acquire(world_.current_task(), pointer);
      }
      return;
    }
    const bool model = (flags & kAccessPrimitive) != 0;
    // A task running alone (World::alone) still takes ownership (its touches below are not recorded: World::touch):
    // another task's first access then makes the object shared, a scheduling point before it. An object set up
    // alone and first touched by a reader must not be the reader's own, or the point between its load of the
    // pointer and its use of the object is lost. Nothing is shared yet, so it makes no scheduling point.
    if (world_.in_task() && !world_.stopping()) {
      // Ownership: the first task to touch an object owns it; another task's access makes it shared for good.
      // The scheduling point comes before the access, so whatever another task does there (a kfree) is seen
      // by the checks below.
      Allocation& a = table_[id];
      const TaskId me = world_.current_task();
      // The ownership decides whether later accesses are scheduling points: its change is a write for
      // partial-order reduction (two first reads of one object do not commute).
      if (a.owner == kNoTask) {
        a.owner = me;
        world_.touch(reinterpret_cast<const void*>(a.address), true);
      } else if (a.owner != me && !a.shared) {
        a.shared = true;
        world_.touch(reinterpret_cast<const void*>(a.address), true);
      }
      if (a.shared && !model) {
        const std::uint64_t sim_address = a.address + static_cast<std::uint64_t>(static_cast<const char*>(pointer) -
                                                                                 static_cast<const char*>(a.base));
        world_.access_point(write, sim_address, static_cast<std::uint32_t>(size), (flags & kAccessNoPoint) == 0);
      }
    }
    // LIFETIME: the point may have run other tasks, which may have grown the table: look the record up again.
    const Allocation& a = table_[id];
    const char* base = static_cast<const char*>(a.base);
    const char* p = static_cast<const char*>(pointer);
    // Before any report: the access that finds the object freed conflicts with the free (partial-order
    // reduction must try the order in which it is valid).
    if (world_.in_task() && !world_.stopping()) world_.touch(reinterpret_cast<const void*>(a.address), write);
    if (p < base || p + size > base + a.size) {
      report_bad_access_at(id, pointer, size, write, pc, bug::kOutOfBounds);
      return;
    }
    if (a.freed) {
      report_bad_access_at(id, pointer, size, write, pc, bug::kUseAfterFree);
      return;
    }
    if (!world_.in_task() || world_.stopping()) return;  // set-up code is ordered before every task
    const TaskId me = world_.current_task();
    world_.note_shared_access(a.shared);
    if (world_.trace() != nullptr)
      world_.record_address(write ? EventKind::Write : EventKind::Read,
                            a.address + static_cast<std::uint64_t>(p - base), size, world_.current_site(),
                            a.type != nullptr ? a.type->name() : "");
    RaceDetector& races = world_.races();
    if ((flags & kAccessMarked) != 0) {
      if ((flags & kAccessRelease) != 0) races.release(me, pointer);
      if ((flags & kAccessAcquire) != 0) races.acquire(me, pointer);
      return;
    }
    // Alone, every later task is its child, ordered after this access: nothing to record (World::alone).
    if (v.no_race_depth != 0 || model || world_.alone()) return;
    auto conflict =
        races.access(me, address, size, write, pc, static_cast<RaceDetector::Cell*>(v.cells), v.base, v.generation);
    if (conflict) report_race(id, pointer, size, write, pc, conflict->other, conflict->address);
  } catch (...) {
    // Building a report can only fail for want of memory; the access itself is valid to perform either way.
  }
}

void KernelMemory::check_primitive(const void* object, const Site& site, std::uintptr_t pc) {
  if (world_.tearing_down() || !shadow::in_region(object) || shadow::t_view.memory != this) return;
  const shadow::View& v = shadow::t_view;
  const AllocId id = v.granules[(reinterpret_cast<std::uintptr_t>(object) - v.base) / shadow::kGranule];
  if (id == 0) return;
  // The check reads whether the object was freed: for partial-order reduction it conflicts with the free, or
  // the order in which the primitive runs first would never be tried.
  if (world_.in_task()) world_.touch(object, false);
  if (!table_[id].freed) return;
  Report r;
  r.headline = std::string(bug::kUseAfterFree) + " in " + site_function(site);
  fill_bad_access(r, id, object, 1, false, bug::kUseAfterFree);
  r.accessed_by = world_.task_site(world_.current_task(), site);
  const StackFrame primitive = innermost_frame(pc);
  r.details.push_back("the object is a primitive's, accessed by " + primitive.function + " (" + primitive.location +
                      ")");
  world_.report(std::move(r));
}

void KernelMemory::report_race(AllocId id, const void* pointer, std::size_t size, bool write, std::uintptr_t pc,
                               const RaceDetector::Access& other, std::uintptr_t other_address) {
  // One report per pair of sites per execution: a racing loop would repeat it at every iteration.
  for (const auto& [a, b] : reported_races_)
    if (a == pc && b == other.pc) return;
  reported_races_.emplace_back(pc, other.pc);
  const Allocation& a = table_[id];
  const std::string mine = innermost_frame(pc).function, theirs = innermost_frame(other.pc).function;
  Report r;
  r.kind = std::string(bug::kDataRace);
  // KCSAN's title names both functions in a fixed order, so the two orders of one race read the same.
  r.headline = "data-race in " + std::min(mine, theirs) + " / " + std::max(mine, theirs);
  MemoryAccess acc;
  acc.write = write;
  acc.size = static_cast<std::uint32_t>(size);
  acc.object = a.address;
  acc.object_size = a.size;
  acc.offset = static_cast<std::uint32_t>(static_cast<const char*>(pointer) - static_cast<const char*>(a.base));
  acc.address = a.address + acc.offset;
  acc.type = type_name(a);
  r.access = acc;
  r.accessed_by = world_.task_site(world_.current_task(), std::nullopt);
  if (r.accessed_by->stack.empty()) r.accessed_by->stack = stack_of_return_address(pc);
  MemoryAccess them = acc;
  them.write = other.write;
  them.size = static_cast<std::uint32_t>(__builtin_popcount(other.mask));
  them.offset = static_cast<std::uint32_t>(other_address - reinterpret_cast<std::uintptr_t>(a.base));
  them.address = a.address + them.offset;
  r.racing_access = them;
  // Only the earlier access's own return address was kept (its stack is gone): one frame.
  r.racing_by = TaskSite{world_.task_label(other.task), std::nullopt, 0, stack_of_return_address(other.pc)};
  r.allocated_by = TaskSite{world_.task_label(a.alloc_task), a.alloc_site, a.alloc_step, a.alloc_stack};
  r.details.push_back(
      "no happens-before between the two accesses (no common lock, no release/acquire, no "
      "completion, wake-up, spawn or grace period ordering them)");
  // KCSAN prints and goes on: the execution continues, so the bug it leads to (if any) is found too.
  r.fatal = false;
  world_.report(std::move(r));
}

void KernelMemory::push_free_context(const StackSection* section) {
  free_contexts_.emplace_back(world_.current_task(), section);
}

void KernelMemory::pop_free_context() {
  const TaskId me = world_.current_task();
  for (auto it = free_contexts_.rbegin(); it != free_contexts_.rend(); ++it) {
    if (it->first == me) {
      free_contexts_.erase(std::next(it).base());
      return;
    }
  }
}

void KernelMemory::note_free_context(AllocId id) {
  const TaskId me = world_.current_task();
  for (auto it = free_contexts_.rbegin(); it != free_contexts_.rend(); ++it) {
    if (it->first == me) {
      free_related_.emplace_back(id, *it->second);
      return;
    }
  }
}

void KernelMemory::add_free_related(AllocId id, Report& r) const {
  for (const auto& [freed, section] : free_related_)
    if (freed == id) r.related.push_back(section);
}

FreeContextScope::FreeContextScope(const StackSection* section) {
  if (World* w = World::current(); w != nullptr && !w->tearing_down()) {
    memory_ = &w->memory();
    memory_->push_free_context(section);
  }
}

FreeContextScope::~FreeContextScope() {
  if (memory_ != nullptr) memory_->pop_free_context();
}

void KernelMemory::report_leaks() {
  // Most executions free everything: they need no scan, nor its tables.
  if (std::none_of(table_.begin() + 1, table_.end(), [](const Allocation& a) { return !a.freed; })) return;
  const std::vector<bool> unreferenced = kmemleak_unreferenced(*this, world_);  // sim/kmemleak.cpp
  for (std::size_t i = 1; i < table_.size(); ++i) {
    const Allocation& a = table_[i];
    if (!unreferenced[i]) continue;
    Report r;
    r.kind = bug::kLeak;
    r.fatal = false;
    r.headline = "memory leak: unreferenced object 0x" + hex(a.address) + " (size " + std::to_string(a.size) + ")";
    MemoryAccess acc;
    acc.address = acc.object = a.address;
    acc.object_size = acc.size = a.size;
    acc.type = type_name(a);
    r.access = acc;
    r.allocated_by = TaskSite{world_.task_label(a.alloc_task), a.alloc_site, a.alloc_step, a.alloc_stack};
    world_.report(std::move(r));
  }
}

}  // namespace devsim::sim
