// Fuzzing hotplug sequences: generate operation sequences for a driver, run each under random/PCT schedules
// with fault injection, deduplicate failures by signature, and shrink each to a small replayable scenario.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
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

// Case generation: a small world for `driver` (its bus, one device present at start, 2–4 tasks of 1–5
// operations each) drawn from `seed`. Sequences are valid by construction where that is cheap (descriptors are
// used after they are opened), and deliberately invalid sometimes (a descriptor used after close). Fault
// injection: fail-nth over the first allocations, in a share of the cases.
scenarios::Scenario generate(const drivers::DriverInfo& driver, std::uint64_t seed);
// The same, with every decision taken from `source`; the exploration seed is `seed`.
scenarios::Scenario generate(const drivers::DriverInfo& driver, ChoiceSource& source, std::uint64_t seed);

// How each case is explored.
struct CaseSettings {
  std::uint64_t executions = 24;  // schedules per case (random and PCT alternate)
};

// A distinct bug and its reproducer.
struct Finding {
  std::string signature;              // kind + access site + free site
  sim::Report report;                 // as first seen
  std::uint64_t first_execution = 0;  // campaign-wide execution count when first seen
  double first_seconds = 0;           // campaign time when first seen
  std::size_t ops_before = 0;         // operations of the generated case
  std::size_t ops_after = 0;          // operations of the shrunk reproducer
  std::string reproducer;             // scenario text with its recorded schedule
  std::string original;               // the generated case as a scenario (kept when shrinking fails)
  std::uint64_t count = 0;            // failing executions with this signature
};

struct CampaignOptions {
  std::string driver;
  std::uint64_t seed = 1;
  double seconds = 0;            // 0: no time limit
  std::uint64_t executions = 0;  // 0: no execution limit (one of the two must be set)
  unsigned jobs = 1;
  unsigned shard = 0, shards = 1;  // this machine takes case numbers i with i % shards == shard
  bool stop_at_first = false;      // end once one bug is found and shrunk
  std::string stop_at_kind;        // end once a bug of this kind is found and shrunk
  CaseSettings cases;
  // Called now and then (about every half second) from the calling thread with the counters so far.
  std::function<void(std::uint64_t executions, std::uint64_t cases, std::size_t bugs, double seconds)> progress;
};

struct CampaignResult {
  std::uint64_t executions = 0;
  std::uint64_t cases = 0;
  double seconds = 0;
  std::vector<Finding> findings;  // in order of discovery
};

// Runs a campaign. Throws std::invalid_argument for an unknown driver.
CampaignResult run_campaign(const CampaignOptions& options);

// Shrinks a failing case to a scenario with few operations and its recorded schedule that replays to
// `signature`. Returns the reproducer text ("" if the failure could not be reproduced at all).
std::string shrink(const scenarios::Scenario& failing, const std::string& signature, const CaseSettings& settings,
                   std::size_t* ops_after);

std::size_t count_ops(const scenarios::Scenario& s);

}  // namespace devsim::fuzz
