// Character devices, open files and their operations; the disconnect-and-drain protocol; ures groups.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "bus/device.hpp"
#include "bus/embedded.hpp"
#include "core/kref.hpp"
#include "sim/kmalloc.hpp"

namespace devsim::bus {

class Cdev;
class File;
class UresGroup;

// struct file_operations. Plain function pointers, as in C: a driver's table is a static constant, and
// captureless lambdas convert. Missing entries give the kernel's defaults (-EINVAL, -ENOTTY, POLLIN|POLLOUT…).
struct FileOperations {
  int (*open)(Cdev& cdev, File& file) = nullptr;
  long (*read)(File& file, std::size_t count) = nullptr;
  long (*write)(File& file, std::size_t count) = nullptr;
  long (*ioctl)(File& file, unsigned cmd, unsigned long arg) = nullptr;
  unsigned (*poll)(File& file) = nullptr;
  int (*mmap)(File& file) = nullptr;
  int (*release)(Cdev& cdev, File& file) = nullptr;
};

Cdev* cdev_alloc(const FileOperations* fops, const Site& site);
int cdev_add(Cdev& cdev, std::string name, Device* parent, const Site& site);
void cdev_del(Cdev& cdev, const Site& site);
void cdev_enable_drain(Cdev& cdev, int error, const Site& site);
void cdev_disconnect(Cdev& cdev, const Site& site);
void cdev_drain(Cdev& cdev, const Site& site);

// struct cdev: a character device, usually embedded in driver data (cdev_init) or allocated on its own
// (cdev_alloc). Its embedded kobject count is held by its owner (from init until cdev_del) and by every open
// file; the last put drops the parent device reference and, for cdev_alloc'd ones, frees the cdev.
//
// INVARIANT: every kernel-side access to a cdev is checked (Embedded), so a file that outlives the driver data
// its cdev is embedded in is reported as use-after-free in the kernel's own code (chrdev_open, fput): Greg KH's
// "two lifecycles" (R3).
// INVARIANT (drain): once disconnected, no new file operation enters the driver; in_flight counts the calls
// inside it, and cdev_drain returns only when it is 0.
// Does not handle: dev_t numbers and minor ranges (a /dev name stands for the node), module reference counts,
// mmap of real pages (a mapping is just a file reference). O_NONBLOCK is a flag the driver checks (File::f_flags),
// as in the kernel; signals reach the driver's waits (core/signal.hpp).
class Cdev {
 public:
  Cdev() = default;
  Cdev(const Cdev&) = delete;
  Cdev& operator=(const Cdev&) = delete;

  const std::string& name() const { return name_; }
  Device* parent() const { return parent_; }
  const FileOperations* ops() const { return ops_; }
  bool added() const { return added_; }
  bool disconnected() const { return drain_.disconnected; }
  int in_flight() const { return drain_.in_flight; }
  // Opaque driver pointer for fops to find their data (what container_of(inode->i_cdev) does in C).
  void* owner = nullptr;
  sim::AllocId owner_alloc = 0;
  // Reads the owner pointer with a checked access at `site`.
  void* owner_data(const Site& site = Site::current()) const;
  // The owner as the checked handle it was stored from.
  template <class T>
  void set_owner(sim::KPtr<T> p) {
    owner = p.unchecked();
    owner_alloc = p.id();
  }
  template <class T>
  sim::KPtr<T> owner_ptr(const Site& site = Site::current()) const {
    return sim::KPtr<T>(static_cast<T*>(owner_data(site)), owner_alloc);
  }
  // Runs at the cdev's last put (its kobject release): where a driver drops the reference its cdev held on
  // the driver data (the fix of Greg KH's two lifecycles, R3). The hook may free the memory the cdev is in.
  std::function<void()> on_release;

