// Native stress for interrupt lines on real OS threads (no simulated world: bus/native_runtime.hpp, hard-IRQ
// handlers on one-thread Asio contexts, one per CPU). Each guarantee bus/irq.hpp states is checked under
// concurrency, many times, with assertions that a broken runtime fails. Threads synchronise only through the API
// under test, atomics and latches; polling loops wait for a state the API reports, never for time, and bounded
// yield loops only widen a window in which a broken runtime would be caught.
// Runs under TSan and ASan in .ci/run (ctest label "native").
#define BOOST_TEST_MODULE bus_stress_irq
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "bus/errno.hpp"
#include "bus/irq.hpp"
#include "bus/native_runtime.hpp"
#include "core/irqflags.hpp"
#include "core/runtime.hpp"

using namespace devsim;
using namespace devsim::bus;

namespace {

template <class Pred>
void wait_until(Pred ready) {
  while (!ready())
    std::this_thread::yield();
}

// Gives another thread many chances to do what a broken runtime would let it do now.
void widen_window() {
  for (int i = 0; i < 1'000; ++i)
    std::this_thread::yield();
}

// Raises `irq` and returns once its handler (or thread function) runs and waits on `release`: the device's
// started/release pointers are set for that run and cleared again, so a replayed or re-run one neither signals nor
// waits. LIFETIME: both latches belong to the caller and must outlive the held run.
template <class Device>
void raise_and_hold(Device& d, unsigned irq, std::latch& started, std::latch& release) {
  d.started = &started;
  d.release = &release;
  raise_irq(irq);
  started.wait();
  d.started = nullptr;
  d.release = nullptr;
}

// A device's state as its handler sees it through dev_id.
struct Dev {
  std::atomic<int> inside{0};      // handler runs in progress now
  std::atomic<int> max_inside{0};  // the most ever seen at once
  std::atomic<long> runs{0};
  std::atomic<bool> saw_hardirq{true};    // every run found in_hardirq() and irqs_disabled()
  std::atomic<bool> saw_cpu{true};        // every run was on one of the runtime's CPUs
  std::atomic<bool> disable_self{false};  // the handler masks its own line (disable_irq_nosync)
  long plain = 0;  // written by the handler without a lock: synchronize_irq must order it before the reader
  std::latch* started = nullptr;                 // counted down by the handler, when set
  std::latch* release = nullptr;                 // waited for by the handler, when set
  void (*body)(unsigned irq, Dev& d) = nullptr;  // more for the handler to do, when set
};

IrqReturn handler(unsigned irq, void* dev_id) {
  Dev& d = *static_cast<Dev*>(dev_id);
  std::latch* started = d.started;
  std::latch* release = d.release;
  const int now = d.inside.fetch_add(1) + 1;
  int seen = d.max_inside.load();
  while (now > seen && !d.max_inside.compare_exchange_weak(seen, now)) {
  }
  if (!core::in_hardirq() || !core::irqs_disabled()) d.saw_hardirq = false;
  const int cpu = NativeDeferred::irq_cpu();
  if (cpu < 0 || cpu >= static_cast<int>(NativeDeferred::kIrqCpus)) d.saw_cpu = false;
  ++d.plain;
  d.runs.fetch_add(1);
  if (d.disable_self.load()) disable_irq_nosync(irq);
  if (started != nullptr) started->count_down();
  if (release != nullptr) release->wait();
  if (d.body != nullptr) d.body(irq, d);
  std::this_thread::yield();  // widen the window in which a second run could overlap this one
  d.inside.fetch_sub(1);
  return IrqReturn::Handled;
}

IrqReturn other_handler(unsigned, void*) {
  return IrqReturn::Handled;
}

struct NativeFixture {
  NativeFixture() { BOOST_TEST_REQUIRE(core::sim_world() == nullptr); }  // these run the native runtime
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(irq, NativeFixture)

// kernel/irq/handle.c handle_irq_event: the handler runs in hard-IRQ context (include/linux/preempt.h
// in_hardirq), with interrupts off on its CPU; the raising thread is not in it. irq_handled counts runs.
BOOST_AUTO_TEST_CASE(handler_runs_in_hardirq_context_on_a_cpu) {
  constexpr unsigned kIrq = 100;
  constexpr int kRaises = 200;
  Dev d;
  BOOST_TEST_REQUIRE(request_irq(kIrq, handler, "stress", &d) == 0);
  for (int i = 0; i < kRaises; ++i) {
    raise_irq(kIrq);
    synchronize_irq(kIrq);  // waits for the raise just made: one run each
  }
  BOOST_TEST(d.runs.load() == kRaises);
  BOOST_TEST(irq_handled(kIrq) == static_cast<std::uint64_t>(kRaises));
  BOOST_TEST(d.plain == kRaises);  // synchronize_irq ordered the handler's plain writes before this read
  BOOST_TEST(d.saw_hardirq.load());
  BOOST_TEST(d.saw_cpu.load());
  BOOST_TEST(!core::in_hardirq());
  BOOST_TEST(!core::irqs_disabled());
  BOOST_TEST(NativeDeferred::irq_cpu() == -1);
  // include/linux/irqflags.h local_irq_save: natively only recorded, for irqs_disabled().
  core::irqflags_t flags = 0;
  core::local_irq_save(flags);
  BOOST_TEST(core::irqs_disabled());
  BOOST_TEST(!core::in_hardirq());
  core::local_irq_restore(flags);
  BOOST_TEST(!core::irqs_disabled());
  free_irq(kIrq, &d);
}

// kernel/irq/chip.c handle_edge_irq: while the line's handler runs (IRQD_IRQ_INPROGRESS) a new interrupt is
// marked pending and the flow handler runs the handler once more after it, never beside it; raises meanwhile
// merge into that one run.
BOOST_AUTO_TEST_CASE(raise_while_running_is_delivered_after_it_once) {
  constexpr unsigned kIrq = 101;
  constexpr int kRounds = 500;
  Dev d;
  BOOST_TEST_REQUIRE(request_irq(kIrq, handler, "stress", &d) == 0);
  for (int i = 0; i < kRounds; ++i) {
    const long before = d.runs.load();
    std::latch started(1);
    std::latch release(1);
    raise_and_hold(d, kIrq, started, release);
    raise_irq(kIrq);
    raise_irq(kIrq);
    raise_irq(kIrq);
    release.count_down();
    synchronize_irq(kIrq);  // waits for the replay too: the line stays in progress through it
    BOOST_TEST_REQUIRE(d.runs.load() - before == 2);
    BOOST_TEST_REQUIRE(d.max_inside.load() == 1);
  }
  BOOST_TEST(irq_spurious(kIrq) == 0u);
  free_irq(kIrq, &d);
}

// The same guarantee with raisers on several threads at once: the handler never overlaps itself, and every
// raise is either a run or merged into one (at least one run, at most one per raise).
BOOST_AUTO_TEST_CASE(concurrent_raises_never_overlap_the_handler) {
  constexpr unsigned kIrq = 102;
  constexpr int kThreads = 4;
  constexpr int kRaises = 5'000;
  Dev d;
  BOOST_TEST_REQUIRE(request_irq(kIrq, handler, "stress", &d) == 0);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int k = 0; k < kRaises; ++k)
        raise_irq(kIrq);
    });
  for (std::thread& t : threads)
    t.join();
  synchronize_irq(kIrq);
  BOOST_TEST(d.max_inside.load() == 1);
  BOOST_TEST(d.runs.load() >= 1);
  BOOST_TEST(d.runs.load() <= kThreads * kRaises);
  BOOST_TEST(d.plain == d.runs.load());
  BOOST_TEST(irq_handled(kIrq) == static_cast<std::uint64_t>(d.runs.load()));
  BOOST_TEST(d.saw_hardirq.load());
  free_irq(kIrq, &d);
}

