// ARef<T>: owned references to objects with their own count (devices), and R11 (a stored device pointer
// without a reference) explored exhaustively.
#define BOOST_TEST_MODULE core_aref
#include <boost/test/unit_test.hpp>

#include <memory>
#include <type_traits>
#include <utility>

#include "core/aref.hpp"
#include "core/kref.hpp"
#include "lifetime_support.hpp"
#include "sim/kmalloc.hpp"

using namespace devsim;
using core::ARef;
using core::test::run_task;

namespace drv {
// A device as C drivers see it: its own kref, get_device/put_device, released (freed) at the last put.
struct Device {
  core::Kref kref;
  int id = 7;
  int* released = nullptr;
};

void get_device(Device& dev, const sim::Site& site = sim::Site::current()) {
  dev.kref.get(site);
}
void put_device(Device* dev, const sim::Site& site = sim::Site::current()) {
  dev->kref.put(
      [dev] {
        if (dev->released != nullptr) ++*dev->released;
        if (sim::World::current() != nullptr)
          sim::kfree_raw(dev);
        else
          delete dev;
      },
      site);
}

// The AlwaysRefCounted customisation, found by argument-dependent lookup.
void inc_ref(Device& dev, const sim::Site& site) {
  get_device(dev, site);
}
void dec_ref(Device* dev, const sim::Site& site) {
  put_device(dev, site);
}

// Uses the traits specialisation instead of free functions.
struct Counted {
  int refs = 1;
};
}  // namespace drv

template <>
struct devsim::core::AlwaysRefCounted<drv::Counted> {
  static void inc_ref(drv::Counted& c, const sim::Site&) { ++c.refs; }
  static void dec_ref(drv::Counted* c, const sim::Site&) { --c->refs; }
};

static_assert(core::RefCountedObject<drv::Device>);
static_assert(core::RefCountedObject<drv::Counted>);
static_assert(!core::RefCountedObject<int>);

BOOST_AUTO_TEST_CASE(references_follow_construction_copy_move_and_destruction) {
  auto e = run_task([] {
    int released = 0;
    sim::KPtr<drv::Device> p = sim::kzalloc<drv::Device>();
    drv::Device& dev = p.write();
    dev.released = &released;
    {
      ARef<drv::Device> a(dev);  // from a borrow: takes a reference
      BOOST_TEST(dev.kref.read() == 2);
      ARef<drv::Device> b = a;  // NOLINT: copy takes another
      BOOST_TEST(dev.kref.read() == 3);
      ARef<drv::Device> c = std::move(b);  // move transfers
      BOOST_TEST(dev.kref.read() == 3);
      BOOST_TEST(!b);
      BOOST_TEST((c == a));
      BOOST_TEST(c->id == 7);
      c.drop();
      BOOST_TEST(dev.kref.read() == 2);
    }
    BOOST_TEST(dev.kref.read() == 1);
    BOOST_TEST(released == 0);
    drv::put_device(&dev);  // the creator's reference
    BOOST_TEST(released == 1);
  });
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(from_raw_adopts_and_into_raw_hands_back) {
  auto e = run_task([] {
    int released = 0;
    sim::KPtr<drv::Device> p = sim::kzalloc<drv::Device>();
    drv::Device* dev = p.unchecked();
    dev->released = &released;
    drv::get_device(*dev);                                       // C code took a reference...
    ARef<drv::Device> owned = ARef<drv::Device>::from_raw(dev);  // ...and the ARef adopts it
    BOOST_TEST(dev->kref.read() == 2);
    drv::Device* raw = std::move(owned).into_raw();  // back to C: the caller owns that reference now
    BOOST_TEST(!owned);
    BOOST_TEST(raw == dev);
    BOOST_TEST(dev->kref.read() == 2);
    drv::put_device(raw);
    {
      ARef<drv::Device> last = ARef<drv::Device>::from_raw(dev);  // the creator's reference, adopted
    }
    BOOST_TEST(released == 1);
  });
  BOOST_TEST(e.reports.empty());
}

BOOST_AUTO_TEST_CASE(traits_specialisation_is_used) {
  drv::Counted c;
  {
    ARef<drv::Counted> a(c);
    ARef<drv::Counted> b = a.clone();
    BOOST_TEST(c.refs == 3);
  }
  BOOST_TEST(c.refs == 1);
}

BOOST_AUTO_TEST_CASE(native_device_released_at_the_last_aref) {
  int released = 0;
  auto* dev = new drv::Device;
  dev->released = &released;
  ARef<drv::Device> a = ARef<drv::Device>::from_raw(dev);  // adopt the creator's reference
  ARef<drv::Device> b(*dev);
  a = ARef<drv::Device>();  // drops one
  BOOST_TEST(released == 0);
  b.drop();
  BOOST_TEST(released == 1);
}

// ---- R11: a driver keeps a device pointer; the bus drops the device -------------------------------------

namespace {
// What the driver stored at probe time: a raw pointer (the bug) or an ARef (the fix).
struct DriverState {
  drv::Device* raw = nullptr;
  ARef<drv::Device> ref;
  sim::KPtr<drv::Device> handle;  // for checked accesses to the same object
};

sim::Model stored_device_vs_unplug(bool with_aref) {
  return [=](sim::World& w) {
    sim::KPtr<drv::Device> p = sim::kzalloc<drv::Device>();  // the bus's reference
    auto state = std::make_shared<DriverState>();
    state->handle = p;
    // probe(): the driver remembers the device.
    if (with_aref)
      state->ref = ARef<drv::Device>(*p.unchecked());
    else
      state->raw = p.unchecked();
    w.spawn("bus", [p] { drv::put_device(p.unchecked()); });  // device_unregister: the bus's last put
    w.spawn("driver", [state] {
      sim::yield();                              // later: a work item, a sysfs read…
      BOOST_TEST(state->handle.read().id == 7);  // checked: the device must still be allocated
      state->ref.drop();
    });
  };
}
}  // namespace

BOOST_AUTO_TEST_CASE(r11_raw_device_pointer_is_a_use_after_free_in_some_schedule) {
  auto result = core::test::explore_exhaustively(stored_device_vs_unplug(false));
  BOOST_TEST(result.exhausted);
  BOOST_TEST_REQUIRE(!result.failures.empty());
  BOOST_TEST(result.failures[0].report.kind == "use-after-free");
  BOOST_TEST(result.failing_executions < result.executions);
}

BOOST_AUTO_TEST_CASE(r11_aref_keeps_the_device_alive_in_every_schedule) {
  auto result = core::test::explore_exhaustively(stored_device_vs_unplug(true));
  BOOST_TEST(result.exhausted);
  BOOST_TEST(result.executions > 1u);
  BOOST_TEST(result.failing_executions == 0u);  // no use-after-free, and no leak: the last ARef freed it
}
