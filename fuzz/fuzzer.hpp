// Fuzzing hotplug sequences: generate operation sequences for one driver or several loaded together, run each
// under random/PCT schedules with fault injection, deduplicate failures by root cause, and shrink each to a
// small replayable scenario.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "drivers/registry.hpp"
#include "scenarios/scenario.hpp"
#include "sim/report.hpp"

namespace devsim::fuzz {

// Where a generated case's decisions come from: a seeded stream (devsim fuzz) or the bytes of a libFuzzer input.
class ChoiceSource {
 public:
  virtual ~ChoiceSource() = default;
  // A value in [0, bound) (0 when bound is 0).
  virtual std::uint64_t below(std::uint64_t bound) = 0;
  bool chance(unsigned percent) { return below(100) < percent; }
};

// A stream of random numbers that is the same on every platform (splitmix64).
class Rng final : public ChoiceSource {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  std::uint64_t below(std::uint64_t bound) override { return bound == 0 ? 0 : next() % bound; }

 private:
  std::uint64_t state_;
};

// Decisions read from bytes, one byte each (so a coverage-guided fuzzer's mutations map to small changes of the
// case); zeros once the bytes run out.
class ByteSource final : public ChoiceSource {
 public:
  ByteSource(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint64_t below(std::uint64_t bound) override {
    if (bound == 0) return 0;
    std::uint64_t v = pos_ < size_ ? data_[pos_++] : 0;
    if (bound > 256 && pos_ < size_) v = v << 8 | data_[pos_++];
    return v % bound;
  }
  std::size_t consumed() const { return pos_; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// Every operation of the scenario language the generator emits: every OpKind (tests/fuzz checks that a
// generated corpus contains each, so an operation added to the language without generator support fails).
//
// Case generation: a small world drawn from `seed` over the driver `pool`. With one driver: that driver, its
// device present at start. With several: a few of them (2–4, and now and then the whole pool) loaded together,
// each with its device (usb ports 1-1, 1-2, …; platform devices named after the driver), and tasks using every
// node of every chosen driver. 2–4 tasks of 1–6 operations each. Sequences are valid by construction where
// that is cheap (descriptors are used after they are opened), and deliberately invalid sometimes (a descriptor
// used after close, munmap without mmap, sysfs paths that are not there). Fault injection: fail-nth over the
// first allocations, in a share of the cases.
scenarios::Scenario generate(std::span<const drivers::DriverInfo* const> pool, ChoiceSource& source,
                             std::uint64_t seed);
scenarios::Scenario generate(const drivers::DriverInfo& driver, std::uint64_t seed);
// The same, with every decision taken from `source`; the exploration seed is `seed`.
scenarios::Scenario generate(const drivers::DriverInfo& driver, ChoiceSource& source, std::uint64_t seed);
// The generator's seeded stream for case seed `seed` (what run_campaign uses).
scenarios::Scenario generate_case(std::span<const drivers::DriverInfo* const> pool, std::uint64_t seed);

// The root cause of a report, the key findings are deduplicated by: its kind, the site that allocated the object
// and the site that freed it. Reports without either (a deadlock, a refcount warning, an unexpected result)
// are keyed by kind and the reporting site instead.
std::string root_cause(const sim::Report& report);
// Where the report's access happened ("drivers/x.cpp:42 in x_ioctl"), "" if it names none.
std::string access_site(const sim::Report& report);

// How each case is explored.
struct CaseSettings {
  std::uint64_t executions = 24;  // schedules per case (random and PCT alternate)
};

// A distinct bug (one root cause) and its reproducer.
struct Finding {
  std::size_t index = 0;                  // 1-based, in the order of the campaign's case numbers
  std::string key;                        // root_cause() of its reports
  std::string signature;                  // the first report's full signature (kind + access site + free site)
  sim::Report report;                     // as first seen
  std::vector<std::string> access_sites;  // every access site seen with this root cause, in order of discovery
  std::vector<std::string> drivers;       // the drivers of the case that first showed it
  std::uint64_t case_number = 0;          // the global case number that first showed it
  std::uint64_t case_seed = 0;            // that case's seed
  std::uint64_t first_execution = 0;      // campaign-wide execution count (committed cases) when first seen
  double first_seconds = 0;               // campaign time when first seen (a timing field: not deterministic)
  std::size_t ops_before = 0;             // operations of the generated case
  std::size_t ops_after = 0;              // operations of the reproducer
  bool shrunk = false;                    // the reproducer is the shrunk case (else the generated one, see note)
  std::string note;                       // why the reproducer is not (fully) shrunk; "" when it is
  std::string reproducer;                 // scenario text with its recorded schedule (never empty once final)
  std::uint64_t count = 0;                // failing executions with this root cause
};

struct CampaignOptions {
  std::string driver;                // one driver, or:
  std::vector<std::string> drivers;  // a pool: each case loads a few of them together (overrides `driver`)
  std::uint64_t seed = 1;
  double seconds = 0;            // 0: no time limit
  std::uint64_t executions = 0;  // 0: no execution limit (one of the two must be set, or `cancel`)
  unsigned jobs = 1;
  unsigned shard = 0, shards = 1;  // this machine takes case numbers i with i % shards == shard
  bool stop_at_first = false;      // end once one bug is found and shrunk
  std::string stop_at_kind;        // end once a bug of this kind is found and shrunk
  CaseSettings cases;
  // Set from outside (a signal handler) to end the campaign early: no new case starts, shrinking in progress
  // stops and keeps what it has, and every finding so far still gets its reproducer.
  const std::atomic<bool>* cancel = nullptr;
  // Called now and then (about every half second) from a helper thread with the counters so far.
  std::function<void(std::uint64_t executions, std::uint64_t cases, std::size_t bugs, double seconds)> progress;
  // Called once per finding as soon as its reproducer is final (so it can be written at once), with the
  // campaign's lock held: calls are serialised. Findings may complete out of index order.
  std::function<void(const Finding&)> on_finding;
};

struct CampaignResult {
  std::uint64_t executions = 0;
  std::uint64_t cases = 0;
  double seconds = 0;
  bool cancelled = false;         // ended by `cancel`
  std::vector<Finding> findings;  // in index order
};

// Runs a campaign. Throws std::invalid_argument for an unknown driver or a bad shard, std::runtime_error when
// the worker threads cannot be started (the threads already started are stopped and joined first).
//
// Determinism: cases are committed in case-number order whatever job finished them, so the findings (their
// numbering, first_execution, counts, reproducers) depend on the seed, shard and budget only — not on the
// number of jobs or on timing — when the campaign ends by its execution budget. A time limit or `cancel` ends
// it at a point that depends on timing; what was committed up to there is still numbered the same way.
CampaignResult run_campaign(const CampaignOptions& options);

struct ShrinkResult {
  std::string reproducer;  // scenario text with its recorded schedule; "" only if the failure never replayed
  std::size_t ops_after = 0;
  bool shrunk = false;
  std::string note;  // why not (fully) shrunk
};

// Shrinks a failing case to a scenario with few operations and its recorded schedule that replays to a report
// with root cause `key`. Starts from `report`'s recorded schedule (replayed first), so a failure that replays is
// never lost: when shrinking cannot proceed the reproducer is the generated case with that schedule.
ShrinkResult shrink(const scenarios::Scenario& failing, const sim::Report& report, const CaseSettings& settings,
                    const std::atomic<bool>* cancel = nullptr);

std::size_t count_ops(const scenarios::Scenario& s);

// Why a campaign would never reach a driver's file operations: for each named driver with a node, a message for
// each node that does not exist once its device is plugged (or, without a bus, the module loaded), found by one
// execution that opens each node alone. Such a campaign runs and finds nothing, silently: a node name given wrong
// (NODE of devsim_add_c_driver: a USB class driver's devnode callback may move it, legousbtower.c's is under usb/) or
// a probe that refuses the mock device. Unknown drivers are skipped (run_campaign rejects them).
std::vector<std::string> missing_nodes(const std::vector<std::string>& drivers);
// The attribute files of driver `name`'s device once plugged and probed (one execution): names in its sysfs
// directory and, for attribute groups, "group/name"; sorted. The fuzzer reads and writes them. Empty for a driver
// without a device, or whose probe made none.
std::vector<std::string> device_attributes(const std::string& name);

// For the crash handler of the devsim fuzz command: a NUL-terminated description of the case the calling
// thread is running ("drivers a b, case seed N"), or "" when none. Async-signal-safe to read.
const char* current_case_description();

}  // namespace devsim::fuzz
