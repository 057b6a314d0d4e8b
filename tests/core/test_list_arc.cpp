// ListArc/List: at most once per list, by construction; the raw list_head API and its corruption checks; R15
// (the same object inserted twice) explored exhaustively both ways.
#define BOOST_TEST_MODULE core_list_arc
#include <boost/test/unit_test.hpp>

#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "core/list_arc.hpp"
#include "core/list_head.hpp"
#include "lifetime_support.hpp"
#include "sim/kmalloc.hpp"

using namespace devsim;
using core::Arc;
using core::List;
using core::ListArc;
using core::ListLinks;
using core::UniqueArc;
using core::test::run_task;

namespace {
constexpr std::size_t kQueue = 0;
constexpr std::size_t kPerFile = 1;

// An event that can sit on the global queue and on a per-file list at the same time.
struct Event : ListLinks<kQueue>, ListLinks<kPerFile> {
  int id = 0;
  explicit Event(int i) : id(i) {}
};

using QueueArc = ListArc<Event, kQueue>;
}  // namespace

// The guarantee is in the type: the right to insert cannot be duplicated.
static_assert(!std::is_copy_constructible_v<QueueArc>);
static_assert(!std::is_copy_assignable_v<QueueArc>);
static_assert(std::is_nothrow_move_constructible_v<QueueArc>);

