#include "cabi/module.hpp"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "bus/errno.hpp"
#include "bus/host_lock.hpp"
#include "cabi/state.hpp"
#include "sim/host_watch.hpp"
#include "sim/sanitizers.hpp"
#include "sim/stacktrace.hpp"

#include "cabi/c_headers.hpp"

namespace devsim::cabi {

namespace {

// Copies `n` bytes of a module's writable segment. In an ASan build whose modules ASan instruments
// (-DDEVSIM_INSTRUMENT=OFF), the segment holds the redzones ASan puts around each global, poisoned: a memcpy of the
// whole segment would be ASan's global-buffer-overflow report against devsim's own loader, not the driver. So the
// copy is not ASan's to check there: a byte loop with ASan off in this function, volatile so that the compiler does
// not turn it back into a memcpy call (which ASan intercepts). The redzones' shadow is left as it is.
#if defined(DEVSIM_ASAN)
__attribute__((no_sanitize_address)) void copy_segment(char* to, const char* from, std::size_t n) {
  volatile char* d = to;
  const volatile char* f = from;
  for (std::size_t i = 0; i < n; ++i)
    d[i] = f[i];
}
#else
void copy_segment(char* to, const char* from, std::size_t n) {
  std::memcpy(to, from, n);
}
#endif

// One loaded copy of a module's shared object, private to the OS thread that loaded it.
struct ModuleCopy {
  int (*init)() = nullptr;
  void (*exit)() = nullptr;
  struct module* self = nullptr;
  struct Segment {
    char* at;
    std::vector<char> image;  // the load-time contents (after relocation)
  };
  std::vector<Segment> writable;

  // Puts every writable segment back as it was after the load: the pristine .data and .bss.
  void restore() const {
    for (const Segment& s : writable)
      copy_segment(s.at, s.image.data(), s.image.size());
  }
};

struct PhdrSearch {
  ElfW(Addr) base;
  std::vector<std::pair<char*, std::size_t>> writable;
  std::vector<std::pair<const char*, std::size_t>> loaded;
  bool found = false;
};

int on_phdr(dl_phdr_info* info, std::size_t, void* data) {
  auto* s = static_cast<PhdrSearch*>(data);
  if (info->dlpi_addr != s->base) return 0;
  s->found = true;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    char* at = reinterpret_cast<char*>(info->dlpi_addr + ph.p_vaddr);
    s->loaded.emplace_back(at, ph.p_memsz);
    if ((ph.p_flags & PF_W) != 0) s->writable.emplace_back(at, ph.p_memsz);
  }
  return 1;
}

[[noreturn]] void fail(const CModuleSpec& spec, const std::string& why) {
  throw std::runtime_error("devsim: cannot load C module " + spec.name + " (" + spec.path + "): " + why);
}

// Loads a private copy: the file's bytes in a memfd, dlopen'ed through /proc/self/fd, so the dynamic loader maps
// it again rather than returning the copy another thread already has (it recognises a file by device and inode).
ModuleCopy load_copy(const CModuleSpec& spec) {
  std::ifstream in(spec.path, std::ios::binary);
  if (!in) fail(spec, "cannot read the file");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const int fd = memfd_create(spec.name.c_str(), MFD_CLOEXEC);
  if (fd < 0) fail(spec, "memfd_create failed");
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) fail(spec, "writing the memfd failed");
    done += static_cast<std::size_t>(n);
  }
  // LIFETIME: the descriptor stays open for the process's lifetime: the symboliser reads the module's debug
  // information through the same /proc/self/fd path the loader recorded. The copy is never unloaded either.
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  // RTLD_NOW: every relocation is done before the image is taken; RTLD_LOCAL: the copy's symbols stay its own.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) fail(spec, dlerror());
  link_map* lm = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || lm == nullptr) fail(spec, "dlinfo failed");
  PhdrSearch search{lm->l_addr, {}, {}, false};
  dl_iterate_phdr(&on_phdr, &search);
  if (!search.found) fail(spec, "its program headers were not found");
  // A symbol counts only if it is the module's own (not one the lookup found in a library the module uses).
  auto own = [&](const char* name) -> void* {
    void* p = dlsym(handle, name);
    for (const auto& [at, size] : search.loaded)
      if (p != nullptr && static_cast<const char*>(p) >= at && static_cast<const char*>(p) < at + size) return p;
    return nullptr;
  };
  ModuleCopy c;
  c.init = reinterpret_cast<int (*)()>(own("init_module"));
  c.exit = reinterpret_cast<void (*)()>(own("cleanup_module"));
  c.self = static_cast<struct module*>(own("__this_module"));
  if (c.self == nullptr) fail(spec, "it defines no __this_module (build it with devsim_add_c_driver)");
  for (const auto& [at, size] : search.writable) {
    std::vector<char> image(size);
    copy_segment(image.data(), at, size);
    c.writable.push_back({at, std::move(image)});
    // The module's globals: exploration footprints and the race detector must see the tasks that share them.
    sim::host_watch::watch(at, size, "module " + spec.name);
  }
  sim::stacktrace_code_loaded();
  return c;
}

