// devres: resources released automatically, last-in first-out, when a driver unbinds or its probe fails.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sim/kmalloc.hpp"

namespace devsim::bus {

using sim::Site;

// The device's list of managed resources (drivers/base/devres.c). Each entry is a release action with a name
// ("devm_kzalloc(Priv)", "devm_request_irq 3") and the site that added it; groups bracket entries so part of a
// probe can be undone on its own.
//
// INVARIANT: release_all() and release_group() run actions strictly in reverse order of addition, each exactly
// once, and an action added while the list is being released (by another action) is released in the same
// pass. Entries are removed from the list before their action runs, so an action may safely add or remove
// others.
// Does not handle: devres_find/devres_replace with typed matching (actions are matched by name only), per-entry
// memory accounting.
class DevresList {
 public:
  using GroupId = std::uint64_t;

  // devres_add(): false if the entry could not be allocated (fault injection), and nothing was added.
  bool add(std::string name, std::function<void()> release, const Site& site);
  // The same for an action that wants the site of the release (a kfree that KASAN's "Freed by" should
  // attribute to the unbind or unplug that ran it, not to the allocation).
  bool add_sited(std::string name, std::function<void(const Site&)> release, const Site& site);
  // devm_remove_action(): forgets the newest entry named `name` without running it. False if none.
  bool remove(const std::string& name);
  // devm_release_action(): runs and forgets the newest entry named `name`. False if none.
  bool release(const std::string& name, const Site& site);

  // devres_open_group()/devres_close_group()/devres_release_group()/devres_remove_group(). Entries added
  // between open and close belong to the group (nested groups included); release_group runs them LIFO.
  GroupId open_group(const Site& site);
  void close_group(GroupId group);
  // Returns the number of actions run; 0 and nothing done if the group is unknown.
  std::size_t release_group(GroupId group, const Site& site);
  void remove_group(GroupId group);

  // devres_release_all(): every entry, newest first. Returns how many actions ran.
  std::size_t release_all(const Site& site);

  std::size_t size() const;  // entries that are actions (not group markers)
  // The names of the entries, oldest first (tests, and the "last related work" of a report).
  std::vector<std::string> names() const;

 private:
  struct Entry {
    enum class Kind : std::uint8_t { Action, GroupOpen, GroupClose } kind = Kind::Action;
    std::string name;
    std::function<void(const Site&)> action;
    Site site;
    GroupId group = 0;
    // Who added it: printed as "Registered by" with a report on memory its release freed (the probe behind a
    // devm free).
    sim::TaskSite registered;
  };
  // Runs an entry's action, with its registration as the related stack of what it frees.
  static void release_entry(Entry& e, const Site& site);
  std::size_t release_range(std::size_t from, const Site& site, GroupId stop_at_close = 0);

  std::vector<Entry> entries_;
  GroupId next_group_ = 1;
};

// devres_release_all(): what the driver core calls after remove() and when probe fails. The frees it runs are
// attributed to it (a use-after-free report's "Freed by" names devres_release_all, as KASAN's free stack does).
std::size_t devres_release_all(DevresList& list);

}  // namespace devsim::bus