// Different lines do run at once (on different CPUs): a handler of one line waits, in hard-IRQ context, for a
// handler of another line to run. Raised one after the other, the second delivery goes to the next CPU
// (round-robin),
// so both handlers run together.
BOOST_AUTO_TEST_CASE(handlers_of_two_lines_run_at_once) {
  constexpr unsigned kIrqA = 103;
  constexpr unsigned kIrqB = 104;
  Dev a;
  Dev b;
  std::latch a_started(1);
  std::latch b_started(1);
  a.started = &a_started;
  a.release = &b_started;  // a returns only once b ran: a's CPU is busy meanwhile
  b.started = &b_started;
  BOOST_TEST_REQUIRE(request_irq(kIrqA, handler, "a", &a) == 0);
  BOOST_TEST_REQUIRE(request_irq(kIrqB, handler, "b", &b) == 0);
  raise_irq(kIrqA);
  a_started.wait();
  raise_irq(kIrqB);
  synchronize_irq(kIrqB);
  synchronize_irq(kIrqA);
  BOOST_TEST(a.runs.load() == 1);
  BOOST_TEST(b.runs.load() == 1);
  free_irq(kIrqA, &a);
  free_irq(kIrqB, &b);
}

// kernel/irq/manage.c free_irq -> __free_irq -> synchronize_hardirq: free_irq returns only after the running
// handler returned, so the caller may then free dev_id. The handler sees the line released (a second
// request_irq succeeds: free_irq has started) and then gives free_irq every chance to return early.
BOOST_AUTO_TEST_CASE(free_irq_waits_for_the_running_handler) {
  constexpr unsigned kIrq = 105;
  constexpr int kRounds = 100;
  for (int i = 0; i < kRounds; ++i) {
    struct Round {
      Dev d;
      std::atomic<bool> freed{false};
      std::atomic<bool> returned{false};
      std::atomic<bool> freed_while_running{false};
      int probe = 0;
    };
    static Round* round = nullptr;
    Round r;
    round = &r;
    r.d.body = [](unsigned irq, Dev&) {
      // free_irq() took the handler off the line: the line can be requested again.
      while (request_irq(irq, other_handler, "probe", &round->probe) != 0)
        std::this_thread::yield();
      widen_window();
      if (round->freed.load()) round->freed_while_running = true;
      round->returned = true;
    };
    std::latch started(1);
    r.d.started = &started;
    BOOST_TEST_REQUIRE(request_irq(kIrq, handler, "stress", &r.d) == 0);
    raise_irq(kIrq);
    started.wait();
    bool returned_before_free_returned = false;
    std::thread freer([&] {
      free_irq(kIrq, &r.d);
      returned_before_free_returned = r.returned.load();
      r.freed = true;
    });
    freer.join();
    BOOST_TEST_REQUIRE(returned_before_free_returned);
    BOOST_TEST_REQUIRE(!r.freed_while_running.load());
    BOOST_TEST_REQUIRE(r.d.inside.load() == 0);
    free_irq(kIrq, &r.probe);
  }
}

