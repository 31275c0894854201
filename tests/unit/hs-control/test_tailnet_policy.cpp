// The policy in the Tailnet: each node's map carries only the peers the policy lets it see and
// its own PacketFilter; a policy change reaches streaming nodes as a delta; a refused policy
// leaves the last good one in force.
#include <catch2/catch.hpp>

#include <algorithm>
#include <tuple>

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

// alice may reach the web server on port 80; bob may reach nothing and nobody reaches bob.
constexpr const char* kPolicy = R"({
  "tagOwners": {"tag:web": ["alice@"]},
  "acls": [{"action": "accept", "src": ["alice@"], "dst": ["tag:web:80"]}],
  "ssh": [{"action": "accept", "src": ["alice@"], "dst": ["tag:web"], "users": ["root"]}]
})";

struct Net {
    TempDb t;
    store::NewPreAuthKey alice_key, bob_key, web_key;
    Tailnet tn;
    TimePoint now = Clock::now();
    Net() : tn(*t.db, hs::test::test_config(), hs::test::derp_map()) {
        const auto alice = store::create_user(*t.db, "alice");
        const auto bob = store::create_user(*t.db, "bob");
        alice_key = store::create_preauth_key(*t.db, alice.id, true, false, std::nullopt, {});
        bob_key = store::create_preauth_key(*t.db, bob.id, true, false, std::nullopt, {});
        web_key = store::create_preauth_key(*t.db, alice.id, true, false, std::nullopt, {"tag:web"});
        tn.load();
    }
    std::int64_t join(const Client& c, Sink& s, const std::string& name, const std::string& secret) {
        REQUIRE(tn.register_node(c.machine, c.request(name, secret), now).status == 200);
        const auto r = tn.map_request(c.machine, c.map(true), now);
        REQUIRE(r.status == 200);
        tn.attach(r.node_id, &s, now);
        return r.node_id;
    }
    // Two laptops (alice's, bob's) and alice's tag:web server, streaming under kPolicy, with
    // what they were sent so far cleared.
    struct Lab {
        Client a, b, w;
        Sink sa, sb, sw;
        std::int64_t ia = 0, ib = 0, iw = 0;
    };
    void start(Lab& lab) {
        REQUIRE(tn.set_policy(std::string(kPolicy)).empty());
        lab.ia = join(lab.a, lab.sa, "laptop-a", alice_key.secret);
        lab.ib = join(lab.b, lab.sb, "laptop-b", bob_key.secret);
        lab.iw = join(lab.w, lab.sw, "web", web_key.secret);
        tn.flush(now);
        for (auto* s : {&lab.sa, &lab.sb, &lab.sw}) s->got.clear();
    }
    // The full map a new request from `c` gets now.
    json full_map(const Client& c) {
        const auto r = tn.map_request(c.machine, c.map(false), now);
        REQUIRE(r.status == 200);
        const auto bytes = r.first_bytes();
        std::string_view v(bytes);
        return json::parse(unframe_one(v));
    }
};

std::vector<std::int64_t> peer_ids(const json& msg, const char* field) {
    std::vector<std::int64_t> out;
    if (!msg.contains(field)) return out;
    for (const auto& p : msg[field]) out.push_back(p.is_number() ? p.get<std::int64_t>() : p["ID"].get<std::int64_t>());
    std::sort(out.begin(), out.end());
    return out;
}

// The last message carrying `field`, or null.
json last_with(const Sink& s, const char* field) {
    for (auto it = s.got.rbegin(); it != s.got.rend(); ++it)
        if (it->contains(field)) return *it;
    return nullptr;
}

std::string ipv4_of(Db& db, const Client& c) { return *store::find_node_by_node_key(db, c.node)->ipv4; }

}  // namespace

