// Models and helpers shared by the sim/ suites: closed-form interleaving counts, step-logging models and
// printers that let BOOST_TEST show engine enums.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "sim/explorer.hpp"
#include "sim/kmalloc.hpp"
#include "sim/world.hpp"

namespace devsim::sim {
// Lets BOOST_TEST print outcomes it compares (found by argument-dependent lookup).
inline std::ostream& boost_test_print_type(std::ostream& os, Outcome outcome) {
  return os << to_string(outcome);
}
inline std::ostream& boost_test_print_type(std::ostream& os, TaskState state) {
  return os << static_cast<int>(state);
}
}  // namespace devsim::sim

namespace devsim::sim::test {

// n choose k, exact for the small numbers the suites use.
inline std::uint64_t binomial(std::uint64_t n, std::uint64_t k) {
  std::uint64_t r = 1;
  for (std::uint64_t i = 1; i <= k; ++i)
    r = r * (n - k + i) / i;
  return r;
}

inline std::uint64_t factorial(std::uint64_t n) {
  std::uint64_t r = 1;
  for (std::uint64_t i = 2; i <= n; ++i)
    r *= i;
  return r;
}

// (sum of steps)! / prod(steps!): the number of interleavings of tasks with these step counts.
inline std::uint64_t multinomial(const std::vector<int>& steps) {
  std::uint64_t total = 0, r = 1;
  for (int s : steps) {
    total += static_cast<std::uint64_t>(s);
    r *= binomial(total, static_cast<std::uint64_t>(s));
  }
  return r;
}

// One task per entry, each running `steps[i]` steps (so steps[i]-1 yields) and touching nothing: every step
// commutes with every other. If `log` is given, each step appends "<task><step>," to it, so a caller can tell
// interleavings apart.
inline Model yielding_tasks(std::vector<int> steps, std::string* log = nullptr) {
  return [steps = std::move(steps), log](World& w) {
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const int n = steps[i];
      w.spawn("t" + std::to_string(i), [n, i, log] {
        for (int s = 0; s < n; ++s) {
          if (log != nullptr) *log += std::to_string(i) + "." + std::to_string(s) + ",";
          if (s + 1 < n) yield();
        }
      });
    }
  };
}

// Each task allocates its own object, writes it `writes` times (a step each) and frees it: the steps of
// different tasks touch different objects only, so they commute.
inline Model private_objects(int tasks, int writes) {
  return [tasks, writes](World& w) {
    for (int i = 0; i < tasks; ++i) {
      w.spawn("owner" + std::to_string(i), [writes] {
        KPtr<int> mine = kmalloc<int>(0);
        for (int s = 0; s < writes; ++s) {
          mine.write() += 1;
          yield();
        }
        kfree(mine);
      });
    }
  };
}

}  // namespace devsim::sim::test
