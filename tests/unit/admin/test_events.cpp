#include <catch2/catch.hpp>

#include "common/admin/events.h"
#include "common/store/db.h"

using namespace hs;
using namespace hs::admin;
using namespace std::chrono_literals;

namespace {

store::AuditEntry row(std::int64_t id, TimePoint at, std::string action, std::string object, std::string source,
                      std::optional<std::string> after = std::nullopt) {
    return {.id = id,
            .at = at,
            .actor = "anonymous",
            .action = std::move(action),
            .object = std::move(object),
            .after = std::move(after),
            .source = std::move(source)};
}

std::vector<std::string> names(const std::vector<DerivedEvent>& v) {
    std::vector<std::string> out;
    for (const auto& e : v) out.push_back(e.name);
    return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("network_of: /24 for IPv4, /64 for IPv6, mapped IPv4 as IPv4, nothing for non-addresses") {
    CHECK(network_of("192.0.2.77") == "192.0.2.0/24");
    CHECK(network_of("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64");
    CHECK(network_of("[2001:db8::1]") == "2001:db8::/64");
    CHECK(network_of("::ffff:198.51.100.9") == "198.51.100.0/24");
    CHECK(network_of("local") == "");
    CHECK(network_of("") == "");
    CHECK(network_of("192.0.2.1:443") == "");
}

TEST_CASE("events: a second network for an account raises signin.new_network, a known one nothing") {
    EventDeriver d;
    const TimePoint t{};
    const std::string alice = "user 1 (alice)";
    // The account's first sign-in is its baseline, not an alert.
    CHECK(names(d.feed(row(1, t, "signin.succeeded", alice, "192.0.2.10"))) == V{});
    CHECK(names(d.feed(row(2, t, "signin.succeeded", alice, "192.0.2.200"))) == V{});  // same /24
    auto ev = d.feed(row(3, t, "signin.succeeded", alice, "203.0.113.5"));
    REQUIRE(names(ev) == V{"signin.new_network"});
    CHECK(ev[0].detail["network"] == "203.0.113.0/24");
    CHECK(names(d.feed(row(4, t, "signin.succeeded", alice, "203.0.113.6"))) == V{});
    // "network" in the row wins over the source (the source may be a proxy's).
    ev = d.feed(
        row(5, t, "signin.succeeded", alice, "192.0.2.10", R"({"method":"password","network":"2001:db8:5::/64"})"));
    REQUIRE(names(ev) == V{"signin.new_network"});
    CHECK(ev[0].detail["network"] == "2001:db8:5::/64");
    // Another account's networks are its own.
    CHECK(names(d.feed(row(6, t, "signin.succeeded", "user 2 (bob)", "203.0.113.5"))) == V{});
    CHECK(names(d.feed(row(7, t, "signin.succeeded", "user 2 (bob)", "198.51.100.1"))) == V{"signin.new_network"});
}

TEST_CASE("events: a success after failures within 15 min raises signin.after_failures once") {
    EventDeriver d;
    const TimePoint t{std::chrono::hours(1000)};
    const std::string k = "user 3 (carol)";
    CHECK(names(d.feed(row(1, t, "signin.succeeded", k, "192.0.2.1"))) == V{});
    CHECK(names(d.feed(row(2, t + 1min, "signin.failed", k, "192.0.2.1"))) == V{});
    CHECK(names(d.feed(row(3, t + 2min, "signin.failed", k, "192.0.2.1"))) == V{});
    CHECK(names(d.feed(row(4, t + 2min, "signin.failed", "user 4 (dan)", "192.0.2.1"))) == V{});
    auto ev = d.feed(row(5, t + 10min, "signin.succeeded", k, "192.0.2.1"));
    REQUIRE(names(ev) == V{"signin.after_failures"});
    CHECK(ev[0].detail["failures"] == 2);
    CHECK(names(d.feed(row(6, t + 11min, "signin.succeeded", k, "192.0.2.1"))) == V{});
    // Failures older than the window do not count.
    CHECK(names(d.feed(row(7, t + 20min, "signin.failed", k, "192.0.2.1"))) == V{});
    CHECK(names(d.feed(row(8, t + 36min, "signin.succeeded", k, "192.0.2.1"))) == V{});
    // Both at once: the row's own derivations in a fixed order.
    CHECK(names(d.feed(row(9, t + 40min, "signin.failed", k, "192.0.2.1"))) == V{});
    CHECK(names(d.feed(row(10, t + 41min, "signin.succeeded", k, "198.51.100.1"))) ==
          V{"signin.new_network", "signin.after_failures"});
}

TEST_CASE("events: lockouts and the admin rows map to their events") {
    EventDeriver d;
    const TimePoint t{};
    CHECK(names(d.feed(row(1, t, "signin.locked", "user 1 (alice)", "192.0.2.1"))) == V{"signin.locked"});
    CHECK(names(d.feed(row(2, t, "apikeys.create", "API key 1", "local"))) == V{"apikey.created"});
    CHECK(names(d.feed(row(3, t, "policy.set", "policy", "local"))) == V{"policy.changed"});
    CHECK(names(d.feed(row(4, t, "node.registered", "node 1 (a)", "192.0.2.1"))) == V{"node.registered"});
    CHECK(names(d.feed(row(5, t, "nodes.delete", "node 1", "local"))) == V{"node.deleted"});
    CHECK(names(d.feed(row(6, t, "users.create", "user 1", "local"))) == V{});
    for (const auto& n : {"apikey.created", "signin.new_network", "signin.after_failures", "signin.locked"})
        CHECK(std::find(event_names().begin(), event_names().end(), n) != event_names().end());
}

TEST_CASE("events: the derivation's memory stays within its limits") {
    EventDeriver d({.accounts = 100, .networks_per_account = 4, .failing_objects = 50, .failures_per_object = 8});
    const TimePoint t{};
    std::int64_t id = 0;
    for (int i = 0; i < 1000; ++i) {
        const auto who = "user " + std::to_string(i);
        d.feed(row(++id, t, "signin.failed", who, "192.0.2.1"));
        d.feed(row(++id, t, "signin.succeeded", who, "10." + std::to_string(i % 250) + ".0.1"));
        for (int j = 0; j < 20; ++j) d.feed(row(++id, t, "signin.failed", "user 0", "192.0.2.1"));
    }
    CHECK(d.accounts_remembered() <= 100);
    CHECK(d.objects_remembered() <= 50);
    // A network pushed out of an account's last 4 counts as new again.
    d.feed(row(++id, t, "signin.succeeded", "user 999", "10.1.0.1"));
    for (int n = 2; n <= 5; ++n)
        d.feed(row(++id, t, "signin.succeeded", "user 999", "10." + std::to_string(n) + ".0.1"));
    CHECK(names(d.feed(row(++id, t, "signin.succeeded", "user 999", "10.1.0.1"))) == V{"signin.new_network"});
}

TEST_CASE("events: a reader resumes after an id and knows the history before it") {
    Db db(":memory:");
    const auto now = Clock::now();
    auto add = [&](const std::string& action, const std::string& source) {
        return store::append_audit(
            db, {.at = now, .actor = "anonymous", .action = action, .object = "user 1 (a)", .source = source});
    };
    add("signin.succeeded", "192.0.2.1");
    const auto cut = add("apikeys.create", "local");
    add("signin.succeeded", "192.0.2.2");    // known network: nothing
    add("signin.succeeded", "203.0.113.2");  // new against the history before `cut` too
    EventReader r(TimePoint{}, cut);
    const auto ev = r.next(db);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0]["event"] == "signin.new_network");
    CHECK(ev[0]["id"] == cut + 2);
    CHECK(ev[0]["network"] == "203.0.113.0/24");
    CHECK(r.next(db).empty());
    add("signin.locked", "203.0.113.2");
    const auto more = r.next(db);
    REQUIRE(more.size() == 1);
    CHECK(more[0]["event"] == "signin.locked");
}