TEST_CASE("with a policy each node's map holds only the peers it may reach and its own filter") {
    Net n;
    REQUIRE(n.tn.set_policy(std::string(kPolicy)).empty());
    Client a, b, w;
    Sink sa, sb, sw;
    const auto ia = n.join(a, sa, "laptop-a", n.alice_key.secret);
    n.join(b, sb, "laptop-b", n.bob_key.secret);
    const auto iw = n.join(w, sw, "web", n.web_key.secret);
    n.tn.flush(n.now);

    // Maps asked for after everyone registered show each view whole.
    const auto fa = n.full_map(a), fb = n.full_map(b), fw = n.full_map(w);
    CHECK(peer_ids(fa, "Peers") == std::vector<std::int64_t>{iw});
    CHECK(peer_ids(fw, "Peers") == std::vector<std::int64_t>{ia});
    CHECK(peer_ids(fb, "Peers").empty());

    // Only the web server accepts anything: alice's address on port 80.
    const auto& wf = fw["PacketFilter"];
    REQUIRE(wf.size() == 1);
    CHECK(wf[0]["SrcIPs"].dump().find(ipv4_of(*n.t.db, a)) != std::string::npos);
    CHECK(wf[0]["DstPorts"][0]["Ports"] == json{{"First", 80}, {"Last", 80}});
    CHECK(fa["PacketFilter"].empty());
    CHECK(fb["PacketFilter"].empty());

    // SSH: the web server lets alice in as root; the laptops carry no SSH rules.
    REQUIRE(fw.contains("SSHPolicy"));
    CHECK(fw["SSHPolicy"]["rules"].size() == 1);
    CHECK(fb["SSHPolicy"]["rules"].empty());

    // bob's stream never heard of the others, not even as they registered.
    for (const auto& m : sb.got) {
        CHECK(peer_ids(m, "PeersChanged").empty());
        if (m.contains("Peers")) CHECK(peer_ids(m, "Peers").empty());
    }
}

TEST_CASE("a policy set, replaced or removed reaches streaming nodes as a delta") {
    Net n;
    Client a, b, w;
    Sink sa, sb, sw;
    const auto ia = n.join(a, sa, "laptop-a", n.alice_key.secret);
    const auto ib = n.join(b, sb, "laptop-b", n.bob_key.secret);
    const auto iw = n.join(w, sw, "web", n.web_key.secret);
    n.tn.flush(n.now);
    for (auto* s : {&sa, &sb, &sw}) s->got.clear();

    REQUIRE(n.tn.set_policy(std::string(kPolicy)).empty());
    CHECK(n.tn.has_policy());
    n.tn.flush(n.now);
    const auto mb = last_with(sb, "PeersRemoved");
    REQUIRE(mb.is_object());
    CHECK(peer_ids(mb, "PeersRemoved") == std::vector<std::int64_t>{ia, iw});
    CHECK(mb["PacketFilter"].empty());
    const auto ma = last_with(sa, "PeersRemoved");
    REQUIRE(ma.is_object());
    CHECK(peer_ids(ma, "PeersRemoved") == std::vector<std::int64_t>{ib});
    CHECK(last_with(sw, "PacketFilter")["PacketFilter"].size() == 1);
    CHECK(last_with(sw, "SSHPolicy")["SSHPolicy"]["rules"].size() == 1);

    // A policy that does not compile is refused; the last good one stays and nothing is sent.
    for (auto* s : {&sa, &sb, &sw}) s->got.clear();
    const auto problems = n.tn.set_policy(std::string(R"({"acls": [)"));
    CHECK(!problems.empty());
    CHECK(n.tn.has_policy());
    CHECK(n.tn.policy_reload_errors() == 1);
    n.tn.flush(n.now);
    CHECK(sb.got.empty());

    // bob gets to the web server too: it appears in bob's map, bob in its.
    REQUIRE(n.tn.set_policy(std::string(R"({
      "tagOwners": {"tag:web": ["alice@"]},
      "acls": [{"action": "accept", "src": ["alice@", "bob@"], "dst": ["tag:web:80"]}]
    })"))
                .empty());
    n.tn.flush(n.now);
    CHECK(peer_ids(last_with(sb, "PeersChanged"), "PeersChanged") == std::vector<std::int64_t>{iw});
    CHECK(peer_ids(last_with(sw, "PeersChanged"), "PeersChanged") == std::vector<std::int64_t>{ib});
    // The ssh section is gone: an empty rule list takes back what the web server allowed.
    CHECK(last_with(sw, "SSHPolicy")["SSHPolicy"] == json{{"rules", json::array()}});

    // No policy: every node sees every other again, under the allow-all filter.
    for (auto* s : {&sa, &sb, &sw}) s->got.clear();
    REQUIRE(n.tn.set_policy(std::nullopt).empty());
    CHECK(!n.tn.has_policy());
    const auto back = last_with(sb, "PeersChanged");
    REQUIRE(back.is_object());
    CHECK(peer_ids(back, "PeersChanged") == std::vector<std::int64_t>{ia, iw});
    CHECK(back["PacketFilter"][0]["SrcIPs"] == json{"*"});
}

