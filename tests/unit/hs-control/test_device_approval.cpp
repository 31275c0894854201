// auth.device_approval: a node registered while it is on is no one's peer and sees none, and its
// own map says MachineAuthorized false with a Health line saying why, until an admin approves it
// (in another process, through the change log); then its peers get it on the next tick and the
// node itself a whole map. With and without an ACL policy, which take different paths.
#include <catch2/catch.hpp>

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

namespace {

std::vector<std::string> names(const json& peers) {
    std::vector<std::string> out;
    for (const auto& p : peers) out.push_back(p.value("Name", ""));  // the MagicDNS name: alpha.hs.test.
    return out;
}

// Every node ID a stream heard of as a peer (whole or as a patch/presence).
bool heard_of(const Sink& s, std::int64_t id) {
    for (const auto& m : s.got) {
        for (const char* k : {"Peers", "PeersChanged"})
            if (m.contains(k))
                for (const auto& p : m[k])
                    if (p["ID"] == id) return true;
        if (m.contains("OnlineChange") && m["OnlineChange"].contains(std::to_string(id))) return true;
        if (m.contains("PeersChangedPatch"))
            for (const auto& p : m["PeersChangedPatch"])
                if (p["NodeID"] == id) return true;
    }
    return false;
}

struct Lab {
    TempDb t;
    Config cfg = [] {
        auto c = test_config();
        c.device_approval = true;
        return c;
    }();
    User user = store::create_user(*t.db, "alice");
    store::NewPreAuthKey key = store::create_preauth_key(*t.db, user.id, true, false, std::nullopt, {});
    Tailnet tn{*t.db, cfg, derp_map()};
    Lab() { tn.load(); }

    // Registers and streams a node; returns its ID and full map.
    std::pair<std::int64_t, json> join(const Client& c, const std::string& name, Sink& sink) {
        const auto now = Clock::now();
        const auto r = tn.register_node(c.machine, c.request(name, key.secret), now);
        REQUIRE(r.status == 200);
        auto m = tn.map_request(c.machine, c.map(true), now);
        REQUIRE(m.status == 200);
        tn.attach(m.node_id, &sink, now);
        tn.flush(now);
        return {m.node_id, first_map(m)};
    }
    // hs-admin nodes approve, from another connection to the file.
    void approve(std::int64_t id) {
        Db other = t.open();
        store::set_node_approved(other, id, true);
        tn.sync_from_db(Clock::now());
        tn.flush(Clock::now());
    }
};

void check_waits(const json& map, std::int64_t id) {
    CHECK(map["Node"]["MachineAuthorized"] == false);
    CHECK_FALSE(map.contains("Peers"));
    REQUIRE(map["Health"].size() == 1);
    CHECK(map["Health"][0].get<std::string>().find("hs-admin nodes approve " + std::to_string(id)) !=
          std::string::npos);
}

void run(bool with_policy) {
    Lab lab;
    if (with_policy)
        REQUIRE(lab.tn.set_policy(std::string(R"({"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]})"))
                    .empty());
    Client a, b;
    Sink sa, sb;
    const auto [aid, amap] = lab.join(a, "alpha", sa);
    check_waits(amap, aid);
    CHECK_FALSE(store::find_node(*lab.t.db, aid)->approved);
    lab.approve(aid);
    // The approved node gets a whole map at once: authorized, Health cleared.
    REQUIRE_FALSE(sa.got.empty());
    CHECK(sa.got.back()["Node"]["MachineAuthorized"] == true);
    CHECK(sa.got.back()["Health"] == json::array());

    sa.got.clear();
    const auto [bid, bmap] = lab.join(b, "beta", sb);
    check_waits(bmap, bid);
    // b comes and reports: a hears nothing of it.
    lab.tn.map_request(b.machine, b.map(false), Clock::now());
    lab.tn.flush(Clock::now());
    CHECK_FALSE(heard_of(sa, bid));
    // A restart (a fresh full map for a) does not show b either.
    CHECK(names(first_map(lab.tn.map_request(a.machine, a.map(false), Clock::now()))["Peers"]).empty());

    sb.got.clear();
    lab.approve(bid);
    CHECK(heard_of(sa, bid));
    // b's whole map has a as its peer, and it is authorized now.
    bool b_sees_a = false, authorized = false;
    for (const auto& m : sb.got) {
        if (m.contains("Peers") && names(m["Peers"]) == std::vector<std::string>{"alpha.hs.test."}) b_sees_a = true;
        if (m.contains("PeersChanged") && names(m["PeersChanged"]) == std::vector<std::string>{"alpha.hs.test."})
            b_sees_a = true;
        if (m.contains("Node") && m["Node"]["MachineAuthorized"] == true) authorized = true;
    }
    CHECK(b_sees_a);
    CHECK(authorized);
    CHECK(names(first_map(lab.tn.map_request(a.machine, a.map(false), Clock::now()))["Peers"]) ==
          std::vector<std::string>{"beta.hs.test."});
}

}  // namespace

TEST_CASE("device approval: a waiting node is invisible until approved (no policy)") { run(false); }

TEST_CASE("device approval: a waiting node is invisible until approved (ACL policy)") { run(true); }

TEST_CASE("device approval: off by default, every node is approved at once") {
    TempDb t;
    const auto user = store::create_user(*t.db, "alice");
    const auto key = store::create_preauth_key(*t.db, user.id, true, false, std::nullopt, {});
    Tailnet tn(*t.db, test_config(), derp_map());
    tn.load();
    Client a;
    const auto r = tn.register_node(a.machine, a.request("alpha", key.secret), Clock::now());
    CHECK(r.body["MachineAuthorized"] == true);
    const auto full = first_map(tn.map_request(a.machine, a.map(false), Clock::now()));
    CHECK_FALSE(full.contains("Health"));
    CHECK(store::find_node_by_node_key(*t.db, a.node)->approved);
}
