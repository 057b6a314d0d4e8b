#include "cabi/site.hpp"

#include <bit>
#include <mutex>
#include <set>
#include <string>
#include <tuple>

namespace devsim::cabi {

namespace {

// The interned description of one C site. For std::source_location (libstdc++), the layout of its private
// __impl: a source_location is one pointer to such a record, which the compiler normally emits; here devsim emits
// it, once per distinct site.
struct SiteRecord {
  const char* file;
  const char* function;
  unsigned line;
  unsigned column;
};

struct Interned {
  std::mutex mutex;
  std::set<std::string> strings;                                  // node-based: c_str() stays put
  std::set<std::tuple<const char*, const char*, unsigned>> keys;  // the sites already made
  std::set<std::pair<std::tuple<const char*, const char*, unsigned>, const SiteRecord*>> records;
};

Interned& interned() {
  static Interned* i = new Interned();  // never destroyed: reports may print at exit
  return *i;
}

}  // namespace

sim::Site c_site(const char* file, int line, const char* function) {
  Interned& in = interned();
  std::lock_guard lock(in.mutex);
  const char* f = in.strings.emplace(file != nullptr ? file : "").first->c_str();
  const char* fn = in.strings.emplace(function != nullptr ? function : "").first->c_str();
  const unsigned l = line > 0 ? static_cast<unsigned>(line) : 0;
#ifdef __cpp_lib_source_location
  static_assert(sizeof(sim::Site) == sizeof(const SiteRecord*), "std::source_location is not one pointer");
  const auto key = std::make_tuple(f, fn, l);
  auto it = in.records.lower_bound({key, nullptr});
  const SiteRecord* rec = nullptr;
  if (it != in.records.end() && it->first == key) {
    rec = it->second;
  } else {
    rec = new SiteRecord{f, fn, l, 0};  // interned for the process's lifetime
    in.records.emplace(key, rec);
  }
  return std::bit_cast<sim::Site>(rec);
#else
  return sim::Site::current(f, fn, l);
#endif
}

}  // namespace devsim::cabi
