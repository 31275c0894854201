// Subnet routes and exit nodes: which routes a node serves, primary election and failover, and
// what peers see in AllowedIPs / PrimaryRoutes as routers come, go and get approved.
#include <catch2/catch.hpp>

#include <filesystem>

#include "common/base/keys.h"
#include "common/control/mapframe.h"
#include "common/store/store.h"
#include "tests/unit/hs-control/tailnet_fixture.h"
#include "tools/hs-control/routes.h"
#include "tools/hs-control/tailnet.h"

using namespace hs;
using namespace hs::control;
using hs::test::Sink;
using hs::test::TempDb;
using nlohmann::json;

namespace {

Node router(std::vector<std::string> advertised, std::vector<std::string> approved) {
    Node n;
    n.host_info = {{"RoutableIPs", advertised}};
    n.approved_routes = std::move(approved);
    return n;
}

}  // namespace

TEST_CASE("a node serves what it advertises and an admin approved") {
    CHECK(served_routes(router({"10.77.0.0/24", "10.78.0.0/24"}, {"10.77.0.0/24"})) ==
          std::vector<std::string>{"10.77.0.0/24"});
    CHECK(served_routes(router({}, {"10.77.0.0/24"})).empty());
    CHECK(served_routes(router({"10.77.0.0/24"}, {})).empty());
    // Malformed entries on either side are ignored, not fatal.
    CHECK(served_routes(router({"10.77.0.0/24", "nonsense", "10.1.2.3/8"}, {"10.77.0.0/24", "bad"})) ==
          std::vector<std::string>{"10.77.0.0/24"});
    // Approving one exit route approves the node as an exit node for both families.
    CHECK(served_routes(router({"0.0.0.0/0", "::/0"}, {"0.0.0.0/0"})) == std::vector<std::string>{"0.0.0.0/0", "::/0"});
    CHECK(served_routes(router({"0.0.0.0/0", "::/0"}, {"10.77.0.0/24"})).empty());
    CHECK(is_exit_route("::/0"));
    CHECK_FALSE(is_exit_route("10.0.0.0/8"));
}

TEST_CASE("primary election: lowest online ID first, then stable, failover when offline") {
    const std::vector<std::string> r = {"10.77.0.0/24"};
    std::map<std::string, std::int64_t> none;
    auto p = elect_primaries({{5, true, &r}, {3, true, &r}}, none);
    CHECK(p.at("10.77.0.0/24") == 3);
    // 3 goes offline: 5 takes over.
    p = elect_primaries({{5, true, &r}, {3, false, &r}}, p);
    CHECK(p.at("10.77.0.0/24") == 5);
    // 3 comes back: 5 keeps it (no flapping).
    p = elect_primaries({{5, true, &r}, {3, true, &r}}, p);
    CHECK(p.at("10.77.0.0/24") == 5);
    // Nobody online: no primary.
    p = elect_primaries({{5, false, &r}, {3, false, &r}}, p);
    CHECK(p.empty());
    // Exit routes are never elected.
    const std::vector<std::string> exit = {"0.0.0.0/0", "::/0"};
    CHECK(elect_primaries({{1, true, &exit}}, none).empty());
    const auto v = route_view(1, exit, none);
    CHECK(v.allowed == exit);
    CHECK(v.primary.empty());
}

namespace {

struct Member {
    std::string machine = key_text(kMachinePrefix, PrivateKey::generate().public_key().bytes);
    std::string node = key_text(kNodePrefix, PrivateKey::generate().public_key().bytes);
    json hostinfo;
    std::int64_t id = 0;
    Sink sink;
};

// The latest view of node `id` that `s` received, from a full map or a delta.
std::optional<json> last_seen_peer(const Sink& s, std::int64_t id) {
    for (auto it = s.got.rbegin(); it != s.got.rend(); ++it)
        for (const char* field : {"PeersChanged", "Peers"})
            if (const auto f = it->find(field); f != it->end())
                for (const auto& p : *f)
                    if (p["ID"] == id) return p;
    return std::nullopt;
}

}  // namespace