namespace {
std::vector<int> ids(const List<Event, kQueue>& list) {
  std::vector<int> out;
  list.for_each([&](const Event& e) { out.push_back(e.id); });
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(push_pop_keep_order_and_give_list_arcs_back) {
  auto e = run_task([] {
    List<Event, kQueue> q;
    for (int i = 1; i <= 3; ++i)
      q.push_back(QueueArc::from_unique(UniqueArc<Event>::emplace(sim::Site::current(), i)));
    q.push_front(QueueArc::from_unique(UniqueArc<Event>::emplace(sim::Site::current(), 0)));
    BOOST_TEST(q.size() == 4u);
    BOOST_TEST(ids(q) == (std::vector<int>{0, 1, 2, 3}));
    std::optional<QueueArc> front = q.pop_front();
    BOOST_TEST_REQUIRE(front.has_value());
    BOOST_TEST((*front)->id == 0);
    std::optional<QueueArc> back = q.pop_back();
    BOOST_TEST((*back)->id == 3);
    BOOST_TEST(ids(q) == (std::vector<int>{1, 2}));
    q.push_back(std::move(*front));  // a ListArc given back can be inserted again
    BOOST_TEST(ids(q) == (std::vector<int>{1, 2, 0}));
  });  // the list drops what is left; the rest drop with their ListArcs: no leak
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(try_from_arc_fails_while_a_list_arc_exists) {
  auto e = run_task([] {
    Arc<Event> ev = Arc<Event>::emplace(sim::Site::current(), 5);
    std::optional<QueueArc> first = QueueArc::try_from_arc(ev);
    BOOST_TEST_REQUIRE(first.has_value());
    BOOST_TEST(ev.refcount() == 2);                       // the ListArc holds its own count
    BOOST_TEST(!QueueArc::try_from_arc(ev).has_value());  // held by a caller
    List<Event, kQueue> q;
    q.push_back(std::move(*first));
    first.reset();
    BOOST_TEST(!QueueArc::try_from_arc(ev).has_value());  // held by the list
    BOOST_TEST(q.contains(*ev));
    // Another list ID is another right: the same event can be on a per-file list at once.
    auto per_file = ListArc<Event, kPerFile>::try_from_arc(ev);
    BOOST_TEST(per_file.has_value());
    std::optional<QueueArc> removed = q.remove(*ev);
    BOOST_TEST_REQUIRE(removed.has_value());
    BOOST_TEST(!q.contains(*ev));
    BOOST_TEST(!q.remove(*ev).has_value());              // not on the list any more
    Arc<Event> plain = std::move(*removed).into_arc();   // gives the right back
    BOOST_TEST(QueueArc::try_from_arc(ev).has_value());  // so it can be taken again (and dropped at once)
    BOOST_TEST(ev.refcount() == 3);                      // ev, plain, per_file's count
  });
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(list_destruction_drops_every_count) {
  auto e = run_task([] {
    Arc<Event> ev = Arc<Event>::emplace(sim::Site::current(), 1);
    {
      List<Event, kQueue> q;
      q.push_back(*QueueArc::try_from_arc(ev));
      q.push_back(QueueArc::from_unique(UniqueArc<Event>::emplace(sim::Site::current(), 2)));
      BOOST_TEST(ev.refcount() == 2);
    }
    BOOST_TEST(ev.refcount() == 1);
    BOOST_TEST(QueueArc::try_from_arc(ev).has_value());  // the list gave the right back
    BOOST_TEST(sim::world().memory().live_objects() == 1u);
  });
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(native_list_works_without_the_simulator) {
  Arc<Event> ev = Arc<Event>::emplace(sim::Site::current(), 1);
  List<Event, kQueue> q;
  q.push_back(*QueueArc::try_from_arc(ev));
  BOOST_TEST(!QueueArc::try_from_arc(ev).has_value());
  BOOST_TEST(q.pop_front().has_value());
  BOOST_TEST(q.empty());
  BOOST_TEST(ev.refcount() == 1);
}

// ---- the raw API: CONFIG_DEBUG_LIST -------------------------------------------------------------------

namespace {
struct Node {
  core::ListHead link;
  int id = 0;
};
}  // namespace

BOOST_AUTO_TEST_CASE(raw_list_adds_and_deletes) {
  core::ListHead head;
  core::init_list_head(head);
  Node a, b;
  BOOST_TEST(core::list_add_tail(a.link, head));
  BOOST_TEST(core::list_add_tail(b.link, head));
  BOOST_TEST(head.next == &a.link);
  BOOST_TEST(head.prev == &b.link);
  BOOST_TEST(core::list_del(a.link));
  BOOST_TEST(a.link.next == core::kListPoison1);
  BOOST_TEST(head.next == &b.link);
  BOOST_TEST(core::list_del_init(b.link));
  BOOST_TEST(core::list_empty(head));
}

BOOST_AUTO_TEST_CASE(raw_double_add_is_reported_and_refused) {
  auto e = run_task([] {
    core::ListHead head;
    core::init_list_head(head);
    Node n;
    BOOST_TEST(core::list_add(n.link, head));
    BOOST_TEST(!core::list_add(n.link, head));  // refused: the list stays consistent
    BOOST_TEST(head.next == &n.link);
    BOOST_TEST(n.link.next == &head);
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].kind == "list-corruption");
  BOOST_TEST(e.reports[0].headline == "list_add double add");
}

BOOST_AUTO_TEST_CASE(raw_readd_elsewhere_is_caught_at_the_next_delete) {
  // a, b on the list; a added again at the head: not adjacent, so list_add cannot tell, but b's neighbour no
  // longer points back at it.
  auto e = run_task([] {
    core::ListHead head;
    core::init_list_head(head);
    Node a, b;
    core::list_add(a.link, head);
    core::list_add(b.link, head);              // head, b, a
    BOOST_TEST(core::list_add(a.link, head));  // head, a, b, a…: corrupt, undetected here (as in the kernel)
    BOOST_TEST(!core::list_del(b.link));
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].headline == "list_del corruption. next->prev should be entry");
}

BOOST_AUTO_TEST_CASE(raw_double_delete_hits_the_poison) {
  auto e = run_task([] {
    core::ListHead head;
    core::init_list_head(head);
    Node a;
    core::list_add(a.link, head);
    core::list_del(a.link);
    BOOST_TEST(!core::list_del(a.link));
  });
  BOOST_TEST_REQUIRE(e.reports.size() == 1u);
  BOOST_TEST(e.reports[0].headline == "list_del corruption, entry->next is LIST_POISON1");
}

BOOST_AUTO_TEST_CASE(raw_double_add_is_refused_natively) {
  core::ListHead head;
  core::init_list_head(head);
  Node n;
  BOOST_TEST(core::list_add(n.link, head));
  BOOST_TEST(!core::list_add(n.link, head));
  BOOST_TEST(head.next == &n.link);
}

// ---- R15: the same object inserted twice ----------------------------------------------------------------

namespace {
// Two tasks each insert "their" event into the shared queue; by mistake both got the same one (the Arc was
// cloned instead of a new event allocated). The raw way: both list_add it.
sim::Model raw_same_node_twice() {
  return [](sim::World& w) {
    auto head = std::make_shared<core::ListHead>();
    core::init_list_head(*head);
    sim::KPtr<Node> node = sim::kzalloc<Node>();
    sim::kmemleak_not_leak(node);
    for (const char* name : {"submit0", "submit1"})
      w.spawn(name, [head, node] { core::list_add_tail(node.write().link, *head); });
  };
}

// The ListArc way: each task must first get the right to insert; only one can.
struct Outcomes {
  int executions = 0;
  int one_inserted = 0;
};
sim::Model list_arc_same_object_twice(Outcomes* outcomes) {
  return [=](sim::World& w) {
    ++outcomes->executions;
    auto queue = std::make_shared<List<Event, kQueue>>();
    auto inserted = std::make_shared<int>(0);
    Arc<Event> ev = Arc<Event>::emplace(sim::Site::current(), 1);
    for (const char* name : {"submit0", "submit1"}) {
      w.spawn(name, [queue, inserted, ev, outcomes]() mutable {
        std::optional<QueueArc> right = QueueArc::try_from_arc(ev);
        ev.drop();
        if (right) {
          queue->push_back(std::move(*right));
          if (++*inserted == 1 && queue->size() == 1u) ++outcomes->one_inserted;
        }
        BOOST_TEST(*inserted <= 1);
      });  // the last task's lambda drops the queue, whose destructor drops the event's count: no leak
    }
  };
}
}  // namespace

BOOST_AUTO_TEST_CASE(r15_raw_list_add_twice_is_reported_as_list_corruption) {
  auto result = core::test::explore_exhaustively(raw_same_node_twice());
  BOOST_TEST(result.exhausted);
  BOOST_TEST(result.failing_executions == result.executions);  // every schedule adds it twice
  BOOST_TEST_REQUIRE(result.failures.size() == 1u);
  BOOST_TEST(result.failures[0].report.kind == "list-corruption");
  BOOST_TEST(result.failures[0].report.headline == "list_add double add");
}

BOOST_AUTO_TEST_CASE(r15_list_arc_makes_the_second_insertion_impossible) {
  Outcomes outcomes;
  auto result = core::test::explore_exhaustively(list_arc_same_object_twice(&outcomes));
  BOOST_TEST(result.exhausted);
  BOOST_TEST(result.failing_executions == 0u);
  BOOST_TEST(outcomes.executions > 1);
  BOOST_TEST(outcomes.one_inserted == outcomes.executions);  // exactly one insertion, in every schedule
}
