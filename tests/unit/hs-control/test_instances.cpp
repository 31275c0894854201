// Two hs-control instances on one database (docs/scale-out.md), as two Tailnets on two
// connections: presence shared through nodes.online's bits, addresses picked after reading what
// the other committed, and an ephemeral node that came back elsewhere left alone. Runs on SQLite
// and, through tests/cli/test_postgres_units.sh, on PostgreSQL.
#include <catch2/catch.hpp>

#include "common/control/mapframe.h"
#include "common/store/store.h"
#include "tests/unit/hs-control/tailnet_fixture.h"
#include "tools/hs-control/tailnet.h"

using namespace hs;
using namespace hs::control;
using namespace hs::test;
using nlohmann::json;

namespace {

std::int64_t online_bits(Db& db, std::int64_t id) {
    auto st = db.prepare("SELECT online FROM nodes WHERE id = ?");
    st.bind(1, id);
    REQUIRE(st.step());
    return st.int64(0);
}

// The OnlineChange entries `s` got, merged in order.
json online_changes(const Sink& s) {
    json out = json::object();
    for (const auto& m : s.got)
        if (m.contains("OnlineChange"))
            for (const auto& [id, on] : m["OnlineChange"].items()) out[id] = on;
    return out;
}

// Two instances (slots 0 and 1) on one database, each on its own connection, and a reusable key
// (ephemeral in the variant below, whose nodes go 70 s after they leave).
struct TwoInstances {
    TempDb t;
    Db second = t.open();
    Config cfg;
    Tailnet a_inst, b_inst;
    store::NewPreAuthKey key;
    explicit TwoInstances(bool ephemeral = false, Config c = test_config())
        : cfg(std::move(c)), a_inst(*t.db, cfg, derp_map()), b_inst(second, cfg, derp_map()) {
        const auto user = store::create_user(*t.db, "alice");
        key = store::create_preauth_key(*t.db, user.id, true, ephemeral, std::nullopt, {});
        a_inst.load();
        b_inst.set_instance_slot(1);
        b_inst.load();
    }
};

Config short_ephemeral_timeout() {
    auto c = test_config();
    c.ephemeral_inactivity_timeout = std::chrono::seconds(70);
    return c;
}

// Node a registered through the first instance and streaming there (its sink sa), b registered
// through the second.
struct TwoNodes : TwoInstances {
    Client a, b;
    Sink sa;
    MapReply ma;
    TimePoint now = Clock::now();
    TwoNodes() {
        REQUIRE(a_inst.register_node(a.machine, a.request("a", key.secret), now).status == 200);
        REQUIRE(b_inst.register_node(b.machine, b.request("b", key.secret), now).status == 200);
        ma = a_inst.map_request(a.machine, a.map(true), now);
        a_inst.attach(ma.node_id, &sa, now);
    }
};

struct TwoInstancesEphemeral : TwoInstances {
    TwoInstancesEphemeral() : TwoInstances(true, short_ephemeral_timeout()) {}
};

}  // namespace

TEST_CASE_METHOD(TwoNodes,
                 "two instances: a node streaming to one is online for the other's peers, and offline when it leaves") {
    a_inst.flush(now);
    const auto mb = b_inst.map_request(b.machine, b.map(true), now);
    a_inst.sync_from_db(now);  // learns of b and what its client reported
    a_inst.flush(now);
    Sink sb;
    b_inst.attach(mb.node_id, &sb, now);
    b_inst.flush(now);
    CHECK(online_bits(*t.db, ma.node_id) == 1);  // slot 0's bit
    CHECK(online_bits(*t.db, mb.node_id) == 2);  // slot 1's bit

    sa.got.clear();
    a_inst.sync_from_db(now);
    a_inst.flush(now);
    CHECK(online_changes(sa) == json({{std::to_string(mb.node_id), true}}));
    for (const auto& m : sa.got) CHECK_FALSE(m.contains("PeersChanged"));  // presence only, not the node

    // b's stream ends on its instance: offline for a's instance too, and its bit is gone.
    sa.got.clear();
    b_inst.detach(mb.node_id, &sb, now);
    b_inst.flush(now);
    CHECK(online_bits(*t.db, mb.node_id) == 0);
    a_inst.sync_from_db(now);
    a_inst.flush(now);
    CHECK(online_changes(sa) == json({{std::to_string(mb.node_id), false}}));
    CHECK(online_bits(*t.db, ma.node_id) == 1);  // a's own bit untouched by the other instance
}

