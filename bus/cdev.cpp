#include "bus/cdev.hpp"

#include <map>
#include <utility>

#include "bus/errno.hpp"
#include "bus/host_lock.hpp"
#include "bus/kernel.hpp"
#include "core/mutex.hpp"
#include "sim/machine.hpp"

namespace devsim::bus {

namespace {
// A system call's scheduling point in the simulator; natively the call just goes on.
void sched_point(sim::EventKind kind, const void* object, const Site& site) {
  if (sim::World* w = sim::World::current()) w->yield(kind, object, site);
}

// The VFS's own objects (a file, a cdev_alloc'd cdev, a ures group) in kernel memory: simulated memory, or natively
// the quarantining heap (id 0), whose free poisons the block.
template <class T>
T* allocate_object(sim::AllocId* id, const Site& site) {
  sim::World* w = sim::World::current();
  if (w == nullptr) {
    *id = 0;
    return new (sim::native::kmalloc(sizeof(T), alignof(T), true, site)) T();
  }
  sim::KernelMemory& mem = w->memory();
  *id = mem.allocate(
      sizeof(T), alignof(T), true, &typeid(T), [](void* p) { static_cast<T*>(p)->~T(); }, site);
  return new (mem.record(*id).base) T();
}

// Natively the object's host members (a name, a release callback) are destroyed first: the block is never reused or
// destroyed later, and is poisoned, so a stale access is still ASan's report. The caller reads nothing of it after.
template <class T>
void free_object(sim::AllocId id, T* object, const Site& site) {
  if (sim::World* w = sim::World::current()) {
    w->memory().free(id, object, site);
  } else {
    object->~T();
    sim::native::kfree(object, site);
  }
}

// A checked access to a VFS object (natively a plain one: ASan checks it).
bool check_object(sim::AllocId id, const void* object, std::size_t size, bool write, const Site& site) {
  sim::World* w = sim::World::current();
  return w == nullptr || w->memory().check(id, object, size, write, site);
}
}  // namespace

// The friend through which the VFS functions reach cdev and file internals.
class CdevCore {
 public:
  static void init(Cdev& c, const FileOperations* fops, [[maybe_unused]] const Site& site) {
    c.embedded_.attach(&c);
    c.ops_ = fops;
    c.kobj_.init();
  }
  static void get(Cdev& c, const Site& site) {
    c.embedded_.touch(&c.kobj_, sizeof c.kobj_, true, site);
    c.kobj_.get(site);
  }
  static void put(Cdev& c, const Site& site) {
    if (!c.embedded_.touch(&c.kobj_, sizeof c.kobj_, true, site)) return;  // reported; no second release
    c.kobj_.put(
        [&c, &site] {
          // cdev_default_release / cdev_dynamic_release: the parent reference goes, and a cdev_alloc'd cdev.
          Device* parent = c.parent_;
          std::function<void()> hook = std::move(c.on_release);
          UresGroup* group = c.group_;
          bool dynamic = c.dynamic_;
          sim::AllocId self = c.self_alloc_;
          // LIFETIME: the hook may free the memory the cdev is embedded in: nothing reads `c` after it.
          if (hook) hook();
          if (dynamic) free_object(self, &c, site);
          if (group != nullptr) group->put(site);
          if (parent != nullptr) put_device(parent, site);
        },
        site);
  }
  // The gate of a drained cdev: false (and *error set) once disconnected.
  static bool enter(File& f, long* error, const Site& site) {
    if (!f.drained_) return true;
    Cdev& c = *f.cdev_;
    c.embedded_.touch(&c.drain_, sizeof c.drain_, true, site);
    HostGuard guard;
    if (c.drain_.disconnected) {
      *error = c.drain_.error;
      return false;
    }
    ++c.drain_.in_flight;
    return true;
  }
  static void leave(File& f, const Site& site) {
    if (!f.drained_) return;
    Cdev& c = *f.cdev_;
    c.embedded_.touch(&c.drain_, sizeof c.drain_, true, site);
    HostGuard guard;
    if (--c.drain_.in_flight == 0 && c.drain_.disconnected) {
      if (sim::World* w = sim::World::current())
        w->wake_all(&c.drain_, site);
      else
        HostGuard::notify_all();
    }
  }
  static bool check_file(File* f, const Site& site) { return check_object(f->alloc_, f, sizeof(File), false, site); }
  static void fput(File* f, const Site& site);
  // LIFETIME: the group outlives the cdev's files: each open takes a group reference, each release drops it.
  static void set_group(Cdev& c, UresGroup* group, const Site& site) {
    // LIFETIME: the cdev holds a group reference until its own release, so an open that found the cdev can
    // always take one more, however the removal interleaves.
    group->get(site);
    c.group_ = group;
  }
  static void mapping_get(File& f, const Site& site) {
    f.count_.inc(site);
    ++f.mappings_;
  }
  // Undoes one mapping_get: false (and nothing dropped) when the file has no mapping left.
  static bool mapping_put(File& f) {
    if (f.mappings_ == 0) return false;
    --f.mappings_;
    return true;
  }
  static OpenResult open(const std::string& name, unsigned flags, const Site& site);
  static int misc_open(Cdev& c, File& f);
};

void* Cdev::owner_data(const Site& site) const {
  embedded_.touch(&owner, sizeof owner, false, site);
  return owner;
}

void cdev_init(Cdev& cdev, const FileOperations* fops, const Site& site) {
  CdevCore::init(cdev, fops, site);
}

Cdev* cdev_alloc(const FileOperations* fops, const Site& site) {
  sim::AllocId id = 0;
  Cdev* c = allocate_object<Cdev>(&id, site);
  cdev_init(*c, fops, site);
  c->dynamic_ = true;
  c->self_alloc_ = id;
  return c;
}

int cdev_add(Cdev& cdev, std::string name, Device* parent, const Site& site) {
  Kernel& k = kernel();
  if (k.find_devnode(name) != nullptr) return -kEEXIST;
  sched_point(sim::EventKind::Write, &cdev, site);
  cdev.name_ = name;
  cdev.parent_ = parent != nullptr ? get_device(parent, site) : nullptr;
  {
    HostGuard guard;
    // Taken since the look above (natively, or by a task the scheduling point let run): kobj_map refuses it too.
    bool taken = k.devnodes().count(name) != 0;
    if (!taken) {
      cdev.added_ = true;
      k.devnodes()[std::move(name)] = &cdev;
    }
    guard.unlock();
    if (taken) {
      if (Device* p = std::exchange(cdev.parent_, nullptr)) put_device(p, site);
      return -kEEXIST;
    }
  }
  // Happens-before (race detector): whatever the driver set up before cdev_add() is ordered before an open that
  // finds the node (fs/char_dev.c: kobj_map() and chrdev_open()'s kobj_lookup() take the same map lock). Natively
  // the HostGuard's mutex gives the same edge.
  if (sim::World* w = sim::World::current()) w->races().release(w->current_task(), &k.devnodes());
  return 0;
}

void cdev_del(Cdev& cdev, const Site& site) {
  sched_point(sim::EventKind::Write, &cdev, site);
  Kernel& k = kernel();
  if (cdev.added_) {
    core::SpinLockGuard guard = k.cdev_lock().guard(site);
    HostGuard host;
    if (auto it = k.devnodes().find(cdev.name_); it != k.devnodes().end() && it->second == &cdev)
      k.devnodes().erase(it);
    cdev.added_ = false;
  }
  CdevCore::put(cdev, site);  // the owner's reference; open files keep theirs
}

void cdev_enable_drain(Cdev& cdev, int error, const Site& site) {
  static_cast<void>(site);
  cdev.drain_.enabled = true;
  cdev.drain_.error = error < 0 ? error : -error;
}

void cdev_disconnect(Cdev& cdev, const Site& site) {
  sched_point(sim::EventKind::Write, &cdev.drain_, site);
  HostGuard guard;
  cdev.drain_.disconnected = true;
}

void cdev_drain(Cdev& cdev, const Site& site) {
  sched_point(sim::EventKind::Sync, &cdev.drain_, site);
  HostGuard guard;
  if (sim::World* w = sim::World::current()) {
    while (cdev.drain_.in_flight > 0)
      w->block(&cdev.drain_, "cdev_drain(" + cdev.name_ + ")", site);
  } else {
    guard.wait([&cdev] { return cdev.drain_.in_flight == 0; });
  }
}

// ---- misc devices (drivers/char/misc.c) ---------------------------------------------------------------------

namespace {
// The misc core's state, per world: misc_mtx and the registered devices, by the node's cdev.
struct MiscState {
  core::Mutex misc_mtx{"misc_mtx"};
  std::map<const Cdev*, MiscDevice*> registered;
};
MiscState& misc_state() {
  return sim::machine_state<MiscState>();
}
}  // namespace

// misc_open(): what every misc node's open runs (the misc major's fops).
int CdevCore::misc_open(Cdev& c, File& f) {
  const Site site = Site::current();
  MiscState& ms = misc_state();
  core::MutexGuard guard = ms.misc_mtx.guard(site);
  auto it = ms.registered.find(&c);
  if (it == ms.registered.end()) return -kENODEV;  // deregistered since the node was looked up
  // LIFETIME: registered, and misc_mtx held: the driver frees the MiscDevice only after misc_deregister(),
  // which waits for misc_mtx.
  MiscDevice* misc = it->second;
  sim::World* w = sim::World::current();
  const sim::AllocId misc_alloc = w != nullptr ? w->memory().find(misc) : 0;
  if (misc_alloc != 0) w->memory().check(misc_alloc, &misc->fops, sizeof misc->fops, false, site);
  // file->private_data = c; replace_fops(file, new_fops); then the driver's open, still under misc_mtx.
  f.private_ = misc;
  f.private_alloc_ = misc_alloc;
  f.f_op_ = misc->fops;
  if (f.f_op_ == nullptr || f.f_op_->open == nullptr) return 0;
  return f.f_op_->open(c, f);
}

int misc_register(MiscDevice& misc, const Site& site) {
  static const FileOperations kMiscFops = [] {
    FileOperations ops;
    ops.open = &CdevCore::misc_open;
    return ops;
  }();
  MiscState& ms = misc_state();
  core::MutexGuard guard = ms.misc_mtx.guard(site);
  Cdev* c = cdev_alloc(&kMiscFops, site);
  int r = cdev_add(*c, misc.name, nullptr, site);  // the node holds no reference to the parent
  if (r != 0) {
    CdevCore::put(*c, site);
    return r;
  }
  // device_create(&misc_class, misc->parent, ...): the class device holds its parent until device_destroy().
  get_device(misc.parent, site);
  ms.registered[c] = &misc;
  misc.cdev = c;
  return 0;
}

void misc_deregister(MiscDevice& misc, const Site& site) {
  if (misc.cdev == nullptr) return;
  MiscState& ms = misc_state();
  core::MutexGuard guard = ms.misc_mtx.guard(site);
  Cdev* c = std::exchange(misc.cdev, nullptr);
  ms.registered.erase(c);
  cdev_del(*c, site);             // no new opens; open files keep the node's cdev (misc core memory), nothing else
  put_device(misc.parent, site);  // device_destroy(): device_del drops the parent
}

// ---- ures groups -------------------------------------------------------------------------------------------

UresGroup* UresGroup::create(std::function<void()> release, const Site& site) {
  sim::AllocId id = 0;
  UresGroup* g = allocate_object<UresGroup>(&id, site);
  g->alloc_ = id;
  g->release_ = std::move(release);
  return g;
}

void UresGroup::get(const Site& site) {
  check_object(alloc_, this, sizeof(UresGroup), true, site);
  kref_.get(site);
}

void UresGroup::put(const Site& site) {
  if (!check_object(alloc_, this, sizeof(UresGroup), true, site)) return;
  kref_.put(
      [this, &site] {
        if (release_) release_();
        free_object(alloc_, this, site);
      },
      site);
}

void cdev_set_group(Cdev& cdev, UresGroup* group, const Site& site) {
  CdevCore::set_group(cdev, group, site);
}

// ---- the VFS -----------------------------------------------------------------------------------------------

OpenResult CdevCore::open(const std::string& name, unsigned flags, const Site& site) {
  sched_point(sim::EventKind::Sync, nullptr, site);
  Cdev* c = nullptr;
  {
    // chrdev_open: look the node up and take the file's cdev reference under cdev_lock (cdev_get is a
    // kobject_get_unless_zero: a cdev on its way out counts as gone).
    core::SpinLockGuard guard = kernel().cdev_lock().guard(site);
    c = kernel().find_devnode(name);
    if (c == nullptr) return {nullptr, -kENOENT};
    if (sim::World* w = sim::World::current())
      w->races().acquire(w->current_task(), &kernel().devnodes());  // cdev_add()'s release
    c->embedded_.touch(&c->kobj_, sizeof c->kobj_, true, site);
    if (!c->kobj_.get_unless_zero(site)) return {nullptr, -kENXIO};
  }
  sim::AllocId id = 0;
  File* f = allocate_object<File>(&id, site);
  f->alloc_ = id;
  f->cdev_ = c;
  f->f_op_ = c->ops_;
  f->f_flags_ = flags;
  f->drained_ = c->drain_.enabled;
  if (c->group_ != nullptr) {
    f->group_ = c->group_;
    f->group_->get(site);
  }
  long error = 0;
  if (!enter(*f, &error, site)) {
    f->f_op_ = nullptr;  // the driver never saw this open: no release either
    fput(f, site);
    return {nullptr, static_cast<int>(error)};
  }
  int r = f->f_op_ != nullptr && f->f_op_->open != nullptr ? f->f_op_->open(*c, *f) : 0;
  leave(*f, site);
  if (r != 0) {
    // A failed open never calls release: drop what open took without it.
    f->f_op_ = nullptr;
    fput(f, site);
    return {nullptr, r};
  }
  return {f, 0};
}

void CdevCore::fput(File* f, const Site& site) {
  if (!check_file(f, site)) return;
  if (!f->count_.dec_and_test(site)) return;
  // __fput: release always runs, however long after the driver unbound (BRIEF §2.2).
  if (f->f_op_ != nullptr && f->f_op_->release != nullptr) f->f_op_->release(*f->cdev_, *f);
  UresGroup* group = f->group_;
  Cdev* c = f->cdev_;
  free_object(f->alloc_, f, site);
  put(*c, site);
  if (group != nullptr) group->put(site);
}

OpenResult vfs_open(const std::string& name, const Site& site) {
  return CdevCore::open(name, 0, site);
}

OpenResult vfs_open(const std::string& name, unsigned flags, const Site& site) {
  return CdevCore::open(name, flags, site);
}

namespace {
template <class Call>
long file_call(File* file, long default_result, long disconnected_default, Call&& call, const Site& site) {
  sched_point(sim::EventKind::Sync, file, site);
  if (!CdevCore::check_file(file, site)) return -kEBADF;
  long error = 0;
  if (!CdevCore::enter(*file, &error, site)) return disconnected_default != 0 ? disconnected_default : error;
  long r = call(default_result);
  CdevCore::leave(*file, site);
  return r;
}
}  // namespace

long vfs_read(File* file, std::size_t count, const Site& site) {
  return file_call(
      file, -kEINVAL, 0,
      [&](long dflt) { return file->f_op()->read != nullptr ? file->f_op()->read(*file, count) : dflt; }, site);
}

long vfs_write(File* file, std::size_t count, const Site& site) {
  return file_call(
      file, -kEINVAL, 0,
      [&](long dflt) { return file->f_op()->write != nullptr ? file->f_op()->write(*file, count) : dflt; }, site);
}

namespace {
// The bytes of each task's write() or ioctl() in progress, and what its last call copied out (per world).
struct UserWrites {
  // Keyed by the task: no task reads another's entries (sim::World::extension).
  static constexpr bool kFootprintExempt = true;
  std::map<sim::TaskId, std::string_view> data;
  std::map<sim::TaskId, std::string> copied_out;
};

// Natively each thread is one task: its own call's bytes, kept by the thread.
struct NativeUserBytes {
  std::optional<std::string_view> data;
  std::optional<std::string> copied_out;
};
thread_local NativeUserBytes t_native_user_bytes;

// Gives the current task's call `data` as its user bytes until the scope ends.
// LIFETIME: `data` outlives the call (the scenario's operation); the entry goes when the call returns.
class UserBytesScope {
 public:
  explicit UserBytesScope(std::string_view data) : world_(sim::World::current()) {
    if (world_ == nullptr)
      t_native_user_bytes.data = data;
    else
      world_->extension<UserWrites>().data[world_->current_task()] = data;
  }
  ~UserBytesScope() {
    if (world_ == nullptr)
      t_native_user_bytes.data.reset();
    else
      world_->extension<UserWrites>().data.erase(world_->current_task());
  }
  UserBytesScope(const UserBytesScope&) = delete;
  UserBytesScope& operator=(const UserBytesScope&) = delete;