TEST_CASE("a node joining under a policy is shown only to the nodes that may see it") {
    Net n;
    REQUIRE(n.tn.set_policy(std::string(kPolicy)).empty());
    Client a, b, w;
    Sink sa, sb, sw;
    n.join(a, sa, "laptop-a", n.alice_key.secret);
    n.join(b, sb, "laptop-b", n.bob_key.secret);
    n.tn.flush(n.now);
    for (auto* s : {&sa, &sb}) s->got.clear();
    const auto iw = n.join(w, sw, "web", n.web_key.secret);
    n.tn.flush(n.now);
    CHECK(peer_ids(last_with(sa, "PeersChanged"), "PeersChanged") == std::vector<std::int64_t>{iw});
    CHECK(last_with(sb, "PeersChanged").is_null());
    // Presence of the web server is news to alice only.
    n.tn.detach(iw, &sw, n.now);
    n.tn.flush(n.now);
    CHECK(last_with(sb, "OnlineChange").is_null());
}

TEST_CASE(
    "tags a client asks for (--advertise-tags) are granted when the user owns the tags, else refused with Tailscale's "
    "message") {
    Net n;
    Client a, b, c;
    auto req = [](const Client& cl, const std::string& name, const std::string& key, std::vector<std::string> tags) {
        auto r = cl.request(name, key);
        r["Hostinfo"]["RequestTags"] = tags;
        return r;
    };
    // No policy: no tag is defined, so none can be owned.
    auto r = n.tn.register_node(a.machine, req(a, "a", n.alice_key.secret, {"tag:web"}), n.now);
    CHECK(r.body.value("Error", "") == "requested tags [tag:web] are invalid or not permitted");
    CHECK(!store::find_node_by_node_key(*n.t.db, a.node));

    REQUIRE(n.tn.set_policy(std::string(kPolicy)).empty());
    r = n.tn.register_node(b.machine, req(b, "b", n.bob_key.secret, {"tag:web"}), n.now);
    CHECK(r.body.value("Error", "") == "requested tags [tag:web] are invalid or not permitted");
    r = n.tn.register_node(b.machine, req(b, "b", n.alice_key.secret, {"tag:web", "tag:nope"}), n.now);
    CHECK(r.body.value("Error", "") == "requested tags [tag:nope] are invalid or not permitted");
    CHECK(n.tn.stats().registrations_rejected == 3);

    r = n.tn.register_node(c.machine, req(c, "c", n.alice_key.secret, {"tag:web"}), n.now);
    REQUIRE(r.status == 200);
    CHECK(!r.body.contains("Error"));
    const auto node = store::find_node_by_node_key(*n.t.db, c.node);
    REQUIRE(node);
    CHECK(node->tags == std::vector<std::string>{"tag:web"});
    CHECK(!node->user_id);  // a tagged node belongs to its tags
}