 private:
  friend class CdevCore;
  friend Cdev* cdev_alloc(const FileOperations*, const Site&);
  friend int cdev_add(Cdev&, std::string, Device*, const Site&);
  friend void cdev_del(Cdev&, const Site&);
  friend void cdev_enable_drain(Cdev&, int, const Site&);
  friend void cdev_disconnect(Cdev&, const Site&);
  friend void cdev_drain(Cdev&, const Site&);
  Embedded embedded_;
  core::Kref kobj_;
  const FileOperations* ops_ = nullptr;
  std::string name_;
  Device* parent_ = nullptr;
  bool added_ = false;
  bool dynamic_ = false;  // cdev_alloc: the last put frees it
  sim::AllocId self_alloc_ = 0;
  UresGroup* group_ = nullptr;
  struct Drain {
    bool enabled = false;
    bool disconnected = false;
    int in_flight = 0;
    int error = 0;  // what calls get once disconnected: -ENODEV, -EIO, -ENXIO
  } drain_;
};

// cdev_init(): prepares an embedded cdev; the caller holds its first reference until cdev_del().
void cdev_init(Cdev& cdev, const FileOperations* fops, const Site& site = Site::current());
// cdev_alloc(): a cdev in its own allocation, freed at its last put (the safe pattern).
Cdev* cdev_alloc(const FileOperations* fops, const Site& site = Site::current());
// cdev_add()/cdev_device_add(): makes /dev/<name> open this cdev; the cdev holds a reference to `parent`
// (if any) until its last put. -EEXIST if the name is taken.
int cdev_add(Cdev& cdev, std::string name, Device* parent = nullptr, const Site& site = Site::current());
// cdev_del(): no new opens; drops the owner's reference. Open files keep the cdev (and their fops) alive.
void cdev_del(Cdev& cdev, const Site& site = Site::current());

// Pinchart's removal protocol (Kernel Summit 2021): enable once, at probe; then in remove(): disconnect (no new
// calls: they fail with `error`, poll gets HUP|ERR), cancel pending I/O (the driver's job: wake its waiters),
// drain (wait until the calls in flight returned), and only then cdev_del() and free.
void cdev_enable_drain(Cdev& cdev, int error, const Site& site = Site::current());
void cdev_disconnect(Cdev& cdev, const Site& site = Site::current());
void cdev_drain(Cdev& cdev, const Site& site = Site::current());

// Vetter's ures group: driver data shared by several cdevs of one device, released only when the driver has
// unbound and the last file of any of the cdevs is closed. Each open file holds a reference, the driver holds
// one (drop it in remove() or with a devm action).
// INVARIANT: release runs exactly once, at the last put.
class UresGroup {
 public:
  static UresGroup* create(std::function<void()> release, const Site& site = Site::current());
  void get(const Site& site = Site::current());
  void put(const Site& site = Site::current());
  int refcount() const { return kref_.read(); }

 private:
  friend class CdevCore;
  core::Kref kref_;
  std::function<void()> release_;
  sim::AllocId alloc_ = 0;
};
// Puts the cdev in `group`: the cdev holds a group reference until its release, each open file one more.
void cdev_set_group(Cdev& cdev, UresGroup* group, const Site& site = Site::current());

// struct file: one open of a cdev, in simulated memory, with its own count (dup'd descriptors and mappings
// share it). release() runs when the last reference goes, however long after the device is gone.
// INVARIANT: f_op is copied from the cdev at open, so calls on an open file never consult the cdev's table —
// exactly why they keep reaching the driver after cdev_del().
class File {
 public:
  Cdev* cdev() const { return cdev_; }
  const FileOperations* f_op() const { return f_op_; }
  // file->private_data, typed: the driver stores a checked handle and gets it back.
  template <class T>
  void set_private(sim::KPtr<T> p) {
    private_ = p.unchecked();
    private_alloc_ = p.id();
  }
  template <class T>
  sim::KPtr<T> private_data() const {
    return sim::KPtr<T>(static_cast<T*>(private_), private_alloc_);
  }
  void set_private_raw(void* p) {
    private_ = p;
    private_alloc_ = 0;
  }
  void* private_raw() const { return private_; }
  int refcount() const { return count_.read(); }
  // file->f_flags: the open flags (kO_NONBLOCK).
  unsigned f_flags() const { return f_flags_; }

