#include "core/lockdep.hpp"

#include "core/irqflags.hpp"
#include "core/lockdep_map.hpp"
#include "sim/boot.hpp"
#include "sim/intern.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace devsim::core {

std::string LockClass::label() const {
  if (name_ != nullptr) return name_;
  return sim::site_location(init_site_);
}

std::string_view LockClass::text(const char* prefix, const char* suffix) const {
  // A class is its name, or its initialisation site when it has none (same_as); one name at two addresses only
  // makes two entries of the same text.
  struct Key {
    const char* name;
    const char* file;
    std::uint_least32_t line;
    std::uint_least32_t column;
    const char* prefix;
    const char* suffix;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      std::size_t h = std::hash<const void*>{}(k.name != nullptr ? k.name : k.file);
      for (const std::size_t part : {std::size_t{k.line} << 20 ^ k.column, std::hash<const void*>{}(k.prefix),
                                     std::hash<const void*>{}(k.suffix)})
        h = h * 0x9E3779B97F4A7C15ULL + part;
      return h;
    }
  };
  thread_local std::unordered_map<Key, std::string_view, KeyHash> t_texts;
  const bool named = name_ != nullptr;
  const Key key{name_,
                named ? nullptr : init_site_.file_name(),
                named ? 0 : init_site_.line(),
                named ? 0 : init_site_.column(),
                prefix,
                suffix};
  auto [it, fresh] = t_texts.try_emplace(key);
  if (fresh) it->second = sim::intern(prefix + label() + suffix);
  return it->second;
}

bool LockClass::same_as(const LockClass& other) const {
  if (name_ != nullptr || other.name_ != nullptr) {
    if (name_ == nullptr || other.name_ == nullptr) return false;
    return name_ == other.name_ || std::strcmp(name_, other.name_) == 0;
  }
  if (init_site_.line() != other.init_site_.line() || init_site_.column() != other.init_site_.column()) return false;
  // One file name can be two strings in two translation units (a lock initialised in a header).
  return init_site_.file_name() == other.init_site_.file_name() ||
         std::strcmp(init_site_.file_name(), other.init_site_.file_name()) == 0;
}

namespace {

// One class node of the graph: a LockClass at a nesting level.
struct ClassNode {
  LockClass cls;
  unsigned subclass;
  // IRQ usage (kernel/locking/lockdep.c mark_lock): where the class was first taken in hard-IRQ context
  // ({IN-HARDIRQ-W}), and where first with interrupts enabled in process context ({HARDIRQ-ON-W}).
  struct Usage {
    Site site;
    std::string task;
    std::string what;
  };
  std::optional<Usage> in_hardirq;
  std::optional<Usage> hardirq_on;
  // "lock class a" or "lock class a/1"
  std::string label() const { return subclass == 0 ? cls.label() : cls.label() + "/" + std::to_string(subclass); }
};

// A recorded dependency: `to` was acquired while the edge's source class was held.
struct Edge {
  std::size_t to;
  std::string task;       // who did it first
  std::string from_what;  // the held lock, as its lock named it
  Site from_site;         // where the held lock was taken
  std::string to_what;
  Site to_site;  // where the second lock was taken
};

// The node of a held lock whose class is not validated (lockdep_set_novalidate_class).
constexpr std::size_t kNoNode = static_cast<std::size_t>(-1);

struct HeldLock {
  const void* lock;
  std::size_t node;       // kNoNode: not validated
  std::string_view what;  // interned (sim/intern.hpp)
  Site site;
  bool read = false;  // a recursive read acquisition (srcu_read_lock)
};

// The dependency graph: per boot (sim::Boot, one exploration) when one is open, as the kernel's graph lasts
// from boot to reboot; otherwise per world. Nodes hold LockClasses, whose names and sites are static, so they
// stay valid across worlds.
struct LockdepGraph {
  // A union of the orders observed (each acquisition adds its edges whatever ran before): the locks' own
  // scheduling points order what must be ordered (sim::World::extension).
  static constexpr bool kFootprintExempt = true;
  std::vector<ClassNode> nodes;
  std::vector<std::vector<Edge>> edges;  // by source node

