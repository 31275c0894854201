// The control logic without sockets: registration, full maps and the deltas that each change
// sends to each client, driven through Tailnet with in-memory sinks.
#include <catch2/catch.hpp>

#include <filesystem>

#include "common/base/keys.h"
#include "common/control/mapframe.h"
#include "common/store/store.h"
#include "tests/unit/hs-control/tailnet_fixture.h"
#include "tools/hs-control/tailnet.h"

using namespace hs;
using namespace hs::control;
using hs::test::Client;
using hs::test::derp_map;
using hs::test::first_map;
using hs::test::Sink;
using hs::test::TempDb;
using hs::test::test_config;
using nlohmann::json;

TEST_CASE("pre-auth registration, full map and deltas for rename, expire, delete") {
    TempDb t;
    const auto user = store::create_user(*t.db, "alice");
    const auto key = store::create_preauth_key(*t.db, user.id, true, false, std::nullopt, {});
    Tailnet tn(*t.db, test_config(), derp_map());
    tn.load();
    const auto now = Clock::now();

    Client a, b;
    auto ra = tn.register_node(a.machine, a.request("alpha", key.secret), now);
    REQUIRE(ra.status == 200);
    CHECK(ra.body.value("MachineAuthorized", false));
    CHECK_FALSE(ra.body.contains("Error"));
    auto rb = tn.register_node(b.machine, b.request("Beta Box", key.secret), now);
    REQUIRE(rb.body.value("MachineAuthorized", false));

    auto ma = tn.map_request(a.machine, a.map(true), now);
    REQUIRE(ma.status == 200);
    const auto full = first_map(ma);
    CHECK(full["Node"]["Name"] == "alpha.hs.test.");
    CHECK(full["Node"]["Addresses"] == json({"100.64.0.1/32", "fd7a:115c:a1e0::1/128"}));
    CHECK(full["Node"]["MachineAuthorized"] == true);
    REQUIRE(full["Peers"].size() == 1);
    CHECK(full["Peers"][0]["Name"] == "beta-box.hs.test.");
    CHECK(full["DERPMap"]["Regions"].contains("900"));
    CHECK(full["PacketFilter"][0]["SrcIPs"][0] == "*");
    CHECK(full["Debug"]["DisableLogTail"] == true);
    CHECK(full["CollectServices"] == false);

    Sink sa;
    tn.attach(ma.node_id, &sa, now);

    // b's lite update (endpoints) reaches a as PeersChanged, with b's endpoints and home DERP.
    auto lite = b.map(false);
    lite["OmitPeers"] = true;
    auto mb = tn.map_request(b.machine, lite, now);
    CHECK(mb.lite);
    CHECK(sa.got.empty());  // peers hear of it on the next flush (every tick), with other changes
    tn.flush(now);
    REQUIRE_FALSE(sa.got.empty());
    const auto& delta = sa.got.front();  // nodes first; a's own presence follows in its own message
    REQUIRE(delta.contains("PeersChanged"));
    CHECK_FALSE(delta.contains("OnlineChange"));
    CHECK(delta["PeersChanged"][0]["Endpoints"][0] == "10.0.0.1:41641");
    CHECK(delta["PeersChanged"][0]["HomeDERP"] == 900);

    // Later reports that only move endpoints or the home DERP go out as patches; NetInfo
    // latency noise goes nowhere.
    sa.got.clear();
    auto moved = lite;
    moved["Endpoints"] = {"10.0.0.9:41641"};
    moved["Hostinfo"]["NetInfo"]["PreferredDERP"] = 901;
    tn.map_request(b.machine, moved, now);
    tn.flush(now);
    REQUIRE(sa.got.size() == 1);
    const auto& patch = sa.got[0]["PeersChangedPatch"][0];
    CHECK(patch["NodeID"] == mb.node_id);
    CHECK(patch["Endpoints"] == json({"10.0.0.9:41641"}));
    CHECK(patch["DERPRegion"] == 901);
    CHECK_FALSE(sa.got[0].contains("PeersChanged"));
    sa.got.clear();
    auto noise = moved;
    noise["Hostinfo"]["NetInfo"]["DERPLatency"] = {{"901-v4", 0.01}};
    tn.map_request(b.machine, noise, now);
    tn.flush(now);
    CHECK(sa.got.empty());

    // b's stream coming and going shows as OnlineChange, and going also stamps LastSeen.
    Sink sb;
    tn.attach(mb.node_id, &sb, now);
    CHECK(sa.got.empty());  // announced on the next flush, batched with others
    tn.flush(now);
    REQUIRE(sa.got.size() == 1);
    CHECK(sa.got[0]["OnlineChange"][std::to_string(mb.node_id)] == true);
    tn.detach(mb.node_id, &sb, now);
    tn.flush(now);
    REQUIRE(sa.got.size() == 2);
    CHECK(sa.got[1]["OnlineChange"][std::to_string(mb.node_id)] == false);
    CHECK(sa.got[1]["PeerSeenChange"][std::to_string(mb.node_id)] == true);

    // Changes another process writes (hs-admin) arrive through the change log.
    Db other = t.open();
    auto bn = *store::find_node_by_node_key(other, b.node);
    bn.given_name = "web";
    store::update_node(other, bn);
    sa.got.clear();
    tn.sync_from_db(Clock::now());
    tn.flush(Clock::now());
    REQUIRE(sa.got.size() == 1);
    CHECK(sa.got[0]["PeersChanged"][0]["Name"] == "web.hs.test.");

    // Expiring a node tells its peers, and the node itself gets its own expired self.
    auto an = *store::find_node_by_node_key(other, a.node);
    an.expiry = Clock::now() - std::chrono::seconds(1);
    store::update_node(other, an);
    sa.got.clear();
    tn.sync_from_db(Clock::now());
    tn.flush(Clock::now());
    REQUIRE(sa.got.size() == 1);
    CHECK(sa.got[0]["Node"]["MachineAuthorized"] == false);

    // Deleting b removes it from a's map.
    store::delete_node(other, bn.id);
    sa.got.clear();
    tn.sync_from_db(Clock::now());
    tn.flush(Clock::now());
    REQUIRE(sa.got.size() == 1);
    CHECK(sa.got[0]["PeersRemoved"] == json({bn.id}));
}