 private:
  friend class CdevCore;
  core::Refcount count_{1};
  Cdev* cdev_ = nullptr;
  const FileOperations* f_op_ = nullptr;
  unsigned f_flags_ = 0;
  void* private_ = nullptr;
  sim::AllocId private_alloc_ = 0;
  sim::AllocId alloc_ = 0;
  UresGroup* group_ = nullptr;
  // INVARIANT: mappings_ counts the successful vfs_mmap calls not yet undone by vfs_munmap; each holds one of
  // count_'s references, so vfs_munmap may drop a reference only while mappings_ > 0.
  int mappings_ = 0;
  bool drained_ = false;  // opened through a drain-enabled cdev
};

// A misc device (struct miscdevice), as drivers/char/misc.c defines it: a name and fops, usually embedded in the
// driver's data. misc_register() makes /dev/<name>; opening it runs misc_open(), which under misc_mtx finds the
// device, sets file->private_data to the MiscDevice, switches the file to the driver's fops and calls their open,
// still under misc_mtx. misc_deregister() takes misc_mtx too, so it waits for an open in progress, and once it
// returned no open reaches the driver again.
// LIFETIME: a misc file pins nothing of the driver: not the MiscDevice, not the driver data, not `parent` (the
// node's cdev is the misc core's, like the kernel's single misc major). `parent` is held only between
// misc_register() and misc_deregister() (the class device's parent link: device_add/device_del). A driver whose
// file operations use driver data or the parent after remove() must take its own references in open (kref,
// get_device) and drop them in release.
// Does not handle: minor numbers (the name stands for the node), misc groups/modes, the module reference fops_get
// takes.
struct MiscDevice {
  std::string name;
  const FileOperations* fops = nullptr;
  Device* parent = nullptr;
  Cdev* cdev = nullptr;  // set by misc_register: the node, owned by the misc core
};
// misc_register(): 0, or -EEXIST if the name is taken.
int misc_register(MiscDevice& misc, const Site& site = Site::current());
// misc_deregister(): under misc_mtx, so an open running the driver's ->open finishes first.
void misc_deregister(MiscDevice& misc, const Site& site = Site::current());

// ---- what userspace does (the VFS) -----------------------------------------------------------------------
// Each is one system call from the calling task: a scheduling point, then the driver's fop.

// open("/dev/<name>"): the file, or a negative errno (-ENOENT: no such node; the driver's open error).
struct OpenResult {
  File* file = nullptr;
  int error = 0;
};
OpenResult vfs_open(const std::string& name, const Site& site = Site::current());
// open() with flags (kO_NONBLOCK): the driver reads them from File::f_flags().
OpenResult vfs_open(const std::string& name, unsigned flags, const Site& site = Site::current());
// O_NONBLOCK (uapi/asm-generic/fcntl.h): a read or write that would sleep returns -EAGAIN instead.
inline constexpr unsigned kO_NONBLOCK = 04000;
long vfs_read(File* file, std::size_t count, const Site& site = Site::current());
long vfs_write(File* file, std::size_t count, const Site& site = Site::current());
// write() of these bytes: the driver's write gets data.size() as its count, and user_write_data() returns the bytes
// while it runs (the C ABI's copy_from_user copies them).
long vfs_write(File* file, std::string_view data, const Site& site = Site::current());
// The bytes of the write() the current task is in, if it was given bytes; empty otherwise (a write of zeros).
std::string_view user_write_data();
// ioctl() whose argument points at a user buffer holding `data` (a struct given as bytes): user_write_data()
// returns the bytes while the driver runs; a C driver's arg is the buffer's user address, a C++ driver's is 0.
long vfs_ioctl(File* file, unsigned cmd, std::string_view data, const Site& site = Site::current());
// What the current task's last read() or ioctl() on a user buffer left there for user space (a read's first
// `result` bytes, an ioctl's whole buffer), taken once; nothing if the driver has no user buffers (C++ drivers).
// The C ABI records it (note_user_copied_out) when the driver's call returns.
std::optional<std::string> take_user_copied_out();
void note_user_copied_out(std::string_view bytes);
long vfs_ioctl(File* file, unsigned cmd, unsigned long arg, const Site& site = Site::current());
unsigned vfs_poll(File* file, const Site& site = Site::current());
// mmap(): on success the mapping holds a file reference until vfs_munmap (0), else a negative errno.
int vfs_mmap(File* file, const Site& site = Site::current());
// munmap() of one of the file's mappings: drops that mapping's file reference and returns 0. A file with no
// mapping left returns -EINVAL and drops nothing (the VMA lookup finds no mapping: see vfs_munmap).
int vfs_munmap(File* file, const Site& site = Site::current());
// close(): drops the descriptor's reference; the last one runs release().
void vfs_close(File* file, const Site& site = Site::current());

}  // namespace devsim::bus
