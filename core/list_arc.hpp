// ListArc<T, ID> and List<T, ID>: an intrusive list of Arcs in which an object is at most once per list ID.
#pragma once

#include <atomic>
#include <cassert>
#include <concepts>
#include <cstddef>
#include <optional>
#include <utility>

#include "core/arc.hpp"
#include "core/runtime.hpp"

namespace devsim::core {

template <class T, std::size_t ID = 0>
class ListArc;
template <class T, std::size_t ID = 0>
class List;

// The prev/next links an object carries for the lists with tag ID (Rust-for-Linux's ListLinks). An object that
// must be on several lists at once carries one ListLinks per list, each with its own ID:
//
//   struct Event : core::ListLinks<0>, core::ListLinks<1> { ... };   // on a queue (0) and a per-file list (1)
//
// INVARIANT: `list_arc_exists_` is true exactly while a ListArc<T, ID> for this object exists, whether a caller
// holds it or a List<T, ID> does. Since only a ListArc can be inserted and inserting consumes it, the object is
// in at most one List<T, ID> at most once: the guarantee R15's buggy driver lacks.
// INVARIANT: next_/prev_/list_/arc_ are meaningful only while list_ is non-null, and are guarded by whatever
// serialises that list (the caller's lock).
// The links are mutable: an Arc gives only const access to its value, and linking an object does not change
// its value (Rust's Opaque/UnsafeCell). A copy of an object starts unlinked: links belong to an object's
// place in memory, not to its value.
template <std::size_t ID = 0>
class ListLinks {
 public:
  ListLinks() = default;
  ListLinks(const ListLinks&) noexcept {}
  ListLinks& operator=(const ListLinks&) noexcept { return *this; }
  ~ListLinks() { assert(list_ == nullptr); }  // a List holds a count: a linked object cannot be destroyed

 private:
  template <class T, std::size_t I>
  friend class ListArc;
  template <class T, std::size_t I>
  friend class List;

  mutable std::atomic<bool> list_arc_exists_{false};
  mutable const ListLinks* next_ = nullptr;
  mutable const ListLinks* prev_ = nullptr;
  mutable const void* list_ = nullptr;  // the List<T, ID> holding the object
  mutable void* arc_ = nullptr;         // that list's count, as Arc<T>::into_foreign() gave it
};

// Where T keeps its ListLinks<ID>. By default T derives from ListLinks<ID>; specialise for a member instead.
template <class T, std::size_t ID>
struct ListLinksOf {
  static const ListLinks<ID>& get(const T& item) { return item; }
};

template <class T, std::size_t ID>
concept ListItem = requires(const T& item) {
  { ListLinksOf<T, ID>::get(item) } -> std::same_as<const ListLinks<ID>&>;
};

// The unique right to insert one object into lists with tag ID, holding one count of the object (an Arc).
//
// INVARIANT: at most one ListArc<T, ID> per object exists at any time (ListLinks' flag), so inserting twice
// is not expressible: the second caller has no ListArc to insert. Move-only, never copyable.
// Ways in: from_unique() always succeeds (nobody else can have one); try_from_arc() succeeds only if no
// ListArc<T, ID> exists now (none held, the object on no list with this ID). Ways out: into_arc(), or drop it.
// Does not handle: the kernel's "tracked" variants (ListArc built from a list's own Arc field) and pairs of
// ListArcs for two IDs taken at once (take them one at a time from the Arc).
// In the simulator try_from_arc() is a scheduling point on the object's links (the racy test-and-set);
// giving the right back is not (the count dropped after it is).
template <class T, std::size_t ID>
class ListArc {
  static_assert(ListItem<T, ID>, "T must carry a ListLinks<ID> (derive from it, or specialise ListLinksOf)");

 public:
  static ListArc from_unique(UniqueArc<T>&& unique) {
    const ListLinks<ID>& links = ListLinksOf<T, ID>::get(*unique);
    // INVARIANT: a UniqueArc's object has never been shared, so no ListArc for it can exist.
    assert(!links.list_arc_exists_.load(std::memory_order_relaxed));
    links.list_arc_exists_.store(true, std::memory_order_relaxed);
    return ListArc(std::move(unique).into_arc());
  }
  // The right to insert, taken from a shared object: empty if a ListArc<T, ID> already exists (someone holds
  // it, or the object is on a list with this ID). On success the ListArc holds its own count.
  static std::optional<ListArc> try_from_arc(const Arc<T>& arc, const Site& site = Site::current()) {
    const ListLinks<ID>& links = ListLinksOf<T, ID>::get(*arc);
    if (sim::World* w = sim_world()) {
      w->yield(sim::EventKind::Acquire, &links, site);
      w->touch(&links, true);
    }
    // Acquire: pairs with the release in give_back() by the previous holder, whose list operations we follow.
    if (links.list_arc_exists_.exchange(true, std::memory_order_acquire)) return std::nullopt;
    return ListArc(arc.clone(site));
  }

  ListArc(ListArc&& other) noexcept = default;
  ListArc& operator=(ListArc&& other) noexcept {
    ListArc old(std::move(*this));
    arc_ = std::move(other.arc_);
    return *this;
  }
  ListArc(const ListArc&) = delete;
  ListArc& operator=(const ListArc&) = delete;
  ~ListArc() { give_back(); }

  // Gives up the right to insert, keeping the count as a plain Arc.
  Arc<T> into_arc() && {
    give_back();
    return std::move(arc_);
  }
  Arc<T> clone_arc(const Site& site = Site::current()) const { return arc_.clone(site); }

