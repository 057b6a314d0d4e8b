// Call stacks for reports: captured cheaply by walking frame pointers, symbolised only when a report is printed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace devsim::sim {

// The return addresses of a call stack, innermost first. A fixed array: capturing one allocates nothing, so
// every allocation and free can afford it (docs/performance.md has the cost).
struct StackTrace {
  static constexpr std::size_t kMaxFrames = 20;
  std::uint8_t depth = 0;
  std::array<std::uintptr_t, kMaxFrames> pcs{};  // only [0, depth) is meaningful

  bool empty() const { return depth == 0; }
};

// Walks the frame-pointer chain from the caller outwards. Reads only words inside [low, high) (the running
// fiber's stack): a frame pointer outside it, misaligned, or not moving towards the stack's top ends the walk,
// so code built without frame pointers shortens the stack but never makes the walk read elsewhere.
StackTrace capture_stack(const void* low, const void* high) noexcept;
// The running task's stack, bounded by that task's fiber stack. Empty outside a task (set-up code, the
// scheduler): those frames belong to whatever harness runs the world and would make reports differ between a
// run and its replay.
StackTrace capture_current_stack() noexcept;
// Code was loaded at run time (a C driver's module copy): the symboliser looks at the loaded objects again before
// the next address it has not seen (libbacktrace lists the loaded objects once, when its state is made).
void stacktrace_code_loaded() noexcept;

// One symbolised frame.
struct StackFrame {
  std::string function;  // bare name, as reports name functions: "legacy_ioctl"
  std::string location;  // "drivers/legacy.cpp:42" (project root stripped)
  bool inlined = false;  // inlined into the next frame
};

// The frames of `stack` that a reader wants, innermost first, inlined calls expanded: frames in the engine
// (sim/), in the C++ standard library and Boost headers (/usr/...), and in code without debug information are
// dropped, so what remains is simulated-kernel code: core/, bus/, drivers and the model's own code.
// Symbolises with libbacktrace; results are cached per address, and safe to call from several threads.
std::vector<StackFrame> symbolize(const StackTrace& stack);
// Whether any kept frame of `stack` is the function `name` (bare name).
bool stack_has_function(const StackTrace& stack, std::string_view name);

// A stack of one return address: what is known of an access the compiler instrumentation saw earlier (the other
// side of a data race), whose full stack was not kept.
StackTrace stack_of_return_address(std::uintptr_t return_address) noexcept;
// The innermost kept frame of the code at return address `return_address` (inlined calls expanded, as
// symbolize does); {"?", "?"} when it has none.
StackFrame innermost_frame(std::uintptr_t return_address);
// The variable that holds data address `address` (a C module's global), as the kernel prints one:
// "name+0xOFFSET/0xSIZE"; "?" when no symbol holds it.
std::string data_symbol(std::uintptr_t address);
// Whether the code at `return_address` is devsim's model of the kernel (core/, bus/, cabi/) rather than code under test
// (drivers, models, a user's drivers): where its innermost kept frame is. After the first call per address and
// thread, one hash lookup.
bool is_kernel_model_code(std::uintptr_t return_address);

}  // namespace devsim::sim
