// sysfs: the tree of directories, attributes and links through which devices and drivers show themselves.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/site.hpp"

namespace devsim::bus {

using sim::Site;

class HostGuard;

// The result of reading an attribute: its text, or a negative errno.
struct SysfsRead {
  int error = 0;
  std::string text;
};

// A simulated sysfs (kernfs underneath): paths like "/sys/bus/platform/drivers/pl061/unbind".
//
// Attribute callbacks run under kernfs "active protection": removing a node first waits until every show/store
// in flight on it has returned (kernfs_drain), and a node being removed refuses new calls with -ENODEV. This is
// what makes attribute callbacks safe against device removal — and what deadlocks when a remover holds a lock
// a store needs (lockdep and the deadlock detector report it).
// Built lazily: until something looks at the tree (read, write, exists, list...), creations and removals are only
// logged, and the first look replays them. Most executions never look, and building the tree was a quarter of
// their cost. The replay is exact: before the first look no show/store can be in flight, so no removal could
// have waited for one, and a removal that does not wait changes nothing but the tree.
// INVARIANT: a node's parent directory exists while the node does; remove_tree() removes children first.
// Natively every operation holds the driver model's HostGuard (bus/host_lock.hpp) except while a show/store runs;
// kernfs_drain waits on it.
// Does not handle: permissions, binary attributes, poll on attributes, namespaces, kobject ownership.
class Sysfs {
 public:
  using Show = std::function<SysfsRead()>;
  using Store = std::function<int(const std::string& text)>;  // bytes consumed or -errno

  Sysfs() = default;
  void create_dir(const std::string& path);
  void create_attr(const std::string& path, Show show, Store store = {});
  void create_link(const std::string& path, std::string target);
  // Drains then removes `path` and everything below it. No-op if absent.
  void remove_tree(const std::string& path, const Site& site = Site::current());

  // What userspace does: -ENOENT for a missing path, -EIO reading a directory, -EPERM writing a read-only one.
  SysfsRead read(const std::string& path, const Site& site = Site::current());
  int write(const std::string& path, const std::string& text, const Site& site = Site::current());
  bool exists(const std::string& path) const;
  // The node is still there but being removed (draining its callers). Never before the first look: no removal
  // can be waiting for a caller then.
  bool removing(const std::string& path) const;
  // A link's target ("" if not a link); a directory's entries, sorted.
  std::string link_target(const std::string& path) const;
  // Whether `path` is an attribute (not a directory or a link).
  bool is_attribute(const std::string& path) const;
  std::vector<std::string> list(const std::string& dir) const;
  std::size_t size() const;

 private:
  struct Node {
    enum class Kind : std::uint8_t { Dir, Attr, Link } kind = Kind::Dir;
    Show show;
    Store store;
    std::string target;
    std::set<std::string> children;  // names; a set, so removing one of 100,000 siblings stays cheap
    std::uint32_t active = 0;        // show/store calls in flight
    bool removing = false;
    bool used = false;  // a show or store ran (the removal's drain then orders after it)
  };
  // A creation or removal not yet applied to the tree.
  struct Change {
    enum class Kind : std::uint8_t { Dir, Attr, Link, Remove } kind;
    std::string path;
    Show show;
    Store store;
    std::string target;
    Site site{};  // a removal's caller
  };
  // Past this many logged changes the tree is built anyway: an execution that churns devices must not keep a
  // log that grows with every plug.
  static constexpr std::size_t kMaxPending = 1024;
  class Active;
  // Each of these requires the HostGuard held.
  // The tree, built from the log first if it has not been (the log is then empty for good).
  const std::unordered_map<std::string, Node>& tree() const;
  void build() const;
  void apply(Change change) const;
  Node& make(const std::string& path, Node::Kind kind) const;
  // The race detector's edge from a node's creation to the lookups after it (the root's kernfs_rwsem).
  void created() const;
  void looked_up() const;
  // Natively `guard` (the caller's) is what kernfs_drain waits on; null where nothing can be in flight.
  void remove_now(const std::string& path, const Site& site, HostGuard* guard) const;
  std::string resolve(const std::string& path) const;
  // Mutable: building the tree on a const look changes how it is stored, not what it holds.
  mutable bool built_ = false;
  // A deque: its blocks stay small, where a growing vector's large allocations made the C library consolidate its
  // free lists every execution.
  mutable std::deque<Change> pending_;
  // LIFETIME: unordered_map nodes never move, so a Node& stays valid across insertions until its erase.
  mutable std::unordered_map<std::string, Node> nodes_;
};

}  // namespace devsim::bus
