#include "bus/sysfs.hpp"

#include <algorithm>

#include "bus/errno.hpp"
#include "bus/host_lock.hpp"
#include "sim/world.hpp"

namespace devsim::bus {

namespace {
std::string parent_of(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}
std::string base_of(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}
}  // namespace

const std::unordered_map<std::string, Sysfs::Node>& Sysfs::tree() const {
  if (!built_) build();
  return nodes_;
}

void Sysfs::build() const {
  built_ = true;
  nodes_["/"];
  for (const char* dir : {"/sys", "/sys/bus", "/sys/devices", "/sys/class"})
    make(dir, Node::Kind::Dir);
  std::deque<Change> log = std::move(pending_);
  pending_.clear();
  for (Change& change : log)
    apply(std::move(change));
}

void Sysfs::apply(Change change) const {
  if (!built_) {
    pending_.push_back(std::move(change));
    if (pending_.size() > kMaxPending) build();
    return;
  }
  switch (change.kind) {
    case Change::Kind::Dir:
      make(change.path, Node::Kind::Dir);
      break;
    case Change::Kind::Attr: {
      Node& n = make(change.path, Node::Kind::Attr);
      n.show = std::move(change.show);
      n.store = std::move(change.store);
      break;
    }
    case Change::Kind::Link:
      make(change.path, Node::Kind::Link).target = std::move(change.target);
      break;
    case Change::Kind::Remove:
      remove_now(change.path, change.site, nullptr);  // nothing to drain before the first look
      break;
  }
}

Sysfs::Node& Sysfs::make(const std::string& path, Node::Kind kind) const {
  auto [it, fresh] = nodes_.try_emplace(path);
  Node& node = it->second;
  node.kind = kind;
  if (fresh && path != "/") {
    std::string parent = parent_of(path);
    if (nodes_.count(parent) == 0) make(parent, Node::Kind::Dir);  // like kobject_add of a missing parent: make it
    nodes_[parent].children.insert(base_of(path));
  }
  return node;
}

// kernfs adds a node under its root's kernfs_rwsem held for writing (fs/kernfs/dir.c kernfs_add_one) and looks one
// up holding it for reading (kernfs_iop_lookup, kernfs_find_and_get_ns): what a task did before it created a node
// (a module's init before platform_driver_register made its driver's bind file) happens before every show or store
// that finds a node created after it. The simulator's race detector gets that edge on the tree (the root's lock):
// a creation releases it, a lookup acquires it; lookups do not order each other, as readers of the rwsem do not.
void Sysfs::created() const {
  if (sim::World* w = sim::World::current()) w->races().release(w->current_task(), this);
}
void Sysfs::looked_up() const {
  if (sim::World* w = sim::World::current()) w->races().acquire(w->current_task(), this);
}

void Sysfs::create_dir(const std::string& path) {
  HostGuard guard;
  apply({Change::Kind::Dir, path, {}, {}, {}});
  created();
}

void Sysfs::create_attr(const std::string& path, Show show, Store store) {
  HostGuard guard;
  apply({Change::Kind::Attr, path, std::move(show), std::move(store), {}});
  created();
}

void Sysfs::create_link(const std::string& path, std::string target) {
  HostGuard guard;
  apply({Change::Kind::Link, path, {}, {}, std::move(target)});
  created();
}

void Sysfs::remove_tree(const std::string& path, const Site& site) {
  HostGuard guard;
  if (built_)
    remove_now(path, site, &guard);
  else
    apply({Change::Kind::Remove, path, {}, {}, {}, site});
}

void Sysfs::remove_now(const std::string& path, const Site& site, HostGuard* guard) const {
  auto it = nodes_.find(path);
  if (it == nodes_.end() || path == "/") return;
  Node& node = it->second;
  node.removing = true;
  // Children first (copy: removing them edits the list).
  for (const std::string& child : std::vector<std::string>(node.children.begin(), node.children.end()))
    remove_now(path + "/" + child, site, guard);
  // kernfs_drain(): wait for show/store calls in flight. LIFETIME: `node` stays in the map until erased below (a
  // node has one remover: its device's device_del, or its driver's unregistration).
  if (sim::World* w = sim::World::current(); w != nullptr && w->in_task()) {
    while (node.active > 0)
      w->block(&node, "kernfs_drain(" + path + ")", site);
  } else if (guard != nullptr && guard->native()) {
    guard->wait([&node] { return node.active == 0; });
  }
  // The drain's read of the active count orders every show or store of the node that ended before the removal
  // goes on (a bind whose probe failed leaves nothing else to order it before the driver's unload).
  if (sim::World* w = sim::World::current(); w != nullptr && node.used) w->races().acquire(w->current_task(), &node);
  std::string parent = parent_of(path);
  if (auto p = nodes_.find(parent); p != nodes_.end()) p->second.children.erase(base_of(path));
  nodes_.erase(path);
}

std::string Sysfs::resolve(const std::string& path) const {
  // Follows links in the directory part ("/sys/bus/platform/devices/gpio0/level" goes through the gpio0 link);
  // at most a few hops, as sysfs links never form cycles.
  tree();
  std::string p = path;
  for (int hops = 0; hops < 8 && nodes_.count(p) == 0; ++hops) {
    bool followed = false;
    for (std::size_t slash = p.find('/', 1); slash != std::string::npos; slash = p.find('/', slash + 1)) {
      auto it = nodes_.find(p.substr(0, slash));
      if (it == nodes_.end()) break;
      if (it->second.kind == Node::Kind::Link) {
        p = it->second.target + p.substr(slash);
        followed = true;
        break;
      }
    }
    if (!followed) break;
  }
  return p;
}

// kernfs active reference: held for the duration of one show/store, released however the callback ends (a
// fatal report unwinds the task through it). Taken under the HostGuard; dropped under a guard of its own, as the
// callback runs without one.
class Sysfs::Active {
 public:
  explicit Active(Node& node) : node_(node) {
    ++node_.active;
    node_.used = true;
  }
  ~Active() {
    HostGuard guard;
    // kernfs_put_active's atomic_dec_return: what the callback did happens before a kernfs_drain that sees the count
    // drop, whether or not that drain had to sleep.
    if (sim::World* w = sim::World::current()) w->races().release(w->current_task(), &node_);
    if (--node_.active == 0 && node_.removing) {
      if (sim::World* w = sim::World::current())
        w->wake_all(&node_);
      else
        HostGuard::notify_all();
    }
  }
  Active(const Active&) = delete;
  Active& operator=(const Active&) = delete;