// kernel/irq/manage.c disable_irq: masks the line and waits for a running handler (synchronize_irq); the handler
// gives disable_irq every chance to return early once the disabling thread has started.
BOOST_AUTO_TEST_CASE(disable_irq_waits_for_the_running_handler) {
  constexpr unsigned kIrq = 106;
  constexpr int kRounds = 100;
  for (int i = 0; i < kRounds; ++i) {
    struct Round {
      Dev d;
      std::atomic<bool> disabling{false};
      std::atomic<bool> disabled{false};
      std::atomic<bool> returned{false};
      std::atomic<bool> disabled_while_running{false};
    };
    static Round* round = nullptr;
    Round r;
    round = &r;
    r.d.body = [](unsigned, Dev&) {
      wait_until([] { return round->disabling.load(); });
      widen_window();
      if (round->disabled.load()) round->disabled_while_running = true;
      round->returned = true;
    };
    std::latch started(1);
    r.d.started = &started;
    BOOST_TEST_REQUIRE(request_irq(kIrq, handler, "stress", &r.d) == 0);
    raise_irq(kIrq);
    started.wait();
    bool returned_before_disable_returned = false;
    std::thread disabler([&] {
      r.disabling = true;
      disable_irq(kIrq);
      returned_before_disable_returned = r.returned.load();
      r.disabled = true;
    });
    disabler.join();
    BOOST_TEST_REQUIRE(returned_before_disable_returned);
    BOOST_TEST_REQUIRE(!r.disabled_while_running.load());
    enable_irq(kIrq);
    free_irq(kIrq, &r.d);
  }
}

// kernel/irq/manage.c __enable_irq -> check_irq_resend: an interrupt that arrived while the line was disabled
// is delivered once by the enable_irq that unmasks it; disables nest.
BOOST_AUTO_TEST_CASE(masked_raises_are_delivered_by_enable_irq_once) {
  constexpr unsigned kIrq = 107;
  constexpr int kRounds = 500;
  Dev d;
  BOOST_TEST_REQUIRE(request_irq(kIrq, handler, "stress", &d) == 0);
  for (int i = 0; i < kRounds; ++i) {
    const long before = d.runs.load();
    disable_irq(kIrq);
    disable_irq(kIrq);
    raise_irq(kIrq);
    raise_irq(kIrq);
    raise_irq(kIrq);
    synchronize_irq(kIrq);  // the deliveries found the line masked
    BOOST_TEST_REQUIRE(d.runs.load() == before);
    enable_irq(kIrq);  // still disabled once: nothing delivered
    synchronize_irq(kIrq);
    BOOST_TEST_REQUIRE(d.runs.load() == before);
    enable_irq(kIrq);
    synchronize_irq(kIrq);
    BOOST_TEST_REQUIRE(d.runs.load() == before + 1);
    enable_irq(kIrq);  // unbalanced: nothing to unmask, nothing delivered
    synchronize_irq(kIrq);
    BOOST_TEST_REQUIRE(d.runs.load() == before + 1);
  }
  // Nothing raised while masked: enable_irq delivers nothing.
  disable_irq(kIrq);
  enable_irq(kIrq);
  synchronize_irq(kIrq);
  BOOST_TEST(d.runs.load() == kRounds);
  BOOST_TEST(irq_spurious(kIrq) == 0u);
  free_irq(kIrq, &d);
}

