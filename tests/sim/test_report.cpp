// Reports (report.hpp): the KASAN-style text and the JSON of a use-after-free carry what a developer needs
// to find both sides of the race, and the signature tells distinct bugs apart.
#define BOOST_TEST_MODULE sim_report
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>
#include <string>

#include "sim/choice.hpp"
#include "sim/demo_models.hpp"
#include "sim/explorer.hpp"
#include "sim/report.hpp"

namespace sim = devsim::sim;

namespace {

// The first use-after-free of the buggy demo, found by exhaustive search.
sim::Report demo_report() {
  sim::ExploreOptions o;
  o.strategy.kind = sim::StrategyKind::Exhaustive;
  o.max_executions = 0;
  sim::ExploreResult r = sim::explore([](sim::World& w) { sim::demo::unplug_while_open(w, false); }, o);
  BOOST_TEST_REQUIRE(r.failures.size() == 1u);
  return r.failures[0].report;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(use_after_free_text_is_kasan_style) {
  const sim::Report r = demo_report();
  const std::string text = sim::render_text(r);
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST(contains(text, "BUG: KASAN: use-after-free in app_ioctl\n"));
  BOOST_TEST(contains(text, "Read of size 4 at addr ffff888100000000 by task app/0 at step "));
  BOOST_TEST(contains(text, " app_ioctl (sim/demo_models.cpp:" + std::to_string(r.accessed_by->site->line()) + ")"));
  BOOST_TEST(contains(text, "Allocated by task setup/- at step 0:\n"));
  BOOST_TEST(contains(text, "Freed by task hub/1 at step "));
  BOOST_TEST(contains(text, " hub_unplug (sim/demo_models.cpp:" + std::to_string(r.freed_by->site->line()) + ")"));
  BOOST_TEST(contains(text, "which belongs to the cache kmalloc-8 of size 8 (devsim::sim::demo::DriverData)"));
  BOOST_TEST(contains(text, "The buggy address is located 0 bytes inside of\n"));
  BOOST_TEST(contains(
      text, "Schedule (" + std::to_string(r.schedule.size()) + " choices): " + sim::to_string(r.schedule) + "\n"));
  // The sections come in KASAN's order: access, allocation, free, object, schedule.
  const auto bug = text.find("BUG: KASAN:");
  const auto alloc = text.find("Allocated by task");
  const auto freed = text.find("Freed by task");
  const auto schedule = text.find("Schedule (");
  BOOST_TEST(bug < alloc);
  BOOST_TEST(alloc < freed);
  BOOST_TEST(freed < schedule);
}

BOOST_AUTO_TEST_CASE(use_after_free_json_has_every_field) {
  const sim::Report r = demo_report();
  const nlohmann::json j = nlohmann::json::parse(sim::render_json(r));
  BOOST_TEST(j.at("kind") == "use-after-free");
  BOOST_TEST(j.at("headline") == "use-after-free in app_ioctl");
  BOOST_TEST(j.at("fatal") == true);
  BOOST_TEST(j.at("access").at("write") == false);
  BOOST_TEST(j.at("access").at("size") == 4);
  BOOST_TEST(j.at("access").at("address") == "ffff888100000000");
  BOOST_TEST(j.at("access").at("object") == "ffff888100000000");
  BOOST_TEST(j.at("access").at("object_size") == 8);
  BOOST_TEST(j.at("access").at("offset") == 0);
  BOOST_TEST(j.at("access").at("type") == "devsim::sim::demo::DriverData");
  BOOST_TEST(j.at("accessed_by").at("task") == "app/0");
  BOOST_TEST(j.at("accessed_by").at("site").at("function") == "app_ioctl");
  BOOST_TEST(j.at("accessed_by").at("site").at("location") == sim::site_location(*r.accessed_by->site));
  BOOST_TEST(j.at("accessed_by").at("step") == r.accessed_by->step);
  BOOST_TEST(j.at("freed_by").at("task") == "hub/1");
  BOOST_TEST(j.at("freed_by").at("site").at("function") == "hub_unplug");
  BOOST_TEST(j.at("freed_by").at("site").at("location") == sim::site_location(*r.freed_by->site));
  BOOST_TEST(j.at("allocated_by").at("task") == "setup/-");
  BOOST_TEST(j.at("allocated_by").at("site").at("function") == "unplug_while_open");
  BOOST_TEST(j.at("details").is_array());
  BOOST_TEST(j.at("schedule") == sim::to_string(r.schedule));
  BOOST_TEST(j.at("signature") == r.signature());
  // The schedule round-trips through its text form.
  std::optional<sim::Schedule> parsed = sim::parse_schedule(j.at("schedule").get<std::string>());
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST((*parsed == r.schedule));
}

BOOST_AUTO_TEST_CASE(a_report_without_access_renders_as_plain_bug) {
  sim::Report r;
  r.kind = "lock-inversion";
  r.headline = "lock-inversion in probe";
  r.details = {"first order: a then b", "second order: b then a"};
  r.schedule = {{sim::Choice::Kind::Task, 1}, {sim::Choice::Kind::Value, 3}};
  const std::string text = sim::render_text(r);
  BOOST_TEST(contains(text, "BUG: lock-inversion in probe\n"));
  BOOST_TEST(!contains(text, "KASAN"));
  BOOST_TEST(contains(text, "first order: a then b\nsecond order: b then a\n"));
  BOOST_TEST(contains(text, "Schedule (2 choices): t1 v3\n"));
  const nlohmann::json j = nlohmann::json::parse(sim::render_json(r));
  BOOST_TEST(j.at("access").is_null());
  BOOST_TEST(j.at("accessed_by").is_null());
  BOOST_TEST(j.at("freed_by").is_null());
  BOOST_TEST(j.at("details").size() == 2u);
  BOOST_TEST(j.at("schedule") == "t1 v3");
  BOOST_TEST(j.at("signature") == "lock-inversion||");
}

BOOST_AUTO_TEST_CASE(signature_is_kind_access_site_and_free_site) {
  const sim::Report r = demo_report();
  BOOST_TEST(r.signature() == "use-after-free|" + sim::site_location(*r.accessed_by->site) + "|" +
                                  sim::site_location(*r.freed_by->site));
  // The schedule and the steps do not enter it: the same bug reached another way is the same bug.
  sim::Report other = r;
  other.schedule.clear();
  other.accessed_by->step += 5;
  BOOST_TEST(other.signature() == r.signature());
  other.kind = "double-free";
  BOOST_TEST(other.signature() != r.signature());
}

BOOST_AUTO_TEST_CASE(schedule_text_form_round_trips_and_rejects_garbage) {
  const sim::Schedule s = {{sim::Choice::Kind::Task, 0}, {sim::Choice::Kind::Task, 12}, {sim::Choice::Kind::Value, 7}};
  BOOST_TEST(sim::to_string(s) == "t0 t12 v7");
  std::optional<sim::Schedule> back = sim::parse_schedule("t0, t12\tv7\n");
  BOOST_TEST_REQUIRE(back.has_value());
  BOOST_TEST((*back == s));
  std::size_t at = 0;
  BOOST_TEST(!sim::parse_schedule("t0 x1", &at).has_value());
  BOOST_TEST(at == 3u);
  BOOST_TEST(!sim::parse_schedule("t0 t", &at).has_value());
  BOOST_TEST(at == 4u);
}
