// Address allocation: lowest free or random, reserved addresses, exhaustion, reuse after delete.
#include <catch2/catch.hpp>

#include <set>

#include "common/base/ipalloc.h"
#include "common/store/store.h"
#include "tests/unit/hs-control/tailnet_fixture.h"

using namespace hs;

namespace {

IpAddr ip(const char* text) { return *parse_ip(text); }

AddressPool pool(const char* prefix) { return AddressPool(*parse_prefix(prefix)); }

}  // namespace

TEST_CASE("sequential allocation takes the lowest free address, across pages, and reuses released ones") {
    auto p = pool("100.64.0.0/10");
    CHECK(p.allocate(false) == ip("100.64.0.1"));
    CHECK(p.allocate(false) == ip("100.64.0.2"));
    for (int i = 3; i < 3000; ++i) REQUIRE(p.allocate(false));
    CHECK(p.allocate(false) == ip("100.64.11.184"));  // offset 3000 = 11 * 256 + 184
    p.release(ip("100.64.0.5"));
    p.release(ip("100.64.7.208"));  // offset 2000, in another 1024-address page
    CHECK_FALSE(p.taken(ip("100.64.0.5")));
    CHECK(p.allocate(false) == ip("100.64.0.5"));
    CHECK(p.allocate(false) == ip("100.64.7.208"));
    CHECK(p.allocate(false) == ip("100.64.11.185"));
    // Addresses of nodes loaded from the file are skipped; foreign ones change nothing.
    p.take(ip("100.64.11.186"));
    p.take(ip("10.1.2.3"));
    p.take(ip("fd7a:115c:a1e0::1"));
    CHECK(p.allocate(false) == ip("100.64.11.187"));
}

TEST_CASE("reserved addresses are never handed out, nor freed") {
    auto quad100 = pool("100.100.100.0/24");
    std::set<IpAddr> got;
    while (const auto a = quad100.allocate(false)) got.insert(*a);
    CHECK(got.size() == 253);  // 254 hosts less 100.100.100.100
    CHECK_FALSE(got.count(ip("100.100.100.100")));
    CHECK_FALSE(got.count(ip("100.100.100.0")));
    CHECK_FALSE(got.count(ip("100.100.100.255")));
    quad100.release(ip("100.100.100.100"));
    CHECK_FALSE(quad100.allocate(false));

    // 100.115.92.0/23 is ChromeOS's: a pool around it starts after it, one inside it is empty.
    CHECK(pool("100.115.92.0/22").allocate(false) == ip("100.115.94.0"));
    CHECK_FALSE(pool("100.115.92.0/24").allocate(false));

    auto v6 = pool("fd7a:115c:a1e0::/120");
    for (int i = 1; i <= 0x52; ++i) REQUIRE(v6.allocate(false));
    CHECK(v6.allocate(false) == ip("fd7a:115c:a1e0::54"));  // ::53 is the resolver
}

TEST_CASE("a full pool says so, and has room again once an address is released") {
    auto p = pool("10.0.0.0/30");
    CHECK(p.allocate(false) == ip("10.0.0.1"));
    CHECK(p.allocate(false) == ip("10.0.0.2"));
    CHECK_FALSE(p.allocate(false));  // 10.0.0.3 is the broadcast address
    p.release(ip("10.0.0.2"));
    CHECK(p.allocate(false) == ip("10.0.0.2"));
    CHECK_FALSE(pool("10.0.0.1/32").allocate(false));
}

TEST_CASE("random allocation hands out every free address once, in no fixed order") {
    auto p = pool("10.9.0.0/24");
    std::set<IpAddr> got;
    std::vector<IpAddr> order;
    while (const auto a = p.allocate(true)) {
        CHECK(parse_prefix("10.9.0.0/24")->contains(*a));
        CHECK(got.insert(*a).second);
        order.push_back(*a);
    }
    CHECK(got.size() == 254);
    CHECK_FALSE(got.count(ip("10.9.0.0")));
    CHECK_FALSE(got.count(ip("10.9.0.255")));
    // The first ten in sequence would be 10.9.0.1 .. 10.9.0.10: the chance is 254^-10.
    std::vector<IpAddr> first(order.begin(), order.begin() + 10), sequential;
    for (int i = 1; i <= 10; ++i) sequential.push_back(*parse_ip("10.9.0." + std::to_string(i)));
    CHECK(first != sequential);
    // A wide IPv6 pool stays sparse: random addresses anywhere in its first 2^32.
    auto wide = pool("fd7a:115c:a1e0::/48");
    std::set<IpAddr> spread;
    for (int i = 0; i < 1000; ++i) spread.insert(*wide.allocate(true));
    CHECK(spread.size() == 1000);
}

TEST_CASE("a node deleted by another process gives its addresses back to registration") {
    hs::test::TempDb t;
    const auto user = store::create_user(*t.db, "alice");
    const auto key = store::create_preauth_key(*t.db, user.id, true, false, std::nullopt, {});
    control::Tailnet tn(*t.db, hs::test::test_config(), hs::test::derp_map());
    tn.load();
    const auto now = Clock::now();
    hs::test::Client a, b, c;
    REQUIRE(tn.register_node(a.machine, a.request("a", key.secret), now).status == 200);
    REQUIRE(tn.register_node(b.machine, b.request("b", key.secret), now).status == 200);
    Db admin = t.open();
    const auto an = *store::find_node_by_node_key(admin, a.node);
    CHECK(an.ipv4 == "100.64.0.1");
    store::delete_node(admin, an.id);
    tn.sync_from_db(now);
    REQUIRE(tn.register_node(c.machine, c.request("c", key.secret), now).status == 200);
    const auto cn = *store::find_node_by_node_key(admin, c.node);
    CHECK(cn.ipv4 == "100.64.0.1");
    CHECK(cn.ipv6 == "fd7a:115c:a1e0::1");
    // And a restart (load from the file) knows which are taken.
    control::Tailnet again(*t.db, hs::test::test_config(), hs::test::derp_map());
    again.load();
    hs::test::Client d;
    REQUIRE(again.register_node(d.machine, d.request("d", key.secret), now).status == 200);
    CHECK(store::find_node_by_node_key(admin, d.node)->ipv4 == "100.64.0.3");
}