TEST_CASE_METHOD(TwoInstances,
                 "two instances: a registration reads what the other committed before it picks an address") {
    const auto now = Clock::now();
    Client a, b, c;
    // No sync in between: each instance's memory is behind the other's commits.
    REQUIRE(a_inst.register_node(a.machine, a.request("same", key.secret), now).status == 200);
    const auto rb = b_inst.register_node(b.machine, b.request("same", key.secret), now);
    REQUIRE(rb.status == 200);
    CHECK_FALSE(rb.body.contains("Error"));
    const auto rc = a_inst.register_node(c.machine, c.request("same", key.secret), now);
    CHECK_FALSE(rc.body.contains("Error"));
    std::set<std::string> v4, names;
    for (const auto& n : store::list_nodes(*t.db)) {
        v4.insert(n.ipv4.value_or(""));
        names.insert(n.given_name);
    }
    CHECK(v4 == std::set<std::string>{"100.64.0.1", "100.64.0.2", "100.64.0.3"});
    CHECK(names == std::set<std::string>{"same", "same-1", "same-2"});
    // The node registered through the other instance is known here at once: its map request
    // right after is served, not sent to log in again.
    const auto m = a_inst.map_request(b.machine, b.map(false), now);
    CHECK(m.status == 200);
    CHECK(m.node_id == store::find_node_by_node_key(*t.db, b.node)->id);
}

TEST_CASE_METHOD(TwoInstancesEphemeral,
                 "two instances: an ephemeral node that came back through the other instance is not collected") {
    const auto now = Clock::now();
    Client e;
    REQUIRE(a_inst.register_node(e.machine, e.request("e", key.secret), now).status == 200);
    const auto me = a_inst.map_request(e.machine, e.map(true), now);
    Sink s1, s2;
    a_inst.attach(me.node_id, &s1, now);
    a_inst.flush(now);
    a_inst.detach(me.node_id, &s1, now);
    a_inst.flush(now);
    // It reconnects through the other instance; this one has not read that yet.
    b_inst.map_request(e.machine, e.map(true), now);
    b_inst.attach(me.node_id, &s2, now);
    b_inst.flush(now);
    a_inst.collect_ephemeral(now + std::chrono::seconds(71));
    CHECK(store::find_node(*t.db, me.node_id));
    // Gone from the other instance too: now it is collected, once.
    b_inst.detach(me.node_id, &s2, now);
    b_inst.flush(now);
    const auto later = now + std::chrono::seconds(72);
    a_inst.sync_from_db(later);
    a_inst.collect_ephemeral(later + std::chrono::seconds(71));
    CHECK_FALSE(store::find_node(*t.db, me.node_id));
}

TEST_CASE_METHOD(TwoNodes, "two instances: what a client of the other instance reports reaches peers as a patch") {
    auto report = b.map(false);
    report["OmitPeers"] = true;
    const auto mb = b_inst.map_request(b.machine, report, now);
    a_inst.sync_from_db(now);
    a_inst.flush(now);
    sa.got.clear();
    // b moves: new endpoints and home DERP, written by its instance; a's instance reads the row.
    report["Endpoints"] = {"10.0.0.7:41641"};
    report["Hostinfo"]["NetInfo"]["PreferredDERP"] = 901;
    b_inst.map_request(b.machine, report, now);
    a_inst.sync_from_db(now);
    a_inst.flush(now);
    REQUIRE(sa.got.size() == 1);
    CHECK_FALSE(sa.got[0].contains("PeersChanged"));
    REQUIRE(sa.got[0].contains("PeersChangedPatch"));
    const auto& patch = sa.got[0]["PeersChangedPatch"][0];
    CHECK(patch["NodeID"] == mb.node_id);
    CHECK(patch["Endpoints"] == json({"10.0.0.7:41641"}));
    CHECK(patch["DERPRegion"] == 901);
    // Anything else (a new hostname) goes out whole.
    sa.got.clear();
    report["Hostinfo"]["Hostname"] = "b-renamed";
    b_inst.map_request(b.machine, report, now);
    a_inst.sync_from_db(now);
    a_inst.flush(now);
    REQUIRE_FALSE(sa.got.empty());
    CHECK(sa.got[0].contains("PeersChanged"));
}

TEST_CASE("a transaction in which a statement failed is not reported as committed") {
    TempDb t;
    const auto alice = store::create_user(*t.db, "alice");
    {
        Db::Tx tx(*t.db);
        const auto add = [&](const char* name) {
            t.db->prepare("INSERT INTO users(name, created_at, updated_at) VALUES (?, 'now', 'now')")
                .bind(1, name)
                .run();
        };
        add("bob");
        CHECK_THROWS_AS(add("alice"), DbError);  // names are unique
        if (t.db->postgres()) {
            // PostgreSQL aborted the transaction at the failure and answers COMMIT with a rollback.
            CHECK_THROWS_WITH(tx.commit(), Catch::Contains("rolled back"));
        } else {
            tx.commit();  // SQLite undoes the failed statement only
        }
    }
    auto st = t.db->prepare("SELECT count(*) FROM users WHERE name = 'bob'");
    REQUIRE(st.step());
    CHECK(st.int64(0) == (t.db->postgres() ? 0 : 1));
    CHECK(store::find_user(*t.db, alice.id));
}
