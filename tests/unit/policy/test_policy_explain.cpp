// explain.h: the first rule deciding, by section/index/line; tests run one by one; tags of
// tagOwners.
#include <catch2/catch.hpp>

#include "common/policy/explain.h"

using namespace hs::policy;

namespace {

std::vector<User> users() { return {{1, "alice", "alice@example.com", "", ""}, {2, "bob", "bob@example.com", "", ""}}; }

std::vector<Node> nodes() {
    Node a{1, 1, "laptop", "alice-laptop", {}, "100.64.0.1", "fd7a:115c:a1e0::1", {}, {}, {}};
    Node b{2, 2, "phone", "phone", {}, "100.64.0.2", "", {}, {}, {}};
    Node w{3, 0, "web", "web", {"tag:web"}, "100.64.0.3", "fd7a:115c:a1e0::3", {}, {}, {}};
    return {a, b, w};
}

// Line 4: acls[0] (two destinations, so two internal rules); line 5: acls[1]; line 8: grants[0].
const char* kPolicy = R"({
  "tagOwners": {"tag:web": ["alice@"]},
  "acls": [
    {"action": "accept", "src": ["alice@"], "dst": ["tag:web:22", "phone:*"]},
    {"action": "accept", "src": ["bob@"], "dst": ["tag:web:443"]},
  ],
  "hosts": {"phone": "100.64.0.2"},
  "grants": [{"src": ["bob@"], "dst": ["tag:web"], "ip": ["80"]}],
  "tests": [
    {"src": "alice@", "accept": ["tag:web:22"]},
    {"src": "bob@", "accept": ["tag:web:22"]},
  ],
})";

std::shared_ptr<const Compiled> compiled() {
    auto r = compile(kPolicy, users(), nodes(), false);
    REQUIRE(r.ok());
    return r.compiled;
}

}  // namespace

TEST_CASE("explain: the first allowing rule, by section, index and line") {
    auto c = compiled();
    auto e = explain(*c, "laptop", "tag:web", 22, 0);
    REQUIRE(e.problems.empty());
    CHECK(e.src_nodes == std::vector<std::string>{"laptop"});
    CHECK(e.dst_nodes == std::vector<std::string>{"web"});
    REQUIRE(e.pairs.size() == 2);  // v4 and v6; never across families
    CHECK(e.allowed());
    CHECK(e.pairs[0].rule->section == "acls");
    CHECK(e.pairs[0].rule->index == 0);
    CHECK(e.pairs[0].rule->line == 4);

    // The second destination of acls[0] is still acls[0]; a grant counts in its own section.
    auto host = explain(*c, "alice@", "phone", 5000, 0);
    CHECK(host.allowed());
    CHECK(host.pairs.at(0).rule->index == 0);
    auto grant = explain(*c, "phone", "100.64.0.3", 80, 0);
    REQUIRE(grant.allowed());
    CHECK(grant.pairs[0].rule->section == "grants");
    CHECK(grant.pairs[0].rule->index == 0);
    CHECK(grant.pairs[0].rule->line == 8);
    CHECK(explain(*c, "bob@", "web", 443, 0).pairs[0].rule->index == 1);
}

TEST_CASE("explain: denied names the rules that open other ports, and protocols count") {
    auto c = compiled();
    auto e = explain(*c, "phone", "web", 22, 0);
    REQUIRE(e.pairs.size() == 1);  // the phone has no IPv6 address
    CHECK_FALSE(e.allowed());
    CHECK_FALSE(e.pairs[0].rule);
    REQUIRE(e.pairs[0].other_ports.size() == 2);
    CHECK(e.pairs[0].other_ports[0].index == 1);
    CHECK(e.pairs[0].other_ports[1].section == "grants");
    // ACL ports without proto are TCP, UDP and ICMP; SCTP (132) is not among them.
    CHECK(explain(*c, "laptop", "web", 22, 17).allowed());
    CHECK_FALSE(explain(*c, "laptop", "web", 22, 132).allowed());
    // Reverse direction: nothing lets web reach the laptop.
    CHECK_FALSE(explain(*c, "web", "laptop", std::nullopt, 0).allowed());
}

TEST_CASE("explain: unknown ends are problems, not denials") {
    auto c = compiled();
    CHECK(explain(*c, "nobody@", "web", 22, 0).problems.size() == 1);
    CHECK(explain(*c, "laptop", "tag:none", 22, 0).problems.size() == 1);
    CHECK(explain(*c, "laptop", "printer", 22, 0).problems.size() == 1);
}

TEST_CASE("explain: a large tailnet stops at 1024 pairs and says so") {
    std::vector<Node> many;
    for (int i = 1; i <= 40; ++i) {
        many.push_back({static_cast<std::uint64_t>(i),
                        1,
                        "n" + std::to_string(i),
                        "n",
                        {},
                        "100.64.1." + std::to_string(i),
                        "",
                        {},
                        {},
                        {}});
    }
    auto r = compile("{}", users(), many);
    REQUIRE(r.ok());
    auto e = explain(*r.compiled, "*", "*", 22, 0);
    CHECK(e.truncated);
    CHECK(e.pairs.size() == 1024);
    CHECK_FALSE(explain(*r.compiled, "n1", "n2", 22, 0).truncated);
}

TEST_CASE("explain: with no acls or grants the implicit allow-all decides") {
    auto r = compile("{}", users(), nodes());
    REQUIRE(r.ok());
    auto e = explain(*r.compiled, "phone", "laptop", 22, 0);
    REQUIRE(e.allowed());
    CHECK(e.pairs[0].rule->section == "default");
}

TEST_CASE("run_tests: one outcome per test, extra tests checked like the policy's") {
    auto c = compiled();
    auto out = run_tests(*c, {R"({"src": "bob@", "accept": ["tag:web:443"], "deny": ["tag:web:22"]})",
                              R"({"src": "alice@", "deny": ["tag:web:22"]})",
                              R"({"src": "group:nope", "accept": ["web:1"]})", "[1]", "{"});
    REQUIRE(out.size() == 7);
    CHECK(out[0].place.section == "tests");
    CHECK(out[0].passed());
    CHECK(out[1].place.index == 1);
    CHECK(out[1].place.line == 11);
    REQUIRE_FALSE(out[1].passed());  // bob may not reach port 22
    CHECK(out[1].failures[0].message.find("tag:web:22") != std::string::npos);
    CHECK(out[2].place.section == "extra");
    CHECK(out[2].passed());
    CHECK_FALSE(out[3].passed());
    CHECK(out[3].src == "alice@");
    CHECK_FALSE(out[4].passed());  // undefined group
    CHECK_FALSE(out[5].passed());  // not an object
    CHECK_FALSE(out[6].passed());  // not JSON
    // compile itself refuses the policy while a test fails.
    CHECK_FALSE(compile(kPolicy, users(), nodes()).ok());
}

TEST_CASE("defined_tags: the keys of tagOwners, or problems") {
    std::vector<Problem> problems;
    CHECK(defined_tags(R"({"tagOwners": {"tag:b": ["a@"], "tag:a": ["a@"]}})", problems) ==
          std::vector<std::string>{"tag:a", "tag:b"});
    CHECK(problems.empty());
    CHECK(defined_tags("{", problems).empty());
    CHECK(problems.size() == 1);
}
