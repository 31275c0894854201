#include <catch2/catch.hpp>

#include <algorithm>

#include "common/policy/engine.h"
#include "common/policy/ipset.h"

using namespace hs::policy;

namespace {

std::vector<User> users() { return {{1, "alice", "alice@example.com", "", ""}, {2, "bob", "bob@example.com", "", ""}}; }

std::vector<Node> nodes() {
    Node a{1, 1, "a", "a", {}, "100.64.0.1", "fd7a:115c:a1e0::1", {}, {}, {}};
    Node b{2, 2, "b", "b", {}, "100.64.0.2", "fd7a:115c:a1e0::2", {}, {}, {}};
    Node s{3,
           0,
           "srv",
           "srv",
           {"tag:server"},
           "100.64.0.3",
           "fd7a:115c:a1e0::3",
           {"10.0.0.0/24"},
           {"10.0.0.0/24"},
           {"10.0.0.0/24"}};
    return {a, b, s};
}

}  // namespace

TEST_CASE("ipset merges, subtracts and prints Tailscale's forms") {
    IpSet s;
    s.add(*parse_cidr("10.0.0.0/24"));
    s.add(*parse_cidr("10.0.1.0/24"));
    s.add(*parse_cidr("100.64.0.5"));
    s.normalize();
    CHECK(s.strings() == std::vector<std::string>{"10.0.0.0/23", "100.64.0.5"});
    CHECK(tailscale_ranges().strings() ==
          std::vector<std::string>{"100.115.94.0-100.127.255.255", "100.64.0.0-100.115.91.255", "fd7a:115c:a1e0::/48"});
    IpSet v6all;
    v6all.add(*parse_cidr("::/0"));
    v6all.normalize();
    CHECK_FALSE(v6all.contains(parse_addr("100.64.0.1")->v));
}

TEST_CASE("empty policy allows all") {
    auto r = compile("  // nothing\n", users(), nodes());
    REQUIRE(r.ok());
    auto v = r.compiled->view(1, "https://hs");
    // As Tailscale sends it: the tailnet's ranges and approved routes may reach everything.
    CHECK(v.packet_filter[0]["SrcIPs"] == nlohmann::json::array({"10.0.0.0/24", "100.115.94.0-100.127.255.255",
                                                                 "100.64.0.0-100.115.91.255", "fd7a:115c:a1e0::/48"}));
    CHECK(v.packet_filter[0]["DstPorts"][0]["IP"] == "*");
    CHECK(v.peers.size() == 2);
}

TEST_CASE("acl to a tag lands on the tagged node only, peers are symmetric") {
    auto r = compile(R"({
        "tagOwners": {"tag:server": ["alice@"]},
        "acls": [{"action": "accept", "src": ["alice@"], "dst": ["tag:server:22,80"]}],
    })",
                     users(), nodes());
    REQUIRE(r.ok());
    auto srv = r.compiled->view(3, "https://hs");
    REQUIRE(srv.packet_filter.size() == 1);
    CHECK(srv.packet_filter[0]["SrcIPs"] == nlohmann::json::array({"100.64.0.1", "fd7a:115c:a1e0::1"}));
    CHECK(srv.packet_filter[0]["DstPorts"].size() == 4);
    CHECK(r.compiled->view(1, "https://hs").packet_filter.empty());
    CHECK(srv.peers.size() == 1);
    CHECK(r.compiled->view(1, "https://hs").peers.size() == 1);
    CHECK(r.compiled->view(2, "https://hs").peers.empty());
}

TEST_CASE("errors name line and column, all of them") {
    auto r = compile(
        "{\n  \"acls\": [{\"action\": \"accept\", \"src\": [\"group:nope\"], \"dst\": [\"tag:x:22\"]}],\n  \"bogus\": "
        "1\n}",
        users(), nodes());
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.problems.size() == 3);
    CHECK(r.problems[0].str().find("line 3, column 3: unknown field \"bogus\"") == 0);
    CHECK(r.problems[1].line == 2);
    std::string text = format_problems(r.problems);
    CHECK(std::count(text.begin(), text.end(), '\n') == 3);
}

TEST_CASE("failing tests refuse the policy") {
    const char* pol = R"({
        "acls": [{"action": "accept", "src": ["alice@"], "dst": ["bob@:22"]}],
        "tests": [{"src": "alice@", "accept": ["bob@:22"], "deny": ["bob@:80"]}],
    })";
    CHECK(compile(pol, users(), nodes()).ok());
    const char* bad = R"({
        "acls": [{"action": "accept", "src": ["alice@"], "dst": ["bob@:22"]}],
        "tests": [{"src": "alice@", "accept": ["bob@:80"]}],
    })";
    auto r = compile(bad, users(), nodes());
    REQUIRE_FALSE(r.ok());
    CHECK(r.problems[0].line == 3);
}

