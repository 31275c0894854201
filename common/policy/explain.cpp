// explain() and run_tests(): the administrator's questions, answered from the compiled rules
// with the same matching the policy's own tests use (tests.cpp), so an explanation cannot
// disagree with a test.
#include "common/policy/explain.h"

#include <algorithm>
#include <map>

#include "common/policy/aliases.h"
#include "common/policy/compiled.h"
#include "common/policy/parse_util.h"

namespace hs::policy {

bool rule_allows(const CompiledImpl& c, const CompiledRule& r, u128 src, u128 dst, int port, int proto);    // tests.cpp
std::vector<Problem> run_policy_test(const CompiledImpl& c, const Resolver& res, const PolicyTestSpec& t);  // tests.cpp
std::vector<Problem> run_ssh_test(const CompiledImpl& c, const Resolver& res, const SshTestSpec& t);  // ssh_tests.cpp
void parse_tests(const JValue& v, ParsedPolicy& out, Reporter& r);                                    // parse_ssh.cpp
void check_refs(const ParsedPolicy& p, Reporter& r);                                                  // check_refs.cpp

namespace {

// An explanation over "*" to "*" on a large tailnet would list millions of pairs; the first
// ones already answer the question.
constexpr std::size_t kMaxPairs = 1024;

// Section and index of every parsed rule, keyed by the position of its entry: an ACL entry
// becomes one Rule per destination, and implied (companion) rules share their grant's position.
std::map<std::pair<int, int>, Location> rule_locations(const ParsedPolicy& p) {
    std::map<std::pair<int, int>, Location> out;
    int acls = -1, grants = -1;
    for (const Rule& r : p.rules) {
        auto key = std::make_pair(r.pos.line, r.pos.column);
        if (r.pos.line == 0 || out.count(key)) continue;
        int index = r.from_acl ? ++acls : ++grants;
        out[key] = {r.from_acl ? "acls" : "grants", index, r.pos.line, r.pos.column};
    }
    return out;
}

Location locate(const std::map<std::pair<int, int>, Location>& where, const Rule& r) {
    auto it = where.find({r.pos.line, r.pos.column});
    // Only the implicit allow-all rule has no position (no acls and no grants at all).
    if (it == where.end()) return {"default", -1, 0, 0};
    return it->second;
}

struct Side {
    std::vector<u128> addrs;
    std::vector<int> nodes;
};

void add_nodes(const CompiledImpl& c, const std::vector<int>& nodes, Side& out) {
    for (int i : nodes) {
        out.nodes.push_back(i);
        const auto& a = c.nodes[static_cast<std::size_t>(i)].addrs;
        out.addrs.insert(out.addrs.end(), a.begin(), a.end());
    }
}

// A node name first (names are what admins type), then an address, then a policy alias.
bool resolve(const CompiledImpl& c, std::string_view text, Side& out) {
    for (auto field : {&Node::given_name, &Node::hostname}) {
        for (std::size_t i = 0; i < c.nodes.size(); ++i) {
            if (c.nodes[i].rec.*field == text) add_nodes(c, {static_cast<int>(i)}, out);
        }
        if (!out.nodes.empty()) return true;
    }
    auto alias = parse_alias(text, {});
    if (!alias) return false;
    if (alias->kind == Alias::Kind::host && !c.policy.hosts.count(alias->name)) return false;
    if (alias->kind == Alias::Kind::prefix || alias->kind == Alias::Kind::host) {
        // One address stands for itself, inside or outside the tailnet; a prefix by its first.
        const Cidr& cidr = alias->kind == Alias::Kind::prefix ? alias->cidr : c.policy.hosts.at(alias->name);
        out.addrs.push_back(cidr.addr.v);
        for (int i : c.resolver->nodes_of(*alias)) out.nodes.push_back(i);
        return true;
    }
    add_nodes(c, c.resolver->nodes_of(*alias), out);
    return !out.addrs.empty();
}

std::vector<std::string> names(const CompiledImpl& c, const std::vector<int>& nodes) {
    std::vector<std::string> out;
    for (int i : nodes) out.push_back(c.nodes[static_cast<std::size_t>(i)].rec.given_name);
    return out;
}

PairVerdict judge(const CompiledImpl& c, const std::map<std::pair<int, int>, Location>& where, u128 s, u128 d,
                  std::optional<int> port, int proto) {
    PairVerdict v{addr_str(s), addr_str(d), false, std::nullopt, {}};
    for (const CompiledRule& r : c.rules) {
        if (rule_allows(c, r, s, d, port.value_or(-1), proto)) {
            v.allowed = true;
            v.rule = locate(where, *r.spec);
            return v;
        }
    }
    // Denied: name the rules that connect these ends on another port or protocol, the usual
    // reason for surprise.
    for (const CompiledRule& r : c.rules) {
        if (!rule_allows(c, r, s, d, -1, -1)) continue;
        Location l = locate(where, *r.spec);
        auto same = [&](const Location& o) { return o.line == l.line && o.column == l.column; };
        if (std::none_of(v.other_ports.begin(), v.other_ports.end(), same)) v.other_ports.push_back(l);
    }
    return v;
}

}  // namespace

bool Explanation::allowed() const {
    return !pairs.empty() && std::all_of(pairs.begin(), pairs.end(), [](const PairVerdict& p) { return p.allowed; });
}

Explanation explain(const Compiled& compiled, std::string_view src, std::string_view dst, std::optional<int> port,
                    int proto) {
    const CompiledImpl& c = compiled.impl();
    Explanation out;
    Side s, d;
    if (!resolve(c, src, s))
        out.problems.push_back(
            {0, 0,
             "source \"" + std::string(src) + "\" names no node, address, user, group, tag or host with an address"});
    if (!resolve(c, dst, d))
        out.problems.push_back({0, 0,
                                "destination \"" + std::string(dst) +
                                    "\" names no node, address, user, group, tag or host with an address"});
    if (!out.problems.empty()) return out;
    out.src_nodes = names(c, s.nodes);
    out.dst_nodes = names(c, d.nodes);
    const auto where = rule_locations(c.policy);
    for (u128 a : s.addrs) {
        for (u128 b : d.addrs) {
            // Traffic never crosses address families, and a node reaching itself is not filtered.
            if (is_v4(a) != is_v4(b) || a == b) continue;
            if (out.pairs.size() == kMaxPairs) {
                out.truncated = true;
                return out;
            }
            out.pairs.push_back(judge(c, where, a, b, port, proto));
        }
    }
    return out;
}

std::vector<std::string> defined_tags(std::string_view policy_text, std::vector<Problem>& problems) {
    ParsedPolicy p;
    parse_policy_text(policy_text, p, problems);
    std::vector<std::string> out;
    if (!problems.empty()) return out;
    for (const auto& entry : p.tag_owners) out.push_back(entry.first);
    return out;  // std::map keys: already sorted
}

namespace {

// An extra test: parsed and checked like an entry of `tests`, against the policy's own groups,
// hosts and tags, so it cannot name what the policy does not define.
TestOutcome run_extra(const CompiledImpl& c, const std::string& text, int index) {
    TestOutcome out{{"extra", index, 0, 0}, "", {}};
    JValue v;
    JsonSyntaxError err;
    if (!parse_hujson_tree(text, v, err)) {
        out.failures.push_back({err.pos.line, err.pos.column, err.message});
        return out;
    }
    if (!v.is_object()) {
        out.failures.push_back(
            {v.pos.line, v.pos.column, "a test is an object {\"src\": ..., \"accept\": [...], \"deny\": [...]}"});
        return out;
    }
    ParsedPolicy p;
    p.groups = c.policy.groups;
    p.hosts = c.policy.hosts;
    p.tag_owners = c.policy.tag_owners;
    Reporter r{out.failures};
    parse_tests(v, p, r);
    if (!p.tests.empty()) out.src = p.tests.front().src_text;
    if (out.failures.empty()) check_refs(p, r);
    if (!out.failures.empty() || p.tests.empty()) return out;
    out.failures = run_policy_test(c, *c.resolver, p.tests.front());
    return out;
}

}  // namespace

std::vector<TestOutcome> run_tests(const Compiled& compiled, const std::vector<std::string>& extra_tests) {
    const CompiledImpl& c = compiled.impl();
    std::vector<TestOutcome> out;
    for (std::size_t i = 0; i < c.policy.tests.size(); ++i) {
        const PolicyTestSpec& t = c.policy.tests[i];
        out.push_back(
            {{"tests", static_cast<int>(i), t.pos.line, t.pos.column}, t.src_text, run_policy_test(c, *c.resolver, t)});
    }
    for (std::size_t i = 0; i < c.policy.ssh_tests.size(); ++i) {
        const SshTestSpec& t = c.policy.ssh_tests[i];
        out.push_back(
            {{"sshTests", static_cast<int>(i), t.pos.line, t.pos.column}, t.src.name, run_ssh_test(c, *c.resolver, t)});
    }
    for (std::size_t i = 0; i < extra_tests.size(); ++i)
        out.push_back(run_extra(c, extra_tests[i], static_cast<int>(i)));
    return out;
}

}  // namespace hs::policy