TEST_CASE("registration rejections: unknown, used-up and expired keys, foreign node key") {
    TempDb t;
    const auto user = store::create_user(*t.db, "alice");
    const auto single = store::create_preauth_key(*t.db, user.id, false, false, std::nullopt, {});
    const auto expired =
        store::create_preauth_key(*t.db, user.id, true, false, Clock::now() - std::chrono::hours(1), {});
    Tailnet tn(*t.db, test_config(), derp_map());
    tn.load();
    const auto now = Clock::now();
    Client a, b, c;
    CHECK(tn.register_node(a.machine, a.request("a", "hskey-auth-nope"), now).body["Error"] == "invalid pre-auth key");
    CHECK(tn.register_node(a.machine, a.request("a", expired.secret), now).body["Error"] == "pre-auth key has expired");
    CHECK_FALSE(tn.register_node(a.machine, a.request("a", single.secret), now).body.contains("Error"));
    CHECK(tn.register_node(b.machine, b.request("b", single.secret), now).body["Error"] ==
          "pre-auth key has already been used");
    // The same node presenting its key again is a restart, not a second use.
    CHECK_FALSE(tn.register_node(a.machine, a.request("a", single.secret), now).body.contains("Error"));
    // Another machine cannot claim a's node key.
    Client thief = a;
    thief.machine = c.machine;
    CHECK(tn.register_node(thief.machine, thief.request("a", single.secret), now).body["Error"] ==
          "node key belongs to another machine");
    CHECK(tn.node_count() == 1);
    // A map request for a's node key from another machine is refused.
    CHECK(tn.map_request(c.machine, a.map(true), now).status == 401);
    auto old = a.map(true);
    old["Version"] = 90;
    CHECK(tn.map_request(a.machine, old, now).status == 400);
}

