#include "sim/intern.hpp"

#include <functional>
#include <string>
#include <unordered_set>

namespace devsim::sim {

namespace {
struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
}  // namespace

std::string_view intern(std::string_view text) {
  // INVARIANT: the strings of an unordered_set never move (its nodes are stable), so a view stays valid.
  thread_local std::unordered_set<std::string, TextHash, std::equal_to<>> t_texts;
  auto it = t_texts.find(text);
  if (it == t_texts.end()) it = t_texts.emplace(text).first;
  return *it;
}

}  // namespace devsim::sim
