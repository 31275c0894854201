// Semantics of each policy section on a small tailnet: two users with a laptop each (alice has
// a second device), a tagged server, a subnet router and an exit node.
#include <catch2/catch.hpp>

#include <algorithm>

#include "common/policy/engine.h"

using namespace hs::policy;
using nlohmann::json;

namespace {

std::vector<User> users() { return {{1, "alice", "alice@example.com", "", ""}, {2, "bob", "bob@example.org", "", ""}}; }

std::vector<Node> nodes() {
    return {
        {1, 1, "a1", "a1", {}, "100.64.0.1", "fd7a:115c:a1e0::1", {}, {}, {}},
        {2, 1, "a2", "a2", {}, "100.64.0.2", "fd7a:115c:a1e0::2", {}, {}, {}},
        {3, 2, "b1", "b1", {}, "100.64.0.3", "fd7a:115c:a1e0::3", {}, {}, {}},
        {4, 0, "srv", "srv", {"tag:server"}, "100.64.0.4", "fd7a:115c:a1e0::4", {}, {}, {}},
        {5,
         0,
         "rtr",
         "rtr",
         {"tag:router"},
         "100.64.0.5",
         "fd7a:115c:a1e0::5",
         {"10.1.0.0/16"},
         {"10.1.0.0/16"},
         {"10.1.0.0/16"}},
        {6,
         0,
         "exit",
         "exit",
         {"tag:exit"},
         "100.64.0.6",
         "fd7a:115c:a1e0::6",
         {"0.0.0.0/0", "::/0"},
         {"0.0.0.0/0", "::/0"},
         {}},
    };
}

const char* kOwners = R"("tagOwners": {"tag:server": ["alice@"], "tag:router": ["alice@"], "tag:exit": ["alice@"]})";

std::shared_ptr<const Compiled> build(const std::string& body) {
    auto r = compile("{" + std::string(kOwners) + "," + body + "}", users(), nodes());
    INFO((r.problems.empty() ? std::string() : r.problems.front().str()));
    REQUIRE(r.ok());
    return r.compiled;
}

std::vector<std::uint64_t> peer_ids(const NodeView& v) {
    std::vector<std::uint64_t> ids;
    for (const auto& p : v.peers) ids.push_back(p.node_id);
    return ids;
}

const PeerView* peer(const NodeView& v, std::uint64_t id) {
    for (const auto& p : v.peers) {
        if (p.node_id == id) return &p;
    }
    return nullptr;
}

}  // namespace

TEST_CASE("autogroup:self reaches only the owner's own devices") {
    auto c = build(R"("acls": [{"action": "accept", "src": ["autogroup:member"], "dst": ["autogroup:self:*"]}])");
    auto a1 = c->view(1, "");
    REQUIRE(a1.packet_filter.size() == 1);
    CHECK(a1.packet_filter[0]["SrcIPs"] ==
          json::array({"100.64.0.1-100.64.0.2", "fd7a:115c:a1e0::1-fd7a:115c:a1e0::2"}));
    CHECK(peer_ids(a1) == std::vector<std::uint64_t>{2});
    CHECK(c->view(3, "").peers.empty());
    CHECK(c->view(4, "").packet_filter.empty());
}

TEST_CASE("autogroup:internet lands on exit nodes and shows their exit routes") {
    auto c = build(R"("acls": [{"action": "accept", "src": ["bob@"], "dst": ["autogroup:internet:*"]}])");
    auto exit = c->view(6, "");
    REQUIRE(exit.packet_filter.size() == 1);
    CHECK(exit.packet_filter[0]["DstPorts"].size() > 3);
    auto b1 = c->view(3, "");
    REQUIRE(peer(b1, 6));
    CHECK(peer(b1, 6)->allowed_ips ==
          std::vector<std::string>{"100.64.0.6/32", "fd7a:115c:a1e0::6/128", "0.0.0.0/0", "::/0"});
    CHECK(peer(b1, 6)->cap_map.contains("suggest-exit-node"));
    CHECK(c->view(1, "").peers.empty());
}

TEST_CASE("an exit node reached on its own address is not offered as an exit without the internet") {
    auto c = build(R"("acls": [{"action": "accept", "src": ["alice@"], "dst": ["autogroup:internet:*"]},
                               {"action": "accept", "src": ["bob@"], "dst": ["tag:exit:80"]}])");
    auto b1 = c->view(3, "");
    REQUIRE(peer(b1, 6));  // bob may reach the node itself...
    CHECK(peer(b1, 6)->allowed_ips ==
          std::vector<std::string>{"100.64.0.6/32", "fd7a:115c:a1e0::6/128"});  // ...not through it
    auto a1 = c->view(1, "");
    REQUIRE(peer(a1, 6));
    CHECK(peer(a1, 6)->allowed_ips.back() == "::/0");
}