// The copy a module load or unload uses. In the simulator: one per OS thread (each fuzz job is a thread and has its
// own worlds), by module name. Natively: one per process, shared by the threads of its one native machine, as the
// kernel has one copy of a loaded module.
// LIFETIME: never unloaded (see load_copy): reports may name their code and sites after the thread ended.
ModuleCopy& copy_for(const CModuleSpec& spec) {
  if (sim::World::current() != nullptr) {
    thread_local std::map<std::string, ModuleCopy> copies;
    auto it = copies.find(spec.name);
    if (it == copies.end()) it = copies.emplace(spec.name, load_copy(spec)).first;
    return it->second;
  }
  static std::mutex mutex;
  static auto* shared = new std::map<std::string, ModuleCopy>;  // never destroyed: late threads may still use it
  std::lock_guard lock(mutex);
  auto it = shared->find(spec.name);
  if (it == shared->end()) it = shared->emplace(spec.name, load_copy(spec)).first;
  return it->second;
}

// kernel/module/main.c takes module_mutex to add a module to the list (add_unformed_module), to mark it live after
// its init (do_init_module) and, in delete_module, to look it up before its exit and to unlink it after
// (free_module): a module's exit happens before the next load of it, and that load's init before its next exit.
// The race detector gets those edges here (the module list itself is host state the scheduler orders).
// Natively the module table is under the HostGuard and the race detector is TSan.
void module_mutex_sync(CApiState& st) {
  if (sim::World* w = sim::World::current()) w->races().sync(w->current_task(), &st.modules);
}

}  // namespace

std::string module_check(const CModuleSpec& spec) {
  static std::mutex mutex;
  static auto* answers = new std::map<std::string, std::string>;  // never destroyed: jobs may ask late
  std::lock_guard lock(mutex);
  if (auto it = answers->find(spec.path); it != answers->end()) return it->second;
  std::string why;
  // RTLD_NOW: every symbol is resolved now, as load_copy's copies are; this handle is closed at once (the copies
  // are separate images, loaded from memfds).
  if (void* handle = dlopen(spec.path.c_str(), RTLD_NOW | RTLD_LOCAL); handle != nullptr) {
    dlclose(handle);
  } else {
    const char* e = dlerror();
    why = e != nullptr ? e : "dlopen failed";
  }
  return answers->emplace(spec.path, std::move(why)).first->second;
}

// The table steps below are each under the HostGuard natively (module_mutex's sections); init and exit run outside.
int module_load(const CModuleSpec& spec) {
  if (sim::World* w = sim::World::current()) w->yield(sim::EventKind::Sync, nullptr);
  ModuleCopy& c = copy_for(spec);
  CApiState& st = state();
  {
    bus::HostGuard guard;
    module_mutex_sync(st);
    if (st.modules.count(c.self) != 0) return -bus::kEEXIST;
    // A fresh module: its globals as the file has them (what the kernel's load_module copies in anew).
    // INVARIANT: not loaded, so none of its code runs (natively: the previous machine's iterations ended).
    c.restore();
    st.modules[c.self] = LoadedModule{&spec, LoadedModule::State::Coming, 0};
  }
  const int r = c.init != nullptr ? c.init() : 0;
  bus::HostGuard guard;
  module_mutex_sync(st);
  auto it = st.modules.find(c.self);
  if (r != 0) {
    // do_init_module: a failed init frees the module (under module_mutex); its exit is never called.
    if (it != st.modules.end()) st.modules.erase(it);
    return r;
  }
  if (it != st.modules.end()) it->second.state = LoadedModule::State::Live;
  return 0;
}

int module_unload(const CModuleSpec& spec) {
  if (sim::World* w = sim::World::current()) w->yield(sim::EventKind::Sync, nullptr);
  ModuleCopy& c = copy_for(spec);
  CApiState& st = state();
  {
    bus::HostGuard guard;
    module_mutex_sync(st);
    auto it = st.modules.find(c.self);
    if (it == st.modules.end()) return -bus::kENOENT;
    if (it->second.state != LoadedModule::State::Live || c.exit == nullptr) return -bus::kEBUSY;
    if (it->second.refs > 0) return -bus::kEAGAIN;
    it->second.state = LoadedModule::State::Going;  // try_module_get fails from now on
  }
  c.exit();
  bus::HostGuard guard;
  module_mutex_sync(st);
  st.modules.erase(c.self);
  return 0;
}

drivers::DriverInfo c_module_info(const CModuleSpec& spec) {
  auto kept = std::make_shared<const CModuleSpec>(spec);
  drivers::DriverInfo d;
  d.name = spec.name;
  // A module binds no device itself; one that registers a platform driver names its bus, so scenarios and the
  // fuzzer give it a device (its modalias: the module's name) and raise its interrupt lines.
  d.bus = spec.bus;
  d.irqs = spec.irqs;
  d.summary = spec.summary;
  d.buggy = spec.buggy;
  d.bug_kind = spec.bug_kind;
  d.node = spec.node;
  d.modalias = spec.modalias;
  d.device_script = spec.device_script;
  d.module_load = [kept] { return module_load(*kept); };
  d.module_unload = [kept] { return module_unload(*kept); };
  d.module_check = [kept] { return module_check(*kept); };
  return d;
}

}  // namespace devsim::cabi
