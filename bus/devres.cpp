#include "bus/devres.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>
#include <utility>

#include "bus/devm.hpp"

namespace devsim::bus {

std::string demangled(const std::type_info& type) {
  // Asked at every devm_* allocation and Devres of every execution, for a handful of types: demangling each
  // time cost thousands of instructions per call.
  thread_local std::unordered_map<std::type_index, std::string> known;
  auto [it, fresh] = known.try_emplace(std::type_index(type));
  if (!fresh) return it->second;
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  std::string full = status == 0 && name ? std::string(name.get()) : std::string(type.name());
  // Keep the last component outside template brackets: "drivers::legacy::Priv" -> "Priv".
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i + 1 < full.size(); ++i) {
    if (full[i] == '<') ++depth;
    if (full[i] == '>') --depth;
    if (depth == 0 && full[i] == ':' && full[i + 1] == ':') start = i + 2;
  }
  it->second = full.substr(start);
  return it->second;
}

bool DevresList::add(std::string name, std::function<void()> release, const Site& site) {
  return add_sited(
      std::move(name), [release = std::move(release)](const Site&) { release(); }, site);
}

bool DevresList::add_sited(std::string name, std::function<void(const Site&)> release, const Site& site) {
  // devres_alloc() is a kmalloc: fault injection can fail it.
  sim::World* w = sim::World::current();
  if (w != nullptr && w->should_fail_alloc(site)) return false;
  entries_.push_back(Entry{Entry::Kind::Action, std::move(name), std::move(release), site, 0, {}});
  if (w != nullptr) entries_.back().registered = w->task_site(w->current_task(), site);
  return true;
}

bool DevresList::remove(const std::string& name) {
  for (std::size_t i = entries_.size(); i-- > 0;) {
    if (entries_[i].kind == Entry::Kind::Action && entries_[i].name == name) {
      entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
      return true;
    }
  }
  return false;
}

bool DevresList::release(const std::string& name, const Site& site) {
  for (std::size_t i = entries_.size(); i-- > 0;) {
    if (entries_[i].kind == Entry::Kind::Action && entries_[i].name == name) {
      Entry e = std::move(entries_[i]);
      entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
      release_entry(e, site);
      return true;
    }
  }
  return false;
}

DevresList::GroupId DevresList::open_group(const Site& site) {
  GroupId id = next_group_++;
  entries_.push_back(Entry{Entry::Kind::GroupOpen, "group " + std::to_string(id), {}, site, id, {}});
  return id;
}

void DevresList::close_group(GroupId group) {
  entries_.push_back(Entry{Entry::Kind::GroupClose, "end of group " + std::to_string(group), {}, Site{}, group, {}});
}

void DevresList::release_entry(Entry& e, const Site& site) {
  if (!e.action) return;
  // LIFETIME: `registered` lives in this frame for as long as the action runs.
  const sim::StackSection registered{"Registered by (" + e.name + ")", e.registered};
  sim::FreeContextScope scope(&registered);
  e.action(site);
}

std::size_t DevresList::release_range(std::size_t from, const Site& site, GroupId stop_at_close) {
  // Newest first. The entry leaves the list before its action runs: an action that adds entries (or releases
  // others) sees a consistent list, and entries it adds are released in this same pass.
  std::size_t ran = 0;
  for (;;) {
    // The end of the range: the group's close marker if it has one, else the end of the list.
    std::size_t end = entries_.size();
    if (stop_at_close != 0) {
      for (std::size_t i = from; i < entries_.size(); ++i)
        if (entries_[i].kind == Entry::Kind::GroupClose && entries_[i].group == stop_at_close) end = i;
    }
    if (end <= from) break;
    Entry e = std::move(entries_[end - 1]);
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(end - 1));
    if (e.kind != Entry::Kind::Action || !e.action) continue;
    release_entry(e, site);
    ++ran;
  }
  return ran;
}

std::size_t DevresList::release_group(GroupId group, const Site& site) {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].kind == Entry::Kind::GroupOpen && entries_[i].group == group) {
      std::size_t ran = release_range(i + 1, site, group);
      // Drop the markers: the open one at i, the close one now right after it (if the group was closed).
      entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
      if (i < entries_.size() && entries_[i].kind == Entry::Kind::GroupClose && entries_[i].group == group)
        entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
      return ran;
    }
  }
  return 0;
}

void DevresList::remove_group(GroupId group) {
  std::erase_if(entries_, [group](const Entry& e) { return e.kind != Entry::Kind::Action && e.group == group; });
}

std::size_t DevresList::release_all(const Site& site) {
  return release_range(0, site);
}

std::size_t DevresList::size() const {
  std::size_t n = 0;
  for (const Entry& e : entries_)
    if (e.kind == Entry::Kind::Action) ++n;
  return n;
}

std::vector<std::string> DevresList::names() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_)
    if (e.kind == Entry::Kind::Action) out.push_back(e.name);
  return out;
}

std::size_t devres_release_all(DevresList& list) {
  return list.release_all(Site::current());
}

// ---- devm_* ----------------------------------------------------------------------------------------------

int devm_add_action(const BoundContext& dev, std::string name, std::function<void()> action, const Site& site) {
  return dev.device().devres().add(std::move(name), std::move(action), site) ? 0 : -kENOMEM;
}

int devm_add_action_or_reset(const BoundContext& dev, std::string name, std::function<void()> action,
                             const Site& site) {
  std::function<void()> copy = action;
  if (dev.device().devres().add(std::move(name), std::move(action), site)) return 0;
  copy();
  return -kENOMEM;
}

int devm_add_action(Device& dev, std::string name, std::function<void()> action, const Site& site) {
  std::optional<BoundContext> ctx = bound_context(dev, site);
  if (!ctx) return -kENODEV;
  return devm_add_action(*ctx, std::move(name), std::move(action), site);
}

DevresList::GroupId devres_open_group(const BoundContext& dev, const Site& site) {
  return dev.device().devres().open_group(site);
}
void devres_close_group(const BoundContext& dev, DevresList::GroupId group) {
  dev.device().devres().close_group(group);
}
std::size_t devres_release_group(const BoundContext& dev, DevresList::GroupId group, const Site& site) {
  return dev.device().devres().release_group(group, site);
}

}  // namespace devsim::bus