  std::size_t node_of(const LockClass& cls, unsigned subclass) {
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].subclass == subclass && nodes[i].cls.same_as(cls)) return i;
    nodes.push_back(ClassNode{cls, subclass, std::nullopt, std::nullopt});
    edges.emplace_back();
    return nodes.size() - 1;
  }
  std::optional<std::size_t> find_node(const LockClass& cls, unsigned subclass) const {
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].subclass == subclass && nodes[i].cls.same_as(cls)) return i;
    return std::nullopt;
  }

  // The edges of a path from -> ... -> to (breadth first, so the shortest), or nothing.
  std::optional<std::vector<const Edge*>> path(std::size_t from, std::size_t to) const {
    std::vector<const Edge*> via(nodes.size(), nullptr);
    std::vector<std::size_t> parent(nodes.size(), nodes.size());
    std::vector<bool> seen(nodes.size(), false);
    std::vector<std::size_t> queue{from};
    seen[from] = true;
    for (std::size_t qi = 0; qi < queue.size(); ++qi) {
      std::size_t n = queue[qi];
      if (n == to) {
        std::vector<const Edge*> out;
        for (std::size_t m = to; m != from; m = parent[m])
          out.push_back(via[m]);
        std::reverse(out.begin(), out.end());
        return out;
      }
      for (const Edge& e : edges[n]) {
        if (seen[e.to]) continue;
        seen[e.to] = true;
        parent[e.to] = n;
        via[e.to] = &e;
        queue.push_back(e.to);
      }
    }
    return std::nullopt;
  }
};

// The per-world state (World::extension): what each task holds, and which pairs this execution reported (each
// execution that closes a cycle reports it, so the explorer counts every failing schedule).
struct LockdepState {
  // Each task's own held locks, and this execution's report list: no task reads another's entries.
  static constexpr bool kFootprintExempt = true;
  std::vector<std::vector<HeldLock>> held;  // by task id, oldest first
  std::vector<std::pair<std::size_t, std::size_t>> reported;
  std::vector<std::size_t> usage_reported;  // classes reported as inconsistent in this execution
  std::vector<HeldLock>& held_by(sim::TaskId task) {
    if (held.size() <= task) held.resize(task + 1);
    return held[task];
  }
};

LockdepGraph& graph(sim::World& w) {
  if (sim::Boot* b = sim::Boot::current()) return b->extension<LockdepGraph>();
  return w.extension<LockdepGraph>();
}

std::string order_line(const ClassNode& from, const ClassNode& to, const Edge& e) {
  return from.label() + " -> " + to.label() + " by task " + e.task + ": " + e.from_what + " taken at " +
         sim::describe(e.from_site) + ", then " + e.to_what + " at " + sim::describe(e.to_site);
}

void report_inversion(sim::World& w, LockdepGraph& s, const HeldLock& prev, std::size_t next,
                      std::string_view next_what, const Site& site, const std::vector<const Edge*>& chain) {
  const std::string me = w.task_label(w.current_task());
  sim::Report r;
  r.kind = std::string(bug::kLockOrderInversion);
  r.headline = "possible circular locking dependency detected: task " + me + " acquires " + std::string(next_what) +
               " while holding " + std::string(prev.what);
  r.accessed_by = w.task_site(w.current_task(), site);
  const Edge now{next, me, std::string(prev.what), prev.site, std::string(next_what), site};
  r.details.push_back("new order:      " + order_line(s.nodes[prev.node], s.nodes[next], now));
  std::size_t from = next;
  for (const Edge* e : chain) {
    r.details.push_back("existing order: " + order_line(s.nodes[from], s.nodes[e->to], *e));
    from = e->to;
  }
  if (chain.size() == 1)
    r.details.push_back("possible unsafe locking scenario: task " + me + " holds " + std::string(prev.what) +
                        " and waits for " + std::string(next_what) + " while task " + chain.front()->task + " holds " +
                        chain.front()->from_what + " and waits for " + chain.back()->to_what + ": deadlock");
  // Not fatal: the kernel's lockdep prints its splat and the machine goes on (kernel/locking/lockdep.c
  // print_circular_bug, no panic), so what this execution does next is still checked: the deadlock itself when the
  // other order is taken, or a use-after-free further down the same path.
  r.fatal = false;
  w.report(std::move(r));
}