// kernel/irq/manage.c disable_irq_nosync: masks without waiting, so a handler may mask its own line (waiting
// there would be waiting for itself); the next raise stays pending until enable_irq.
BOOST_AUTO_TEST_CASE(handler_masks_its_own_line_with_disable_irq_nosync) {
  constexpr unsigned kIrq = 108;
  constexpr int kRounds = 500;
  Dev d;
  d.disable_self = true;
  BOOST_TEST_REQUIRE(request_irq(kIrq, handler, "stress", &d) == 0);
  for (int i = 0; i < kRounds; ++i) {
    raise_irq(kIrq);
    synchronize_irq(kIrq);
    BOOST_TEST_REQUIRE(d.runs.load() == 2 * i + 1);
    raise_irq(kIrq);  // masked by the handler
    synchronize_irq(kIrq);
    BOOST_TEST_REQUIRE(d.runs.load() == 2 * i + 1);
    enable_irq(kIrq);  // delivers it; that run masks the line again
    synchronize_irq(kIrq);
    BOOST_TEST_REQUIRE(d.runs.load() == 2 * i + 2);
    enable_irq(kIrq);
  }
  free_irq(kIrq, &d);
}

// kernel/irq/spurious.c note_interrupt: an interrupt with no handler is spurious; a handler runs only between
// request_irq and free_irq; a line has one handler (-EBUSY, shared lines are not modelled); free_irq with
// another dev_id leaves the handler installed.
BOOST_AUTO_TEST_CASE(raises_without_a_handler_are_spurious) {
  constexpr unsigned kIrq = 109;
  Dev d;
  int other = 0;
  raise_irq(kIrq);
  synchronize_irq(kIrq);
  BOOST_TEST(irq_spurious(kIrq) == 1u);
  BOOST_TEST(irq_handled(kIrq) == 0u);
  BOOST_TEST_REQUIRE(request_irq(kIrq, handler, "stress", &d) == 0);
  BOOST_TEST(request_irq(kIrq, other_handler, "other", &other) == -kEBUSY);
  free_irq(kIrq, &other);  // not this line's cookie: nothing happens
  raise_irq(kIrq);
  synchronize_irq(kIrq);
  BOOST_TEST(d.runs.load() == 1);
  BOOST_TEST(irq_handled(kIrq) == 1u);
  free_irq(kIrq, &d);
  raise_irq(kIrq);
  synchronize_irq(kIrq);
  BOOST_TEST(d.runs.load() == 1);
  BOOST_TEST(irq_spurious(kIrq) == 2u);
  BOOST_TEST(irq_handled(kIrq) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// A threaded line's device state: what the hard handler and the thread function see.
struct TDev {
  std::atomic<long> wakes{0};  // hard-handler runs that returned IrqReturn::WakeThread
  std::atomic<long> seen{0};   // `wakes` as the thread function last read it when it started
  std::atomic<int> inside{0};  // thread-function runs in progress now
  std::atomic<int> max_inside{0};
  std::atomic<long> runs{0};
  std::atomic<bool> process_context{true};  // every run: not in hard-IRQ context, interrupts on, on no CPU
  std::atomic<bool> stopped{false};         // set once free_irq returned: a run after is a violation
  std::atomic<long> after_stop{0};
  long plain = 0;  // written by the thread function without a lock: synchronize_irq orders it before the reader
  std::latch* started = nullptr;
  std::latch* release = nullptr;
};

IrqReturn thread_hard(unsigned, void* dev_id) {
  static_cast<TDev*>(dev_id)->wakes.fetch_add(1);
  return IrqReturn::WakeThread;
}

IrqReturn thread_fn(unsigned, void* dev_id) {
  TDev& d = *static_cast<TDev*>(dev_id);
  std::latch* started = d.started;
  std::latch* release = d.release;
  d.seen = d.wakes.load();
  const int now = d.inside.fetch_add(1) + 1;
  int seen = d.max_inside.load();
  while (now > seen && !d.max_inside.compare_exchange_weak(seen, now)) {
  }
  if (core::in_hardirq() || core::irqs_disabled() || NativeDeferred::irq_cpu() != -1) d.process_context = false;
  if (d.stopped.load()) d.after_stop.fetch_add(1);
  ++d.plain;
  d.runs.fetch_add(1);
  if (started != nullptr) started->count_down();
  if (release != nullptr) release->wait();  // a thread function may sleep
  std::this_thread::yield();
  d.inside.fetch_sub(1);
  return IrqReturn::Handled;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(threaded_irq, NativeFixture)

// kernel/irq/manage.c irq_wake_thread / irq_thread: after the hard handler returned IRQ_WAKE_THREAD the thread
// function runs in process context, one run per line at a time; a wake while it runs (IRQTF_RUNTHREAD set again)
// makes it run once more, so once synchronize_irq returned it has run after the last wake. Raises from several
// threads.
BOOST_AUTO_TEST_CASE(thread_fn_runs_after_every_wake_one_at_a_time) {
  constexpr unsigned kIrq = 120;
  constexpr int kThreads = 3;
  constexpr int kRaises = 2'000;
  TDev d;
  BOOST_TEST_REQUIRE(request_threaded_irq(kIrq, thread_hard, thread_fn, "threaded", &d) == 0);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int k = 0; k < kRaises; ++k)
        raise_irq(kIrq);
    });
  for (std::thread& t : threads)
    t.join();
  synchronize_irq(kIrq);
  BOOST_TEST(d.wakes.load() >= 1);
  BOOST_TEST(d.seen.load() == d.wakes.load());  // the thread ran after the last wake
  BOOST_TEST(d.runs.load() >= 1);
  BOOST_TEST(d.runs.load() <= d.wakes.load());  // wakes while it runs merge into one more run
  BOOST_TEST(d.max_inside.load() == 1);
  BOOST_TEST(d.inside.load() == 0);
  BOOST_TEST(d.plain == d.runs.load());
  BOOST_TEST(d.process_context.load());
  free_irq(kIrq, &d);
}

