// Changes reach peers once per tick: N nodes joining cost each connected node one message, not N.
#include <catch2/catch.hpp>

#include <algorithm>

#include "common/control/mapframe.h"
#include "common/store/store.h"
#include "tests/unit/hs-control/tailnet_fixture.h"
#include "tools/hs-control/tailnet.h"

using namespace hs;
using namespace hs::control;
using hs::test::Client;
using hs::test::Sink;
using hs::test::TempDb;
using nlohmann::json;

namespace {

struct Net {
    TempDb t;
    store::NewPreAuthKey key;
    Tailnet tn;
    TimePoint now = Clock::now();
    Net() : key(make_key(t)), tn(*t.db, hs::test::test_config(), hs::test::derp_map()) { tn.load(); }
    static store::NewPreAuthKey make_key(TempDb& t) {
        const auto user = store::create_user(*t.db, "alice");
        return store::create_preauth_key(*t.db, user.id, true, false, std::nullopt, {});
    }
    // Registers and streams; returns the node ID.
    std::int64_t join(const Client& c, Sink& s, const std::string& name) {
        REQUIRE(tn.register_node(c.machine, c.request(name, key.secret), now).status == 200);
        const auto r = tn.map_request(c.machine, c.map(true), now);
        REQUIRE(r.status == 200);
        tn.attach(r.node_id, &s, now);
        return r.node_id;
    }
    // The joins so far announced, and forgotten by the sinks.
    void settle(std::initializer_list<Sink*> sinks) {
        tn.flush(now);
        for (auto* s : sinks) s->got.clear();
    }
};

std::vector<std::int64_t> ids(const json& list) {
    std::vector<std::int64_t> out;
    for (const auto& n : list)
        out.push_back(n.contains("ID") ? n["ID"].get<std::int64_t>() : n["NodeID"].get<std::int64_t>());
    return out;
}

}  // namespace

TEST_CASE("nodes registering in one tick reach each connected node as one PeersChanged message") {
    Net n;
    Client w1, w2;
    Sink s1, s2;
    n.join(w1, s1, "watch-1");
    n.join(w2, s2, "watch-2");
    n.settle({&s1, &s2});

    std::vector<Client> joiners(20);
    std::vector<std::int64_t> joined;
    for (std::size_t i = 0; i < joiners.size(); ++i) {
        REQUIRE(n.tn.register_node(joiners[i].machine, joiners[i].request("j" + std::to_string(i), n.key.secret), n.now)
                    .status == 200);
        joined.push_back(store::find_node_by_node_key(*n.t.db, joiners[i].node)->id);
    }
    CHECK(s1.got.empty());  // nothing before the tick
    const auto before = n.tn.stats().map_messages;
    n.tn.flush(n.now);
    for (auto* s : {&s1, &s2}) {
        REQUIRE(s->got.size() == 1);
        CHECK(ids(s->got[0]["PeersChanged"]) == joined);
    }
    CHECK(n.tn.stats().map_messages - before == 2);
    n.tn.flush(n.now);  // nothing left over
    CHECK(s1.got.size() == 1);
}

