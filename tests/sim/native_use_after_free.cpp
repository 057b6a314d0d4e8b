// A use-after-free of a kfree'd block without a simulated world, for the ASan build: ASan must report it (the
// ctest check in tests/sim/CMakeLists.txt matches its report). The block was poisoned by kfree
// (sim/native_kmalloc.cpp); nothing else would stop this read.
#include <cstdio>

#include "sim/kmalloc.hpp"

namespace {
struct Obj {
  long value = 42;
};
}  // namespace

int main() {
  devsim::sim::KPtr<Obj> p = devsim::sim::kzalloc<Obj>();
  devsim::sim::kfree(p);
  const long v = p.load(&Obj::value);  // the bug: a read after kfree
  std::printf("read %ld after kfree: not caught\n", v);
  return 0;
}