  const T& operator*() const { return *arc_; }
  const T* operator->() const { return arc_.get(); }

 private:
  friend class List<T, ID>;
  explicit ListArc(Arc<T> arc) : arc_(std::move(arc)) {}

  // LIFETIME: called while arc_ still holds its count, so the links are alive; the count is dropped after.
  void give_back() {
    if (!arc_) return;
    const ListLinks<ID>& links = ListLinksOf<T, ID>::get(*arc_);
    if (sim::World* w = sim_world()) w->touch(&links, true);
    links.list_arc_exists_.store(false, std::memory_order_release);
  }

  Arc<T> arc_;  // null only after a move
};

// An intrusive, circular, doubly-linked list of ListArc<T, ID>s: inserting allocates nothing (the links live in
// the objects), so it works under a spinlock. The list owns the count of every object on it.
//
// INVARIANT: every object on the list was inserted as a ListArc and is on no other List<T, ID>; the list holds
// its count (as arc_ in the links) until the object is popped or removed, which gives the ListArc back.
// Does not handle: concurrency. Like a kernel list_head, a List is protected by the caller (a lock around every
// operation); the ListArc guarantee is what makes a missing lock on *another* list harmless for this one.
// Not movable (objects point back at their list). Iteration must not insert or remove.
// In the simulator each operation is one scheduling point on the list.
template <class T, std::size_t ID>
class List {
  static_assert(ListItem<T, ID>, "T must carry a ListLinks<ID> (derive from it, or specialise ListLinksOf)");

 public:
  List() = default;
  List(const List&) = delete;
  List& operator=(const List&) = delete;
  // Drops every remaining object's count (front to back).
  ~List() {
    if (sim::World* w = sim_world()) {
      // LIFETIME: a drop in a destructor may free objects (yield points); it must not be unwound halfway.
      sim::World::NoCancelScope scope(*w);
      clear();
      return;
    }
    clear();
  }

  bool empty() const { return first_ == nullptr; }
  std::size_t size() const { return size_; }

  void push_back(ListArc<T, ID> item, const Site& site = Site::current()) {
    schedule(site);
    const ListLinks<ID>* links = link(std::move(item));
    if (first_ == nullptr) {
      links->next_ = links->prev_ = first_ = links;
    } else {
      insert_before(links, first_);
    }
  }
  void push_front(ListArc<T, ID> item, const Site& site = Site::current()) {
    schedule(site);
    const ListLinks<ID>* links = link(std::move(item));
    if (first_ == nullptr) {
      links->next_ = links->prev_ = links;
    } else {
      insert_before(links, first_);
    }
    first_ = links;
  }
  std::optional<ListArc<T, ID>> pop_front(const Site& site = Site::current()) {
    schedule(site);
    if (first_ == nullptr) return std::nullopt;
    return unlink(first_);
  }
  std::optional<ListArc<T, ID>> pop_back(const Site& site = Site::current()) {
    schedule(site);
    if (first_ == nullptr) return std::nullopt;
    return unlink(first_->prev_);
  }
  // Removes `item` if it is on this list; empty if it is not (on another list, or on none).
  std::optional<ListArc<T, ID>> remove(const T& item, const Site& site = Site::current()) {
    schedule(site);
    const ListLinks<ID>& links = ListLinksOf<T, ID>::get(item);
    if (links.list_ != this) return std::nullopt;
    return unlink(&links);
  }
  bool contains(const T& item) const { return ListLinksOf<T, ID>::get(item).list_ == this; }

  // Calls f(const T&) for each object, front to back.
  template <class F>
  void for_each(F&& f) const {
    const ListLinks<ID>* node = first_;
    for (std::size_t i = 0; i < size_; ++i, node = node->next_)
      f(*Arc<T>::borrow_foreign(node->arc_));
  }

  // Drops every object's count, front to back.
  void clear() {
    while (first_ != nullptr)
      unlink(first_);  // each ListArc dropped here gives the right back, then the count
  }

 private:
  void schedule(const Site& site) {
    if (sim::World* w = sim_world()) {
      w->yield(sim::EventKind::Sync, this, site);
      w->touch(this, true);
    }
  }
  // Takes over the ListArc's count and right: the flag stays set while the object is on the list.
  const ListLinks<ID>* link(ListArc<T, ID>&& item) {
    const ListLinks<ID>& links = ListLinksOf<T, ID>::get(*item);
    assert(links.list_ == nullptr);  // INVARIANT of ListArc: a ListArc's object is on no List<T, ID>
    links.list_ = this;
    links.arc_ = std::move(item.arc_).into_foreign();
    ++size_;
    return &links;
  }
  static void insert_before(const ListLinks<ID>* links, const ListLinks<ID>* next) {
    links->next_ = next;
    links->prev_ = next->prev_;
    next->prev_->next_ = links;
    next->prev_ = links;
  }
  ListArc<T, ID> unlink(const ListLinks<ID>* links) {
    if (links->next_ == links) {
      first_ = nullptr;
    } else {
      links->prev_->next_ = links->next_;
      links->next_->prev_ = links->prev_;
      if (first_ == links) first_ = links->next_;
    }
    links->next_ = links->prev_ = nullptr;
    links->list_ = nullptr;
    --size_;
    // LIFETIME: the list's count comes back as the ListArc's; the right (flag) never stopped being held.
    return ListArc<T, ID>(Arc<T>::from_foreign(std::exchange(links->arc_, nullptr)));
  }

  const ListLinks<ID>* first_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace devsim::core
