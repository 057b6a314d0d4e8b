// The TSan build's true positive: the main thread and the thread it started write one plain variable between the
// start and the join, the only two points that order them. TSan must report it; otherwise core_stress_marked's
// "no report" would prove nothing. Built only with DEVSIM_SANITIZE=thread.
// No latch to start them together: with one, TSan reported the race in 18 of 30 runs (its wake-up path can order
// the writes as far as TSan knows); this form, TSan's own example, in 200 of 200.
#include <thread>

namespace {
int g_word = 0;
}

int main() {
  std::thread other([] { ++g_word; });
  --g_word;
  other.join();
  return g_word;
}