TEST_CASE("autoApprovers approve contained routes, exit only via exitNode") {
    auto ns = nodes();
    ns[2].announced_routes = {"10.1.2.0/24", "192.168.0.0/24", "0.0.0.0/0", "::/0"};
    auto r = compile(R"({"tagOwners": {"tag:server": []}, "acls": [],
        "autoApprovers": {"routes": {"10.0.0.0/8": ["tag:server"], "0.0.0.0/0": ["tag:server"]}}})",
                     users(), ns);
    REQUIRE(r.ok());
    CHECK(r.compiled->auto_approved_routes(3) == std::vector<std::string>{"10.1.2.0/24", "192.168.0.0/24"});
}

TEST_CASE("acl destinations: bracketed IPv6, port lists and ranges, protocol rules") {
    auto r = compile(R"({"hosts": {"v6net": "fd7a:115c:a1e0::/120"},
        "acls": [{"action": "accept", "src": ["alice@"], "dst": ["[fd7a:115c:a1e0::2]:22,80-81", "v6net:443"], "proto": "tcp"}]})",
                     users(), nodes());
    REQUIRE(r.ok());
    auto b = r.compiled->view(2, "");
    REQUIRE(b.packet_filter.size() == 2);
    CHECK(b.packet_filter[0]["DstPorts"].size() == 2);
    CHECK(b.packet_filter[0]["DstPorts"][1]["Ports"] == nlohmann::json{{"First", 80}, {"Last", 81}});
    CHECK(b.packet_filter[0]["IPProto"] == nlohmann::json::array({6}));
    CHECK(b.packet_filter[1]["DstPorts"][0]["IP"] == "fd7a:115c:a1e0::/120");
    auto bad =
        check(R"({"acls": [{"action": "accept", "src": ["*"], "dst": ["*:0", "*:http", "tag:x"], "proto": "icmp"}]})");
    REQUIRE(bad.size() == 3);
    CHECK(bad[0].message.find("first port must be >0") != std::string::npos);
    CHECK(bad[1].message.find("invalid first integer") != std::string::npos);
}

TEST_CASE("the HuJSON reader takes only JSON that can be sent on: numbers, UTF-8") {
    CHECK(
        check(
            R"({"randomizeClientPort": true, "nodeAttrs": [{"target": ["*"], "app": {"example.com/cap/x": [1.5e3, -0, 2]}}]})")
            .empty());
    for (const char* bad : {R"({"nodeAttrs": [{"target": ["*"], "app": {"example.com/cap/x": [01]}}]})",
                            R"({"nodeAttrs": [{"target": ["*"], "app": {"example.com/cap/x": [1e999]}}]})",
                            R"({"nodeAttrs": [{"target": ["*"], "app": {"example.com/cap/x": [+-1.e]}}]})",
                            "{\"hosts\": {\"a\xff\": \"10.0.0.1\"}}"}) {
        CHECK(check(bad).size() == 1);
    }
}

TEST_CASE("group:oidc/<name> is the identity provider's group, not defined in groups") {
    auto us = users();
    us[0].groups = {"eng", "vpn"};
    us[1].groups = {"sales"};
    const char* text = R"({
        "tagOwners": {"tag:server": ["group:oidc/eng"]},
        "acls": [{"action": "accept", "src": ["group:oidc/eng"], "dst": ["tag:server:22"]},
                 {"action": "accept", "src": ["group:oidc/nobody"], "dst": ["*:*"]}],
    })";
    auto r = compile(text, us, nodes());
    REQUIRE(r.ok());
    auto srv = r.compiled->view(3, "https://hs");
    REQUIRE(srv.packet_filter.size() == 1);
    CHECK(srv.packet_filter[0]["SrcIPs"] == nlohmann::json::array({"100.64.0.1", "fd7a:115c:a1e0::1"}));
    CHECK(r.compiled->unowned_tags(1, {"tag:server"}).empty());
    CHECK(r.compiled->unowned_tags(2, {"tag:server"}) == std::vector<std::string>{"tag:server"});
    // Membership follows the provider: bob moves to eng at his next sign-in.
    us[1].groups = {"eng"};
    auto again = compile(text, us, nodes());
    REQUIRE(again.ok());
    CHECK(again.compiled->view(3, "https://hs").packet_filter[0]["SrcIPs"] ==
          nlohmann::json::array({"100.64.0.1-100.64.0.2", "fd7a:115c:a1e0::1-fd7a:115c:a1e0::2"}));
    auto defined = compile(R"({"groups": {"group:oidc/eng": ["alice@"]}})", us, nodes());
    REQUIRE_FALSE(defined.ok());
    CHECK(defined.problems[0].message ==
          "group \"group:oidc/eng\": names starting with \"group:oidc/\" are the identity provider's groups and cannot "
          "be defined here");
}
