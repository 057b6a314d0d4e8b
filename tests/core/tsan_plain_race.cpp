// The TSan build's true positive: two threads write one plain variable with nothing ordering them. TSan must
// report it; otherwise core_stress_marked's "no report" would prove nothing. Built only with DEVSIM_SANITIZE=thread.
#include <latch>
#include <thread>

namespace {
long g_word = 0;
}

int main() {
  std::latch start(2);
  std::thread other([&] {
    start.arrive_and_wait();
    g_word = 1;
  });
  start.arrive_and_wait();
  g_word = 2;
  other.join();
  return g_word == 0 ? 1 : 0;
}
