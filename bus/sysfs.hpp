// sysfs: the tree of directories, attributes and links through which devices and drivers show themselves.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/site.hpp"

namespace devsim::bus {

using sim::Site;

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
// INVARIANT: a node's parent directory exists while the node does; remove_tree() removes children first.
// Does not handle: permissions, binary attributes, poll on attributes, namespaces, kobject ownership.
class Sysfs {
 public:
  using Show = std::function<SysfsRead()>;
  using Store = std::function<int(const std::string& text)>;  // bytes consumed or -errno

  Sysfs();
  void create_dir(const std::string& path);
  void create_attr(const std::string& path, Show show, Store store = {});
  void create_link(const std::string& path, std::string target);
  // Drains then removes `path` and everything below it. No-op if absent.
  void remove_tree(const std::string& path, const Site& site = Site::current());

  // What userspace does: -ENOENT for a missing path, -EIO reading a directory, -EPERM writing a read-only one.
  SysfsRead read(const std::string& path, const Site& site = Site::current());
  int write(const std::string& path, const std::string& text, const Site& site = Site::current());
  bool exists(const std::string& path) const { return nodes_.count(path) != 0; }
  // The node is still there but being removed (draining its callers).
  bool removing(const std::string& path) const {
    auto it = nodes_.find(path);
    return it != nodes_.end() && it->second.removing;
  }
  // A link's target ("" if not a link); a directory's entries, sorted.
  std::string link_target(const std::string& path) const;
  std::vector<std::string> list(const std::string& dir) const;
  std::size_t size() const { return nodes_.size(); }

 private:
  struct Node {
    enum class Kind : std::uint8_t { Dir, Attr, Link } kind = Kind::Dir;
    Show show;
    Store store;
    std::string target;
    std::set<std::string> children;  // names; a set, so removing one of 100,000 siblings stays cheap
    std::uint32_t active = 0;        // show/store calls in flight
    bool removing = false;
  };
  class Active;
  Node& make(const std::string& path, Node::Kind kind);
  std::string resolve(const std::string& path) const;
  // LIFETIME: unordered_map nodes never move, so a Node& stays valid across insertions until its erase.
  std::unordered_map<std::string, Node> nodes_;
};

}  // namespace devsim::bus
