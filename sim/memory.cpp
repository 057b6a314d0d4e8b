#include "sim/memory.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <unordered_map>

#include "sim/kmemleak.hpp"
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
  World& w = *World::current();
  Report r;
  r.kind = "null-ptr-deref";
  r.headline = "null-ptr-deref in " + site_function(site);
  r.accessed_by = w.task_site(w.current_task(), site);
  w.report(std::move(r));
  w.oops();
}

KernelMemory::KernelMemory(World& world)
    : world_(world), arena_(initial_, sizeof initial_), next_address_(kFirstAddress) {
  table_.emplace_back();  // id 0: null
}

KernelMemory::~KernelMemory() {
  destroy_all();
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
  void* base = arena_.allocate(size == 0 ? 1 : size, std::max<std::size_t>(align, alignof(std::max_align_t)));
  std::memset(base, zero ? 0 : 0xbe, size);
  Allocation a;
  a.base = base;
  a.address = next_address_;
  next_address_ += round_up(size == 0 ? 1 : size, kRedzone) + kRedzone;
  a.size = static_cast<std::uint32_t>(size);
  a.type = type;
  a.destroy = destroy;
  a.alloc_task = world_.current_task();
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
  world_.touch(reinterpret_cast<const void*>(a.address), true);
  if (world_.trace() != nullptr)
    world_.record_address(EventKind::Free, a.address, a.size, site, a.type != nullptr ? a.type->name() : "");
}

AllocId KernelMemory::find(const void* pointer) const {
  if (pointer == nullptr) return 0;
  // Newest first: the object a pointer belongs to is usually one allocated moments ago.
  for (std::size_t i = table_.size(); i-- > 1;) {
    const Allocation& a = table_[i];
    const char* base = static_cast<const char*>(a.base);
    const char* p = static_cast<const char*>(pointer);
    if (p >= base && p < base + std::max<std::uint32_t>(a.size, 1)) return static_cast<AllocId>(i);
  }
  return 0;
}

void KernelMemory::free_raw(const void* pointer, const Site& site) {
  if (pointer == nullptr) return;
  AllocId id = find(pointer);
  free(id == 0 ? ~AllocId{0} : id, pointer, site);
}

bool KernelMemory::check(AllocId id, const void* pointer, std::size_t size, bool write, const Site& site) {
  const Allocation& a = table_[id];
  const char* base = static_cast<const char*>(a.base);
  const char* p = static_cast<const char*>(pointer);
  if (p < base || p + size > base + a.size) {
    report_bad_access(id, pointer, size, write, site, bug::kOutOfBounds);
    return false;
  }
  if (a.freed) {
    report_bad_access(id, pointer, size, write, site, bug::kUseAfterFree);
    return false;
  }
  world_.touch(reinterpret_cast<const void*>(a.address), write);
  if (world_.trace() != nullptr) {
    world_.record_address(write ? EventKind::Write : EventKind::Read, a.address + static_cast<std::uint64_t>(p - base),
                          size, site, a.type != nullptr ? a.type->name() : "");
  }
  return true;
}

void KernelMemory::report_bad_access(AllocId id, const void* pointer, std::size_t size, bool write, const Site& site,
                                     std::string_view kind) {
  const Allocation& a = table_[id];
  Report r;
  r.kind = std::string(kind);
  r.headline = std::string(kind) + " in " + site_function(site);
  MemoryAccess acc;
  acc.write = write;
  acc.size = static_cast<std::uint32_t>(size);
  acc.object = a.address;
  acc.object_size = a.size;
  acc.offset = static_cast<std::uint32_t>(static_cast<const char*>(pointer) - static_cast<const char*>(a.base));
  acc.address = a.address + acc.offset;
  acc.type = type_name(a);
  r.access = acc;
  r.accessed_by = world_.task_site(world_.current_task(), site);
  r.allocated_by = TaskSite{world_.task_label(a.alloc_task), a.alloc_site, a.alloc_step, a.alloc_stack};
  if (a.freed) r.freed_by = TaskSite{world_.task_label(a.free_task), a.free_site, a.free_step, a.free_stack};
  add_free_related(id, r);
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
