// kmemleak: at the end of an execution, a leak is an object nothing points to any more.
#pragma once

#include <cstddef>
#include <vector>

namespace devsim::sim {

class KernelMemory;
class World;

// Registers [start, start + size) as a root for the leak scan of the current world: a module global or other
// driver state kept outside simulated memory (the kernel scans its data and bss sections). An object that a
// root points to (directly, or through other objects) when the execution ends is not a leak. No-op outside a
// world. LIFETIME: the range must stay readable until the world ends, or be removed first.
void kmemleak_add_root(const void* start, std::size_t size);
template <class T>
void kmemleak_add_root(const T& object) {
  kmemleak_add_root(&object, sizeof(T));
}
// Forgets the root registered at `start` (no-op if none).
void kmemleak_remove_root(const void* start);

// The scan (mm/kmemleak.c kmemleak_scan): every live object starts white; objects marked not-leak and objects
// that a root references turn gray, and each gray object's memory is scanned in turn; a pointer-sized, aligned
// word whose value points into a live object (anywhere inside it, as scan_block's lookup does) greys that
// object. What stays white is unreferenced: it is reported, cycles of objects pointing at each other included.
// Returns, by allocation id, whether each object is an unreferenced leak (index 0 unused).
//
// Sees only pointers stored in simulated objects and registered roots: a pointer kept in host memory (a
// std::vector's buffer, a std::function's captures, an unregistered global) does not count, as memory that
// kmemleak does not scan does not count in the kernel.
// `world` holds the roots (the one that owns `memory`).
std::vector<bool> kmemleak_unreferenced(const KernelMemory& memory, World& world);

}  // namespace devsim::sim