// kernel/irq/manage.c request_threaded_irq: no hard handler means irq_default_primary_handler, which wakes the
// thread every time; neither handler is -EINVAL.
BOOST_AUTO_TEST_CASE(default_primary_handler_wakes_the_thread) {
  constexpr unsigned kIrq = 121;
  constexpr int kRaises = 300;
  TDev d;
  BOOST_TEST(request_threaded_irq(kIrq, nullptr, nullptr, "none", &d) == -kEINVAL);
  BOOST_TEST_REQUIRE(request_threaded_irq(kIrq, nullptr, thread_fn, "threaded", &d) == 0);
  BOOST_TEST(request_irq(kIrq, thread_hard, "taken", &d) == -kEBUSY);
  for (int i = 1; i <= kRaises; ++i) {
    raise_irq(kIrq);
    synchronize_irq(kIrq);  // the hard handler, then the thread function it woke
    BOOST_TEST_REQUIRE(d.runs.load() == i);
    BOOST_TEST_REQUIRE(d.plain == i);
  }
  BOOST_TEST(d.process_context.load());
  free_irq(kIrq, &d);
}

// kernel/irq/manage.c synchronize_irq waits for threads_active to reach 0, and disable_irq synchronizes: neither
// returns while the thread function runs. The hard handler is not held meanwhile: a raise while the thread function
// sleeps runs it (and its wake runs the thread function once more, after).
BOOST_AUTO_TEST_CASE(synchronize_and_disable_wait_for_the_thread_fn) {
  constexpr unsigned kIrq = 122;
  constexpr int kRounds = 200;
  TDev d;
  BOOST_TEST_REQUIRE(request_threaded_irq(kIrq, thread_hard, thread_fn, "threaded", &d) == 0);
  for (int i = 0; i < kRounds; ++i) {
    const long runs_before = d.runs.load();
    const long wakes_before = d.wakes.load();
    std::latch started(1);
    std::latch release(1);
    raise_and_hold(d, kIrq, started, release);
    raise_irq(kIrq);
    wait_until([&] { return d.wakes.load() == wakes_before + 2; });  // the hard handler ran beside the thread
    const bool disable = i % 2 == 1;
    std::atomic<bool> returned{false};
    std::atomic<int> inside_at_return{-1};
    std::atomic<long> runs_at_return{-1};
    std::thread waiter([&] {
      if (disable)
        disable_irq(kIrq);
      else
        synchronize_irq(kIrq);
      inside_at_return = d.inside.load();
      runs_at_return = d.runs.load();
      returned = true;
    });
    widen_window();
    const bool early = returned.load();
    release.count_down();
    waiter.join();
    if (disable) enable_irq(kIrq);
    BOOST_TEST_REQUIRE(!early);
    BOOST_TEST_REQUIRE(inside_at_return.load() == 0);
    BOOST_TEST_REQUIRE(runs_at_return.load() == runs_before + 2);  // the woken re-run is waited for too
    BOOST_TEST_REQUIRE(d.max_inside.load() == 1);
  }
  free_irq(kIrq, &d);
}