TEST_CASE("a subnet route is offered only to who may use it; * as a source includes it") {
    auto c = build(R"("acls": [{"action": "accept", "src": ["alice@"], "dst": ["10.1.2.0/24:443"]},
                               {"action": "accept", "src": ["*"], "dst": ["tag:server:22"]}])");
    auto a1 = c->view(1, "");
    REQUIRE(peer(a1, 5));
    CHECK(peer(a1, 5)->allowed_ips.back() == "10.1.0.0/16");
    auto rtr = c->view(5, "");
    REQUIRE(rtr.packet_filter.size() == 1);
    CHECK(rtr.packet_filter[0]["DstPorts"][0]["IP"] == "10.1.2.0/24");
    auto srv = c->view(4, "");
    auto src = srv.packet_filter[0]["SrcIPs"];
    CHECK(std::find(src.begin(), src.end(), "10.1.0.0/16") != src.end());
}

TEST_CASE("grants: ip specs split by protocol, app caps narrowed to the node, drive adds drive-sharer") {
    auto c = build(R"("grants": [{"src": ["alice@"], "dst": ["tag:server"], "ip": ["tcp:22", "udp:53", "tcp:443"]},
                                 {"src": ["bob@"], "dst": ["*"], "app": {"tailscale.com/cap/drive": [{"shares": ["*"]}]}}])");
    auto srv = c->view(4, "");
    int tcp = 0, udp = 0, caps = 0;
    for (const auto& r : srv.packet_filter) {
        if (r.contains("IPProto") && r["IPProto"][0] == 6) tcp = static_cast<int>(r["DstPorts"].size());
        if (r.contains("IPProto") && r["IPProto"][0] == 17) udp = static_cast<int>(r["DstPorts"].size());
        if (r.contains("CapGrant")) {
            ++caps;
            CHECK(r["CapGrant"][0]["Dsts"] == json::array({"100.64.0.4/32", "fd7a:115c:a1e0::4/128"}));
        }
    }
    CHECK(tcp == 4);
    CHECK(udp == 2);
    CHECK(caps == 1);
    bool sharer = false;
    for (const auto& r : c->view(3, "").packet_filter) {
        if (r.contains("CapGrant") && r["CapGrant"][0]["CapMap"].contains("tailscale.com/cap/drive-sharer"))
            sharer = true;
    }
    CHECK(sharer);
}

TEST_CASE("autogroup:danger-all sources are sent as *") {
    auto c = build(R"("acls": [{"action": "accept", "src": ["autogroup:danger-all"], "dst": ["tag:server:80"]}])");
    CHECK(c->view(4, "").packet_filter[0]["SrcIPs"] == json::array({"*"}));
}

TEST_CASE("ssh: accept and check rules, root and nonroot logins, check first") {
    auto c = build(R"("acls": [], "ssh": [
        {"action": "accept", "src": ["autogroup:member"], "dst": ["tag:server"], "users": ["autogroup:nonroot", "deploy"]},
        {"action": "check", "src": ["bob@"], "dst": ["tag:server"], "users": ["root"], "checkPeriod": "1h"}])");
    auto srv = c->view(4, "https://hs.example");
    auto rules = srv.ssh_policy["rules"];
    REQUIRE(rules.size() == 2);
    CHECK(rules[0]["action"]["holdAndDelegate"].get<std::string>().rfind("https://hs.example/machine/ssh/action/", 0) ==
          0);
    CHECK(rules[0]["sshUsers"] == json{{"root", "root"}});
    CHECK(rules[1]["sshUsers"] == json{{"*", "="}, {"deploy", "deploy"}, {"root", ""}});
    CHECK(rules[1]["principals"].size() == 6);
    CHECK(c->view(1, "").ssh_policy["rules"].empty());
}

TEST_CASE("ssh: localpart maps each user's email local part, per user") {
    auto c = build(
        R"("acls": [], "ssh": [{"action": "accept", "src": ["autogroup:member"], "dst": ["tag:server"], "users": ["localpart:*@example.com"]}])");
    auto rules = c->view(4, "").ssh_policy["rules"];
    bool alice = false;
    for (const auto& r : rules) alice = alice || r["sshUsers"].contains("alice");
    CHECK(alice);
    CHECK(rules.size() == 3);  // alice: base + localpart; bob: base only
}