 private:
  Node& node_;
};

SysfsRead Sysfs::read(const std::string& path_in, const Site& site) {
  // The scheduling point comes first: everything below, from the lookup to taking the active reference, happens
  // without another task running in between (a node looked up before a yield may be gone after it).
  if (sim::World* w = sim::World::current()) w->yield(sim::EventKind::Read, nullptr, site);
  HostGuard guard;
  const std::string path = resolve(path_in);
  looked_up();
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return {-kENOENT, {}};
  Node& node = it->second;
  if (node.kind == Node::Kind::Dir) return {-kEISDIR, {}};
  if (node.kind == Node::Kind::Link) return {-kENOENT, {}};  // a dangling link
  if (node.removing) return {-kENODEV, {}};
  // kernfs_fop_open (fs/kernfs/file.c): opening for reading a file that has no show is -EACCES.
  if (!node.show) return {-kEACCES, {}};
  // LIFETIME: the active reference keeps `node` (and the object its callback reads) from being removed until
  // the callback returns; remove_tree() waits for it.
  Active active(node);
  guard.unlock();
  return node.show();
}

int Sysfs::write(const std::string& path_in, const std::string& text, const Site& site) {
  if (sim::World* w = sim::World::current()) w->yield(sim::EventKind::Write, nullptr, site);
  HostGuard guard;
  const std::string path = resolve(path_in);
  looked_up();
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return -kENOENT;
  Node& node = it->second;
  if (node.kind == Node::Kind::Dir) return -kEISDIR;
  if (node.kind == Node::Kind::Link) return -kENOENT;
  if (node.removing) return -kENODEV;
  if (!node.store) return -kEACCES;  // kernfs_fop_open: for writing, a file with no store
  Active active(node);               // LIFETIME: as in read()
  guard.unlock();
  return node.store(text);
}

std::string Sysfs::link_target(const std::string& path) const {
  HostGuard guard;
  auto it = tree().find(path);
  return it != nodes_.end() && it->second.kind == Node::Kind::Link ? it->second.target : std::string();
}

bool Sysfs::is_attribute(const std::string& path) const {
  HostGuard guard;
  auto it = tree().find(path);
  return it != nodes_.end() && it->second.kind == Node::Kind::Attr;
}

bool Sysfs::exists(const std::string& path) const {
  HostGuard guard;
  return tree().count(path) != 0;
}

bool Sysfs::removing(const std::string& path) const {
  HostGuard guard;
  if (!built_) return false;
  auto it = nodes_.find(path);
  return it != nodes_.end() && it->second.removing;
}

std::size_t Sysfs::size() const {
  HostGuard guard;
  return tree().size();
}

std::vector<std::string> Sysfs::list(const std::string& dir) const {
  HostGuard guard;
  auto it = tree().find(dir);
  if (it == nodes_.end()) return {};
  return std::vector<std::string>(it->second.children.begin(), it->second.children.end());
}

}  // namespace devsim::bus