TEST_CASE("autoApprovers approve announced routes at registration and when the policy allows them later") {
    Net n;
    Client r1;
    Sink s1;
    auto with_routes = [](nlohmann::json req, std::vector<std::string> routes) {
        req["Hostinfo"]["RoutableIPs"] = routes;
        return req;
    };
    REQUIRE(n.tn.set_policy(std::string(R"({
      "tagOwners": {"tag:router": ["alice@"]},
      "autoApprovers": {"routes": {"10.0.0.0/8": ["alice@"]}},
      "acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]
    })"))
                .empty());
    REQUIRE(n.tn.register_node(r1.machine,
                               with_routes(r1.request("r1", n.alice_key.secret), {"10.1.0.0/16", "192.168.0.0/24"}),
                               n.now)
                .status == 200);
    const auto id1 = store::find_node_by_node_key(*n.t.db, r1.node)->id;
    auto m = n.tn.map_request(r1.machine, with_routes(r1.map(true), {"10.1.0.0/16", "192.168.0.0/24"}), n.now);
    REQUIRE(m.status == 200);
    n.tn.attach(id1, &s1, n.now);
    n.tn.flush(n.now);
    // Only the route inside 10.0.0.0/8: 192.168.0.0/24 waits for an admin.
    CHECK(store::find_node(*n.t.db, id1)->approved_routes == std::vector<std::string>{"10.1.0.0/16"});
    CHECK(store::find_node(*n.t.db, id1)->primary_routes == std::vector<std::string>{"10.1.0.0/16"});

    // The policy now approves 192.168.0.0/16 for alice too: the node's route is approved on set.
    REQUIRE(n.tn.set_policy(std::string(R"({
      "tagOwners": {"tag:router": ["alice@"]},
      "autoApprovers": {"routes": {"10.0.0.0/8": ["alice@"], "192.168.0.0/16": ["alice@"]}},
      "acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]
    })"))
                .empty());
    const auto approved = store::find_node(*n.t.db, id1)->approved_routes;
    CHECK(std::count(approved.begin(), approved.end(), "192.168.0.0/24") == 1);
    // Never taken back by a narrower policy: removing is an admin's call.
    REQUIRE(n.tn.set_policy(std::string(R"({"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]})")).empty());
    CHECK(store::find_node(*n.t.db, id1)->approved_routes.size() == 2);
}

TEST_CASE("a change that leaves the policy's inputs alone reaches only the nodes that see it, without a recompile") {
    Net n;
    Net::Lab lab;
    n.start(lab);
    auto [w, sa, sb, iw] = std::tie(lab.w, lab.sa, lab.sb, lab.iw);
    auto req = w.map(false);
    req["OmitPeers"] = true;
    req["Hostinfo"]["OS"] = "plan9";  // a whole-node change; tags, addresses and routes stay
    REQUIRE(n.tn.map_request(w.machine, req, n.now).status == 200);
    n.tn.flush(n.now);
    const auto ma = last_with(sa, "PeersChanged");
    REQUIRE(ma.is_object());
    CHECK(peer_ids(ma, "PeersChanged") == std::vector<std::int64_t>{iw});
    CHECK(!ma.contains("PacketFilter"));  // the same view: only the changed peer
    CHECK(sb.got.empty());
}

TEST_CASE("a node deleted under a policy leaves the maps of the nodes that saw it, once, and reaches no other") {
    Net n;
    Net::Lab lab;
    n.start(lab);
    auto [sa, sb, sw, iw] = std::tie(lab.sa, lab.sb, lab.sw, lab.iw);

    Db admin = n.t.open();
    store::delete_node(admin, iw);
    n.tn.sync_from_db(n.now);
    REQUIRE(sa.got.size() == 1);  // at once
    CHECK(sa.got[0]["PeersRemoved"] == json({iw}));
    CHECK(sb.got.empty());  // bob never saw the web server
    CHECK(sw.ended);
    // The tick recompiles the policy without the web server: alice's new view says nothing more
    // of it, and bob still hears nothing.
    n.tn.flush(n.now);
    CHECK(sa.got.size() == 1);
    CHECK(sb.got.empty());
}