// include/linux/interrupt.h IRQF_ONESHOT, kernel/irq/manage.c irq_finalize_oneshot: the line stays masked while the
// thread function runs, so a raise meanwhile does not reach the hard handler; it is delivered when the thread
// function returned, and its wake runs the thread function once more. (The test above shows the hard handler
// running beside the thread function without the flag.)
BOOST_AUTO_TEST_CASE(a_oneshot_line_stays_masked_until_the_thread_fn_returned) {
  constexpr unsigned kIrq = 126;
  constexpr int kRounds = 200;
  TDev d;
  BOOST_TEST(request_threaded_irq(kIrq, nullptr, thread_fn, 0, "threaded", &d) == -kEINVAL);
  BOOST_TEST_REQUIRE(request_threaded_irq(kIrq, thread_hard, thread_fn, kIrqfOneshot, "oneshot", &d) == 0);
  for (int i = 0; i < kRounds; ++i) {
    const long wakes_before = d.wakes.load();
    const long runs_before = d.runs.load();
    std::latch started(1);
    std::latch release(1);
    raise_and_hold(d, kIrq, started, release);  // the thread function sleeps on `release`: the line is masked
    raise_irq(kIrq);
    widen_window();
    const long wakes_while_masked = d.wakes.load();
    release.count_down();
    wait_until([&] { return d.wakes.load() == wakes_before + 2 && d.runs.load() == runs_before + 2; });
    synchronize_irq(kIrq);
    BOOST_TEST_REQUIRE(wakes_while_masked == wakes_before + 1);  // the second raise waited for the unmask
    BOOST_TEST_REQUIRE(d.runs.load() == runs_before + 2);
    BOOST_TEST_REQUIRE(d.max_inside.load() == 1);
  }
  free_irq(kIrq, &d);
}

// kernel/irq/manage.c __free_irq: synchronize_irq (threads_active), then kthread_stop, whose irq thread runs a
// pending wake one last time (irq_wait_for_interrupt): free_irq returns once the thread function's runs are over,
// the woken re-run included, and it never runs again, so the caller may free dev_id.
BOOST_AUTO_TEST_CASE(free_irq_waits_for_the_thread_fn_and_it_never_runs_after) {
  constexpr unsigned kIrq = 123;
  constexpr int kRounds = 200;
  for (int i = 0; i < kRounds; ++i) {
    TDev d;
    BOOST_TEST_REQUIRE(request_threaded_irq(kIrq, thread_hard, thread_fn, "threaded", &d) == 0);
    std::latch started(1);
    std::latch release(1);
    raise_and_hold(d, kIrq, started, release);
    raise_irq(kIrq);
    wait_until([&] { return d.wakes.load() == 2; });
    std::atomic<bool> returned{false};
    std::atomic<int> inside_at_return{-1};
    std::atomic<long> runs_at_return{-1};
    std::thread freer([&] {
      free_irq(kIrq, &d);
      inside_at_return = d.inside.load();
      runs_at_return = d.runs.load();
      d.stopped = true;
      returned = true;
    });
    widen_window();
    const bool early = returned.load();
    release.count_down();
    freer.join();
    raise_irq(kIrq);  // no handler now: spurious
    synchronize_irq(kIrq);
    BOOST_TEST_REQUIRE(!early);
    BOOST_TEST_REQUIRE(inside_at_return.load() == 0);
    BOOST_TEST_REQUIRE(runs_at_return.load() == 2);
    BOOST_TEST_REQUIRE(d.runs.load() == 2);
    BOOST_TEST_REQUIRE(d.after_stop.load() == 0);
  }
}

BOOST_AUTO_TEST_SUITE_END()
