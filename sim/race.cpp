#include "sim/race.hpp"

#include <algorithm>
#include <array>
#include <atomic>

#include "sim/shadow.hpp"

namespace devsim::sim {

namespace {
template <class Clock>
void join(Clock& into, const Clock& from) {
  if (into.size() < from.size()) into.resize(from.size(), 0);
  for (std::size_t i = 0; i < from.size(); ++i)
    into[i] = std::max(into[i], from[i]);
}

// The storage of the last detector that ended on this thread.
struct SpareStorage {
  std::vector<boost::container::small_vector<std::uint32_t, 8>> clocks, objects;
  boost::container::flat_map<const void*, std::uint32_t> object_index;
};
thread_local SpareStorage t_spare;

// A direct-mapped cache of the detectors' object_index_ (an object's index never changes): most lookups hit the
// same few objects again, and searching the map was most of a release's cost. Kept on the thread, tagged with the
// detector's id, so that a detector (one per execution) starts with nothing to clear.
// INVARIANT: a slot whose detector is d holds an object and its index in d's objects_.
struct RecentObject {
  std::uint64_t detector = 0;  // ids start at 1
  const void* object = nullptr;
  std::uint32_t index = 0;
};
constexpr unsigned kRecentBits = 8;
thread_local std::array<RecentObject, std::size_t{1} << kRecentBits> t_recent{};
// Ids are unique in the process (not just on the thread), so a detector used on another thread than the one that
// made it still never takes another's slot for its own.
std::atomic<std::uint64_t> g_detectors{0};

RecentObject& recent_slot(const void* object) {
  const auto a = reinterpret_cast<std::uintptr_t>(object);
  return t_recent[(a * 0x9E3779B97F4A7C15ULL) >> (64 - kRecentBits)];
}
}  // namespace

RaceDetector::RaceDetector() : id_(g_detectors.fetch_add(1, std::memory_order_relaxed) + 1) {
  // A nested world's detector finds the spare empty and grows its own.
  clocks_.swap(t_spare.clocks);
  objects_.swap(t_spare.objects);
  object_index_.swap(t_spare.object_index);
  clocks_.clear();
  objects_.clear();
  object_index_.clear();
}

RaceDetector::~RaceDetector() {
  clocks_.clear();
  objects_.clear();
  object_index_.clear();
  if (objects_.capacity() > t_spare.objects.capacity()) {
    t_spare.clocks.swap(clocks_);
    t_spare.objects.swap(objects_);
    t_spare.object_index.swap(object_index_);
  }
}

RaceDetector::Clock& RaceDetector::object_clock(const void* object) {
  RecentObject& slot = recent_slot(object);
  if (slot.detector != id_ || slot.object != object) {
    auto [it, fresh] = object_index_.try_emplace(object, static_cast<std::uint32_t>(objects_.size()));
    if (fresh) objects_.emplace_back();
    slot = RecentObject{id_, object, it->second};
  }
  return objects_[slot.index];
}

std::optional<std::uint32_t> RaceDetector::object_index(const void* object) {
  RecentObject& slot = recent_slot(object);
  if (slot.detector == id_ && slot.object == object) return slot.index;
  auto it = object_index_.find(object);
  if (it == object_index_.end()) return std::nullopt;
  slot = RecentObject{id_, object, it->second};
  return it->second;
}

RaceDetector::Clock& RaceDetector::new_clock(TaskId t) {
  if (clocks_.size() <= t) clocks_.resize(t + 1);
  Clock& c = clocks_[t];
  if (c.size() <= t) c.resize(t + 1, 0);
  if (c[t] == 0) c[t] = 1;  // a task's own epoch starts at 1: 0 means "never heard of"
  return c;
}

void RaceDetector::activate() {
  active_ = true;
}

void RaceDetector::release(TaskId task, const void* object) {
  if (!active_ || task == kNoTask) return;
  Clock& o = object_clock(object);
  // LIFETIME: clock() may grow clocks_, not objects_: `o` stays valid.
  Clock& c = clock(task);
  join(o, c);
  ++c[task];
}

void RaceDetector::acquire(TaskId task, const void* object) {
  if (!active_ || task == kNoTask) return;
  const std::optional<std::uint32_t> index = object_index(object);
  if (!index) return;
  join(clock(task), objects_[*index]);
}

void RaceDetector::sync(TaskId task, const void* object) {
  if (!active_ || task == kNoTask) return;
  Clock& o = object_clock(object);
  Clock& c = clock(task);
  join(o, c);
  join(c, o);
  ++c[task];
}

void RaceDetector::spawn(TaskId parent, TaskId child) {
  if (!active_) return;
  if (parent != kNoTask) {
    Clock copy = clock(parent);
    ++clock(parent)[parent];
    join(clock(child), copy);
  } else {
    clock(child);
  }
}

bool RaceDetector::before(const Access& a, TaskId t, const Clock& c) {
  if (a.task == t) return true;
  return a.task < c.size() && a.clock <= c[a.task];
}

std::optional<RaceDetector::Conflict> RaceDetector::access(TaskId task, std::uintptr_t address, std::size_t size,
                                                           bool write, std::uintptr_t pc, Cell* cells,
                                                           std::uintptr_t cells_base, std::uint32_t generation) {
  if (!active_) activate();
  // LIFETIME: nothing below adds a task, so the task's clock stays where it is.
  const Clock& mine = clock(task);
  const std::uint32_t now = mine[task];
  const bool atomic_write = write && size <= 8 && (size & (size - 1)) == 0 && address % size == 0;
  std::optional<Conflict> found;
  std::uintptr_t end = address + size;
  for (std::uintptr_t cell_start = address & ~std::uintptr_t{shadow::kCellBytes - 1}; cell_start < end;
       cell_start += shadow::kCellBytes) {
    Cell& cell = cells[(cell_start - cells_base) / shadow::kCellBytes];
    if (cell.generation != generation) {
      cell = Cell{};
      cell.generation = generation;
    }
    std::uintptr_t lo = std::max(address, cell_start), hi = std::min(end, cell_start + shadow::kCellBytes);
    auto mask = static_cast<std::uint8_t>(((1u << (hi - lo)) - 1u) << (lo - cell_start));
    Access me{task, now, pc, mask, write, atomic_write};
    auto conflicts = [&](const Access& a) {
      return a.task != kNoTask && (a.mask & mask) != 0 && !before(a, task, mine);
    };
    if (!found) {
      if (conflicts(cell.write) && !(write && atomic_write && cell.write.atomic_write))
        found = Conflict{cell.write, lo};
      else if (write) {
        for (const Access& r : cell.reads)
          if (!found && conflicts(r)) found = Conflict{r, lo};
      }
    }
    if (write) {
      cell.write = me;
      cell.reads[0] = Access{};
      cell.reads[1] = Access{};
    } else {
      // Keep the reads that may still race with a later write: replace this task's, or one ordered before
      // this read, or the empty slot, else the older.
      Access* slot = nullptr;
      for (Access& r : cell.reads)
        if (r.task == task || r.task == kNoTask) slot = &r;
      if (slot == nullptr)
        for (Access& r : cell.reads)
          if (before(r, task, mine)) slot = &r;
      if (slot == nullptr) slot = cell.reads[0].clock <= cell.reads[1].clock ? &cell.reads[0] : &cell.reads[1];
      *slot = me;
    }
  }
  return found;
}

}  // namespace devsim::sim