void report_recursive(sim::World& w, const HeldLock& first, const void* lock, std::string_view what, const Site& site) {
  const std::string me = w.task_label(w.current_task());
  sim::Report r;
  r.kind = std::string(bug::kRecursiveLocking);
  const bool same = first.lock == lock;
  r.headline =
      "possible recursive locking detected: task " + me + " acquires " + std::string(what) +
      (same ? " while already holding it" : " while holding " + std::string(first.what) + " of the same class");
  r.accessed_by = w.task_site(w.current_task(), site);
  r.details.push_back("already held: " + std::string(first.what) + " taken at " + sim::describe(first.site));
  r.details.push_back("acquired again: " + std::string(what) + " at " + sim::describe(site));
  if (!same) r.details.push_back("locks of one class nest only with distinct subclasses (lock_nested)");
  w.report(std::move(r));
}

}  // namespace

namespace lockdep {

namespace {
// mark_lock() / print_usage_bug(): a class taken both in hard-IRQ context and with interrupts enabled.
bool check_irq_usage(sim::World& w, LockdepGraph& g, LockdepState& st, std::size_t node, std::string_view what,
                     const Site& site) {
  const bool irq = in_hardirq();
  const bool enabled = !irq && !irqs_disabled();
  if (!irq && !enabled) return true;
  ClassNode& n = g.nodes[node];
  const std::string me = w.task_label(w.current_task());
  std::optional<ClassNode::Usage>& mine = irq ? n.in_hardirq : n.hardirq_on;
  if (!mine) mine = ClassNode::Usage{site, me, std::string(what)};
  const std::optional<ClassNode::Usage>& other = irq ? n.hardirq_on : n.in_hardirq;
  if (!other) return true;
  if (std::find(st.usage_reported.begin(), st.usage_reported.end(), node) != st.usage_reported.end()) return false;
  st.usage_reported.push_back(node);
  sim::Report r;
  r.kind = std::string(bug::kInconsistentLockState);
  r.headline = std::string("inconsistent lock state: ") +
               (irq ? "{HARDIRQ-ON-W} -> {IN-HARDIRQ-W} usage: task " + me + " takes " + std::string(what) +
                          " in hard-IRQ context; it is also taken with interrupts enabled"
                    : "{IN-HARDIRQ-W} -> {HARDIRQ-ON-W} usage: task " + me + " takes " + std::string(what) +
                          " with interrupts enabled; it is also taken in hard-IRQ context");
  r.accessed_by = w.task_site(w.current_task(), site);
  r.details.push_back(std::string(irq ? "taken with interrupts enabled" : "taken in hard-IRQ context") + " by task " +
                      other->task + " at " + sim::describe(other->site));
  r.details.push_back("possible unsafe locking scenario: CPU0 takes " + other->what +
                      " with interrupts enabled; an interrupt on CPU0 takes it again and spins forever: deadlock. "
                      "Take it with spin_lock_irqsave() outside the handler");
  w.report(std::move(r));
  return false;
}

bool acquire_impl(sim::World& w, const void* lock, const LockClass& cls, unsigned subclass, std::string_view what,
                  bool trylock, bool read, const Site& site) {
  if (!w.in_task()) return true;
  LockdepState& st = w.extension<LockdepState>();
  std::vector<HeldLock>& mine = st.held_by(w.current_task());
  if (cls.novalidate()) {
    // Held (lockdep_is_held works) but outside the graph: no node, so no dependency ever starts or ends here.
    mine.push_back(HeldLock{lock, kNoNode, sim::intern(what), site, read});
    return true;
  }
  LockdepGraph& s = graph(w);
  const std::size_t next = s.node_of(cls, subclass);
  bool ok = true;
  // A recursive read (srcu_read_lock) neither deadlocks on itself nor closes a cycle: nothing to check.
  if (!trylock && !read) {
    for (const HeldLock& h : mine) {
      if (h.node == next) {
        report_recursive(w, h, lock, what, site);
        ok = false;
        break;
      }
    }
    for (std::size_t i = 0; ok && i < mine.size(); ++i) {
      const HeldLock& prev = mine[i];
      if (prev.node == kNoNode) continue;
      // INVARIANT: the graph is a DAG (edges are recorded only below, when they close no cycle). So when the order
      // prev -> next is already recorded, no path leads from next back to prev, and the search (most acquisitions
      // repeat an order already seen) is skipped.
      const std::vector<Edge>& known = s.edges[prev.node];
      if (std::any_of(known.begin(), known.end(), [&](const Edge& e) { return e.to == next; })) continue;
      auto chain = s.path(next, prev.node);
      if (!chain) continue;
      const std::pair<std::size_t, std::size_t> pair = std::minmax(prev.node, next);
      if (std::find(st.reported.begin(), st.reported.end(), pair) == st.reported.end()) {
        st.reported.push_back(pair);
        report_inversion(w, s, prev, next, what, site, *chain);
      }
      ok = false;
    }
    // Record only orders that do not close a cycle: the graph stays a DAG, so one report per inversion.
    if (ok) {
      for (const HeldLock& prev : mine) {
        if (prev.node == kNoNode) continue;
        std::vector<Edge>& out = s.edges[prev.node];
        if (std::any_of(out.begin(), out.end(), [&](const Edge& e) { return e.to == next; })) continue;
        out.push_back(
            Edge{next, w.task_label(w.current_task()), std::string(prev.what), prev.site, std::string(what), site});
      }
    }
  }
  if (!read && !check_irq_usage(w, s, st, next, what, site)) ok = false;
  mine.push_back(HeldLock{lock, next, sim::intern(what), site, read});
  return ok;
}
}  // namespace

bool acquire(sim::World& w, const void* lock, const LockClass& cls, unsigned subclass, std::string_view what,
             bool trylock, const Site& site) {
  return acquire_impl(w, lock, cls, subclass, what, trylock, /*read=*/false, site);
}

void lock_map_acquire(const void* map, const LockClass& cls, std::string_view what, const Site& site) {
  if (sim::World* w = sim::World::current()) acquire_impl(*w, map, cls, 0, what, false, false, site);
}
void lock_map_acquire_read(const void* map, const LockClass& cls, std::string_view what, const Site& site) {
  if (sim::World* w = sim::World::current()) acquire_impl(*w, map, cls, 0, what, false, true, site);
}
void lock_map_release(const void* map) {
  if (sim::World* w = sim::World::current()) release(*w, map);
}
void lock_sync(const void* map, const LockClass& cls, std::string_view what, const Site& site) {
  if (sim::World* w = sim::World::current()) {
    acquire_impl(*w, map, cls, 0, what, false, false, site);
    release(*w, map);
  }
}

void release(sim::World& w, const void* lock) {
  if (!w.in_task()) return;
  std::vector<HeldLock>& mine = w.extension<LockdepState>().held_by(w.current_task());
  for (auto it = mine.rbegin(); it != mine.rend(); ++it) {
    if (it->lock == lock) {
      mine.erase(std::next(it).base());
      return;
    }
  }
}

bool held(sim::World& w, const void* lock) {
  if (!w.in_task()) return false;
  const std::vector<HeldLock>& mine = w.extension<LockdepState>().held_by(w.current_task());
  return std::any_of(mine.begin(), mine.end(), [&](const HeldLock& h) { return h.lock == lock; });
}

bool depends(sim::World& w, const LockClass& before, const LockClass& after) {
  const LockdepGraph& s = graph(w);
  auto a = s.find_node(before, 0);
  auto b = s.find_node(after, 0);
  return a && b && *a != *b && s.path(*a, *b).has_value();
}

std::size_t dependency_count(sim::World& w) {
  std::size_t n = 0;
  for (const auto& out : graph(w).edges)
    n += out.size();
  return n;
}

}  // namespace lockdep
}  // namespace devsim::core