TEST_CASE("routes through the Tailnet: approval, failover to the standby, exit node") {
    TempDb t;
    const auto user = store::create_user(*t.db, "alice");
    const auto key = store::create_preauth_key(*t.db, user.id, true, false, std::nullopt, {});
    Config c;
    c.server_url = "http://127.0.0.1:8080";
    c.prefix_v4 = "100.64.0.0/10";
    Tailnet tn(*t.db, c, json::object());
    tn.load();
    const auto now = Clock::now();

    Member r1, r2, exit, peer;
    r1.hostinfo = r2.hostinfo = {{"Hostname", "r"}, {"RoutableIPs", {"10.77.0.0/24"}}};
    exit.hostinfo = {{"Hostname", "x"}, {"RoutableIPs", {"0.0.0.0/0", "::/0"}}};
    peer.hostinfo = {{"Hostname", "p"}};
    for (auto* m : {&r1, &r2, &exit, &peer}) {
        json reg = {
            {"Version", 142}, {"NodeKey", m->node}, {"Auth", {{"AuthKey", key.secret}}}, {"Hostinfo", m->hostinfo}};
        REQUIRE(tn.register_node(m->machine, reg, now).status == 200);
        json map = {
            {"Version", 142}, {"NodeKey", m->node}, {"Stream", true}, {"Compress", "zstd"}, {"Hostinfo", m->hostinfo}};
        const auto r = tn.map_request(m->machine, map, now);
        REQUIRE(r.status == 200);
        m->id = r.node_id;
        const auto bytes = r.first_bytes();
        std::string_view v(bytes);
        m->sink.got.push_back(json::parse(unframe_one(v)));
        tn.attach(m->id, &m->sink, now);
    }
    // Advertised but not approved: peers see no route.
    CHECK(last_seen_peer(peer.sink, r1.id)->value("AllowedIPs", json::array()).size() == 1);
    CHECK_FALSE(last_seen_peer(peer.sink, r1.id)->contains("PrimaryRoutes"));

    // An admin (another process) approves the subnet on both routers and the exit node.
    Db admin = t.open();
    for (auto [id, routes] : {std::pair{r1.id, std::vector<std::string>{"10.77.0.0/24"}},
                              {r2.id, {"10.77.0.0/24"}},
                              {exit.id, {"0.0.0.0/0", "::/0"}}}) {
        auto n = *store::find_node(admin, id);
        n.approved_routes = routes;
        store::update_node(admin, n);
    }
    tn.flush(now);  // the joins above, announced on their tick
    const auto seen_before = peer.sink.got.size();
    tn.sync_from_db(now);
    tn.flush(now);
    // A router whose view changed reaches the peer once (the election's message, not a second
    // copy from sync); the standby, unchanged to peers, not at all.
    for (const auto& [id, want] : {std::pair{r1.id, 1}, {exit.id, 1}, {r2.id, 0}}) {
        int copies = 0;
        for (auto i = seen_before; i < peer.sink.got.size(); ++i)
            for (const auto& n : peer.sink.got[i].value("PeersChanged", json::array())) copies += n["ID"] == id;
        CHECK(copies == want);
    }
    const auto p1 = *last_seen_peer(peer.sink, r1.id);
    CHECK(p1["PrimaryRoutes"] == json({"10.77.0.0/24"}));
    CHECK(p1["AllowedIPs"].back() == "10.77.0.0/24");
    CHECK_FALSE(last_seen_peer(peer.sink, r2.id)->contains("PrimaryRoutes"));
    CHECK(last_seen_peer(peer.sink, r2.id)->value("AllowedIPs", json::array()).size() == 1);
    const auto px = *last_seen_peer(peer.sink, exit.id);
    CHECK(px["AllowedIPs"].size() == 3);
    CHECK_FALSE(px.contains("PrimaryRoutes"));
    // The election is in the file too, for hs-admin.
    CHECK(store::find_node(admin, r1.id)->primary_routes == std::vector<std::string>{"10.77.0.0/24"});
    CHECK(store::find_node(admin, r2.id)->primary_routes.empty());
    CHECK(store::find_node(admin, exit.id)->primary_routes.empty());
    // The router itself learns it is primary.
    bool self_primary = false;
    for (const auto& m : r1.sink.got)
        if (m.contains("Node") && m["Node"].value("PrimaryRoutes", json::array()) == json({"10.77.0.0/24"}))
            self_primary = true;
    CHECK(self_primary);

    // The primary goes offline: the standby takes over, and r1 no longer carries the prefix.
    tn.detach(r1.id, &r1.sink, now);
    tn.flush(now);
    CHECK(last_seen_peer(peer.sink, r2.id)->value("PrimaryRoutes", json::array()) == json({"10.77.0.0/24"}));
    CHECK_FALSE(last_seen_peer(peer.sink, r1.id)->contains("PrimaryRoutes"));
    CHECK(store::find_node(admin, r2.id)->primary_routes == std::vector<std::string>{"10.77.0.0/24"});
    CHECK(store::find_node(admin, r1.id)->primary_routes.empty());
    // It returns: the standby stays primary.
    tn.attach(r1.id, &r1.sink, now);
    tn.flush(now);
    CHECK(last_seen_peer(peer.sink, r2.id)->value("PrimaryRoutes", json::array()) == json({"10.77.0.0/24"}));

    // Deleting the primary hands the prefix back to r1.
    store::delete_node(admin, r2.id);
    tn.sync_from_db(now);
    tn.flush(now);
    CHECK(last_seen_peer(peer.sink, r1.id)->value("PrimaryRoutes", json::array()) == json({"10.77.0.0/24"}));

    // Withdrawing the exit node's approval takes 0.0.0.0/0 and ::/0 out of what peers see (exit
    // routes are never primaries, so no election moves them).
    auto xn = *store::find_node(admin, exit.id);
    xn.approved_routes = {};
    store::update_node(admin, xn);
    tn.sync_from_db(now);
    tn.flush(now);
    CHECK(last_seen_peer(peer.sink, exit.id)->value("AllowedIPs", json::array()).size() == 1);
}