TEST_CASE("a batch merges patches, and a changed node never finds itself among its peers") {
    Net n;
    Client a, b, c;
    Sink sa, sb, sc;
    n.join(a, sa, "a");
    const auto ib = n.join(b, sb, "b");
    const auto ic = n.join(c, sc, "c");
    n.settle({&sa, &sb, &sc});

    // b moves twice in the tick: peers get one patch with where it ended up.
    auto lite = b.map(false);
    lite["OmitPeers"] = true;
    lite["Endpoints"] = {"10.0.0.2:1"};
    n.tn.map_request(b.machine, lite, n.now);
    lite["Endpoints"] = {"10.0.0.2:2"};
    n.tn.map_request(b.machine, lite, n.now);
    // c's Hostinfo changes beyond what a patch carries: it goes out whole, and b's patch with it.
    auto report = c.map(false);
    report["OmitPeers"] = true;
    report["Hostinfo"]["OS"] = "plan9";
    n.tn.map_request(c.machine, report, n.now);
    n.tn.flush(n.now);

    // Whole nodes, then patches in a message of their own (see Tailnet::flush).
    REQUIRE(sa.got.size() == 2);
    CHECK(ids(sa.got[0]["PeersChanged"]) == std::vector<std::int64_t>{ic});
    CHECK_FALSE(sa.got[0].contains("PeersChangedPatch"));
    REQUIRE(ids(sa.got[1]["PeersChangedPatch"]) == std::vector<std::int64_t>{ib});
    CHECK(sa.got[1]["PeersChangedPatch"][0]["Endpoints"] == json({"10.0.0.2:2"}));
    // c hears of b but not of itself.
    REQUIRE(sc.got.size() == 1);
    CHECK_FALSE(sc.got[0].contains("PeersChanged"));
    CHECK(ids(sc.got[0]["PeersChangedPatch"]) == std::vector<std::int64_t>{ib});
    // b hears of c, and not of its own patch: a client has no peer of its own ID.
    REQUIRE(sb.got.size() == 1);
    CHECK(ids(sb.got[0]["PeersChanged"]) == std::vector<std::int64_t>{ic});
}

TEST_CASE("an admin's rename that also moves a route reaches each peer once and the node itself once") {
    Net n;
    Client r, w;
    Sink sr, sw;
    auto with_route = [](json req) {
        req["Hostinfo"]["RoutableIPs"] = {"10.77.0.0/24"};
        return req;
    };
    REQUIRE(n.tn.register_node(r.machine, with_route(r.request("router", n.key.secret)), n.now).status == 200);
    const auto m = n.tn.map_request(r.machine, with_route(r.map(true)), n.now);
    REQUIRE(m.status == 200);
    n.tn.attach(m.node_id, &sr, n.now);
    n.join(w, sw, "watch");
    n.settle({&sr, &sw});

    // One admin edit: a new name and the advertised route approved, so the router becomes the
    // prefix's primary. The election and the sync each have a reason to send the node.
    Db admin = n.t.open();
    store::set_node_given_name(admin, m.node_id, "gateway");
    store::set_node_approved_routes(admin, m.node_id, {"10.77.0.0/24"});
    const auto before = n.tn.stats().map_messages;
    n.tn.sync_from_db(n.now);
    REQUIRE(sr.got.size() == 1);  // its own new self at once
    CHECK(sr.got[0]["Node"]["PrimaryRoutes"] == json({"10.77.0.0/24"}));
    CHECK(sr.got[0]["Node"]["Name"] == "gateway.hs.test.");
    CHECK(sw.got.empty());  // peers on the tick
    n.tn.flush(n.now);
    REQUIRE(sw.got.size() == 1);
    CHECK(ids(sw.got[0]["PeersChanged"]) == std::vector<std::int64_t>{m.node_id});
    CHECK(sw.got[0]["PeersChanged"][0]["Name"] == "gateway.hs.test.");
    CHECK(sw.got[0]["PeersChanged"][0]["PrimaryRoutes"] == json({"10.77.0.0/24"}));
    CHECK(sr.got.size() == 1);  // nothing more for the router: it is the only node that changed
    CHECK(n.tn.stats().map_messages - before == 2);
}

TEST_CASE("nodes deleted together leave each peer's map in one PeersRemoved message") {
    Net n;
    Client w;
    Sink sw;
    n.join(w, sw, "watch");
    std::vector<Client> gone(2);
    std::vector<Sink> ended(2);
    std::vector<std::int64_t> gone_ids;
    for (std::size_t i = 0; i < gone.size(); ++i)
        gone_ids.push_back(n.join(gone[i], ended[i], "gone-" + std::to_string(i)));
    n.settle({&sw});
    Db admin = n.t.open();
    for (const auto id : gone_ids) store::delete_node(admin, id);
    n.tn.sync_from_db(n.now);
    REQUIRE(sw.got.size() == 1);  // at once, not on the tick
    CHECK(sw.got[0]["PeersRemoved"] == json(gone_ids));
    for (const auto& s : ended) CHECK(s.ended);
    n.tn.flush(n.now);
    CHECK(sw.got.size() == 1);
}
