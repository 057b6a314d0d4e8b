// Interned text: one stable copy of each distinct string, so that records made on the hot path (what a task
// holds, what lockdep saw taken) name things without allocating.
#pragma once

#include <string_view>

namespace devsim::sim {

// A view of a copy of `text` that lives as long as the calling thread: the same text always gives the same view.
// LIFETIME: a world runs on one thread and its records die with it, before the thread ends; a view must not be
// handed to another thread that may outlive this one (reports copy their text).
// Costs a hash of `text` and a lookup; allocates only the first time a text is seen on the thread. The table only
// grows: use it for names drawn from a small set (lock classes, contexts), not for data.
std::string_view intern(std::string_view text);

}  // namespace devsim::sim