 private:
  sim::World* world_;
};
}  // namespace

long vfs_write(File* file, std::string_view data, const Site& site) {
  UserBytesScope scope(data);
  return vfs_write(file, data.size(), site);
}

long vfs_ioctl(File* file, unsigned cmd, std::string_view data, const Site& site) {
  UserBytesScope scope(data);
  return vfs_ioctl(file, cmd, 0, site);
}

std::optional<std::string> take_user_copied_out() {
  sim::World* w = sim::World::current();
  if (w == nullptr) return std::exchange(t_native_user_bytes.copied_out, std::nullopt);
  auto& out = w->extension<UserWrites>().copied_out;
  auto it = out.find(w->current_task());
  if (it == out.end()) return std::nullopt;
  std::string bytes = std::move(it->second);
  out.erase(it);
  return bytes;
}

void note_user_copied_out(std::string_view bytes) {
  sim::World* w = sim::World::current();
  if (w == nullptr)
    t_native_user_bytes.copied_out = std::string(bytes);
  else
    w->extension<UserWrites>().copied_out[w->current_task()] = std::string(bytes);
}

std::string_view user_write_data() {
  sim::World* w = sim::World::current();
  if (w == nullptr) return t_native_user_bytes.data.value_or(std::string_view());
  auto& writes = w->extension<UserWrites>().data;
  auto it = writes.find(w->current_task());
  return it == writes.end() ? std::string_view() : it->second;
}

long vfs_ioctl(File* file, unsigned cmd, unsigned long arg, const Site& site) {
  return file_call(
      file, -kENOTTY, 0,
      [&](long dflt) { return file->f_op()->ioctl != nullptr ? file->f_op()->ioctl(*file, cmd, arg) : dflt; }, site);
}

unsigned vfs_poll(File* file, const Site& site) {
  long r = file_call(
      file, kPollIn | kPollOut, kPollHup | kPollErr,
      [&](long dflt) { return file->f_op()->poll != nullptr ? static_cast<long>(file->f_op()->poll(*file)) : dflt; },
      site);
  return r < 0 ? kPollErr : static_cast<unsigned>(r);
}

int vfs_mmap(File* file, const Site& site) {
  long r = file_call(
      file, -kENODEV, 0,
      [&](long dflt) { return file->f_op()->mmap != nullptr ? static_cast<long>(file->f_op()->mmap(*file)) : dflt; },
      site);
  if (r == 0) CdevCore::mapping_get(*file, site);  // the mapping's reference
  return static_cast<int>(r);
}

int vfs_munmap(File* file, const Site& site) {
  sched_point(sim::EventKind::Sync, file, site);
  if (!CdevCore::check_file(file, site)) return -kEBADF;
  // munmap of something that is not mapped: the kernel finds no VMA and unmaps nothing, so no file reference
  // goes. The error is -EINVAL: what a program that never mapped passes is MAP_FAILED, which is not page
  // aligned (mm/mmap.c do_munmap, mm/vma.c do_vmi_munmap: offset_in_page(start) -> -EINVAL); without an MMU
  // the missing VMA itself is -EINVAL (mm/nommu.c do_munmap). Not modelled: an MMU kernel returns 0 for a
  // page-aligned range with no mapping in it (the simulator has no addresses).
  if (!CdevCore::mapping_put(*file)) return -kEINVAL;
  CdevCore::fput(file, site);
  return 0;
}

void vfs_close(File* file, const Site& site) {
  sched_point(sim::EventKind::Sync, file, site);
  CdevCore::fput(file, site);
}

}  // namespace devsim::bus