TEST_CASE("interactive login waits for approval") {
    TempDb t;
    const auto user = store::create_user(*t.db, "alice");
    Tailnet tn(*t.db, test_config(), derp_map());
    tn.load();
    const auto now = Clock::now();
    Client a;
    auto req = a.request("laptop", "");
    req.erase("Auth");
    auto r1 = tn.register_node(a.machine, req, now);
    const std::string url = r1.body["AuthURL"];
    REQUIRE(url.rfind("http://127.0.0.1:8080/register/", 0) == 0);
    req["Followup"] = url;
    auto r2 = tn.register_node(a.machine, req, now);
    REQUIRE(r2.hold);
    CHECK_FALSE(tn.poll_auth(r2.auth_id, a.machine, req, now).has_value());
    store::approve_auth_request(*t.db, r2.auth_id, user.id, now);
    auto r3 = tn.poll_auth(r2.auth_id, a.machine, req, now);
    REQUIRE(r3.has_value());
    CHECK(r3->body["MachineAuthorized"] == true);
    CHECK(tn.node_count() == 1);
}

TEST_CASE("logout expires a node, and deletes an ephemeral one") {
    TempDb t;
    const auto user = store::create_user(*t.db, "alice");
    const auto key = store::create_preauth_key(*t.db, user.id, true, false, std::nullopt, {});
    const auto eph = store::create_preauth_key(*t.db, user.id, true, true, std::nullopt, {});
    Tailnet tn(*t.db, test_config(), derp_map());
    tn.load();
    const auto now = Clock::now();
    Client a, e;
    tn.register_node(a.machine, a.request("a", key.secret), now);
    tn.register_node(e.machine, e.request("e", eph.secret), now);
    CHECK(tn.node_count() == 2);
    auto out = e.request("e", "");
    out["Expiry"] = "1970-01-01T00:02:03Z";
    tn.register_node(e.machine, out, now);
    CHECK(tn.node_count() == 1);
    out = a.request("a", "");
    out["Expiry"] = "1970-01-01T00:02:03Z";
    tn.register_node(a.machine, out, now);
    const auto n = store::find_node_by_node_key(*t.db, a.node);
    REQUIRE(n);
    REQUIRE(n->expiry);
    CHECK(*n->expiry > now - std::chrono::minutes(1));  // clamped to now, not 1970
}

TEST_CASE("a user created by another process just before registering is named in the reply") {
    TempDb t;
    Tailnet tn(*t.db, test_config(), derp_map());
    tn.load();
    Db other = t.open();
    const auto user = store::create_user(other, "newcomer");
    const auto key = store::create_preauth_key(other, user.id, false, false, std::nullopt, {});
    Client a;
    // No sync_from_db in between: the reply must still carry the right owner.
    const auto r = tn.register_node(a.machine, a.request("a", key.secret), Clock::now());
    CHECK(r.body["User"]["ID"] == user.id);
    CHECK(r.body["Login"]["LoginName"] == "newcomer");
    const auto m = tn.map_request(a.machine, a.map(true), Clock::now());
    const auto bytes = m.first_bytes();
    std::string_view v(bytes);
    const auto full = json::parse(unframe_one(v));
    bool found = false;
    for (const auto& p : full["UserProfiles"]) found |= p["ID"] == user.id;
    CHECK(found);
}

TEST_CASE("a client's report does not overwrite an admin's edit made in between") {
    TempDb t;
    const auto user = store::create_user(*t.db, "alice");
    const auto key = store::create_preauth_key(*t.db, user.id, true, false, std::nullopt, {});
    Tailnet tn(*t.db, test_config(), derp_map());
    tn.load();
    Client a;
    REQUIRE(tn.register_node(a.machine, a.request("alpha", key.secret), Clock::now()).status == 200);
    const auto id = tn.map_request(a.machine, a.map(false), Clock::now()).node_id;

    // hs-admin renames the node and approves a route; hs-control has not synced yet when the
    // client reports new endpoints and logs in again.
    Db admin = t.open();
    store::set_node_given_name(admin, id, "renamed");
    store::set_node_approved_routes(admin, id, {"10.77.0.0/24"});
    auto moved = a.map(false);
    moved["Endpoints"] = {"10.0.0.7:41641"};
    tn.map_request(a.machine, moved, Clock::now());
    REQUIRE(tn.register_node(a.machine, a.request("alpha", key.secret), Clock::now()).status == 200);

    const auto row = *store::find_node(admin, id);
    CHECK(row.given_name == "renamed");
    CHECK(row.approved_routes == std::vector<std::string>{"10.77.0.0/24"});
    CHECK(row.endpoints == std::vector<std::string>{"10.0.0.7:41641"});
}