TEST_CASE("no ssh section means no SSH policy") { CHECK(build(R"("acls": [])")->view(4, "").ssh_policy.is_null()); }

TEST_CASE("nodeAttrs add capabilities to their targets") {
    auto c = build(R"("acls": [], "randomizeClientPort": true, "nodeAttrs": [
        {"target": ["tag:server"], "attr": ["magicdns-aaaa", "nextdns:abc"]},
        {"target": ["bob@"], "app": {"example.com/cap/x": [{"a": 1}]}}])");
    auto srv = c->view(4, "").cap_map;
    CHECK(srv.contains("magicdns-aaaa"));
    CHECK(srv.contains("nextdns:abc"));
    CHECK(srv.contains("randomize-client-port"));
    CHECK(c->view(3, "").cap_map["example.com/cap/x"] == json::array({{{"a", 1}}}));
    CHECK_FALSE(c->view(1, "").cap_map.contains("magicdns-aaaa"));
}

TEST_CASE("via steers a subnet route to the routers carrying the tag") {
    auto ns = nodes();
    ns.push_back({7,
                  0,
                  "rtr2",
                  "rtr2",
                  {"tag:router2"},
                  "100.64.0.7",
                  "fd7a:115c:a1e0::7",
                  {"10.1.0.0/16"},
                  {"10.1.0.0/16"},
                  {}});
    auto r = compile(R"({"tagOwners": {"tag:server": [], "tag:router": [], "tag:exit": [], "tag:router2": []},
        "grants": [{"src": ["bob@"], "dst": ["10.1.0.0/16"], "ip": ["*"], "via": ["tag:router2"]},
                   {"src": ["alice@"], "dst": ["10.1.0.0/16"], "ip": ["*"]}]})",
                     users(), ns);
    REQUIRE(r.ok());
    auto b1 = r.compiled->view(3, "");
    REQUIRE(peer(b1, 7));
    CHECK(peer(b1, 7)->allowed_ips.back() == "10.1.0.0/16");
    CHECK_FALSE(peer(b1, 5));
    auto a1 = r.compiled->view(1, "");
    CHECK(peer(a1, 5)->allowed_ips.back() == "10.1.0.0/16");
    CHECK(r.compiled->view(7, "").packet_filter.size() == 2);  // the via rule and alice's plain one
}

TEST_CASE("refusals: syntax error position, ambiguous user, undefined names, misplaced autogroups") {
    auto syntax = check("{\n  \"acls\": [\n    {\"action\": \"accept\",,}\n  ]\n}");
    REQUIRE(syntax.size() == 1);
    CHECK(syntax[0].line == 3);
    CHECK(syntax[0].column == 25);
    auto misplaced =
        check(R"({"acls": [{"action": "accept", "src": ["autogroup:self"], "dst": ["autogroup:danger-all:*"]}]})");
    CHECK(misplaced.size() == 2);
    auto us = users();
    us.push_back({3, "alice", "", "", ""});
    auto amb = compile(R"({"acls": [{"action": "accept", "src": ["alice@"], "dst": ["*:*"]}]})", us, nodes());
    REQUIRE_FALSE(amb.ok());
    CHECK(amb.problems[0].message.find("more than one user") != std::string::npos);
}

TEST_CASE("sshTests: a failing expectation refuses the policy unless tests are not enforced") {
    const char* pol = R"({"tagOwners": {"tag:server": []}, "acls": [],
        "ssh": [{"action": "accept", "src": ["alice@"], "dst": ["tag:server"], "users": ["root"]}],
        "sshTests": [{"src": "alice@", "dst": ["tag:server"], "accept": ["root"], "deny": ["ubuntu"]},
                     {"src": "bob@", "dst": ["tag:server"], "accept": ["root"]}]})";
    auto r = compile(pol, users(), nodes());
    REQUIRE_FALSE(r.ok());
    CHECK(r.problems.size() == 1);
    auto lenient = compile(pol, users(), nodes(), false);
    REQUIRE(lenient.ok());
    CHECK(lenient.compiled->test_failures().size() == 1);
}

TEST_CASE("a policy over 1 MiB is refused before it is parsed") {
    std::string big = R"({"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]})";
    CHECK(check(big).empty());
    big.resize(kMaxPolicyBytes + 1, ' ');
    const auto problems = check(big);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].message.find("at most 1048576") != std::string::npos);
    CHECK(!compile(big, users(), nodes()).ok());
}
