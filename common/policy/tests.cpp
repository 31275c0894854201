// The policy's own `tests` and `sshTests` (§4.2): each names a source and destinations that
// must (accept) or must not (deny) be reachable; a failure refuses the policy.
#include <algorithm>

#include "common/policy/aliases.h"
#include "common/policy/compiled.h"

namespace hs::policy {

namespace {

// Representative addresses of an alias: each matching node's addresses, or the prefix's first.
std::vector<u128> addresses(const CompiledImpl& c, const Resolver& res, const Alias& a) {
    std::vector<u128> out;
    if (a.kind == Alias::Kind::prefix) return {a.cidr.addr.v};
    if (a.kind == Alias::Kind::host) {
        auto h = c.policy.hosts.find(a.name);
        if (h == c.policy.hosts.end()) return {};
        return {h->second.addr.v};
    }
    for (int i : res.nodes_of(a)) {
        const auto& addrs = c.nodes[static_cast<std::size_t>(i)].addrs;
        out.insert(out.end(), addrs.begin(), addrs.end());
    }
    return out;
}

bool proto_matches(int rule_proto, int test_proto) {
    if (test_proto < 0) return true;  // explain's "any protocol"
    if (rule_proto == 0)
        return test_proto == 0 || test_proto == 6 || test_proto == 17 || test_proto == 1 || test_proto == 58;
    return rule_proto == (test_proto == 0 ? 6 : test_proto);
}

}  // namespace

// Whether rule r lets src reach dst on port (-1 = any port) with proto (-1 = any protocol);
// explain.cpp uses it too.
bool rule_allows(const CompiledImpl& c, const CompiledRule& r, u128 src, u128 dst, int port, int proto) {
    bool dst_ok = r.dst.star || r.dst.nodes.contains(dst) || r.dst.literal_set.contains(dst) ||
                  (r.dst.internet && c.internet.contains(dst));
    if (r.self) {
        // Both ends must be devices of one user.
        auto owner = [&](u128 a) {
            for (const NodeInfo& n : c.nodes) {
                if (n.ips.contains(a)) return n.tagged ? -1 : n.user;
            }
            return -1;
        };
        int so = owner(src), d = owner(dst);
        dst_ok = d >= 0 && so == d;
    }
    if (!dst_ok || !r.src.contains(src)) return false;
    for (const IpSpec& spec : r.spec->ip) {
        if (!proto_matches(spec.proto, proto)) continue;
        for (const PortRange& p : spec.ports) {
            if (port < 0 || (port >= p.first && port <= p.last)) return true;
        }
    }
    return false;
}

namespace {

bool allowed(const CompiledImpl& c, u128 src, u128 dst, int port, int proto) {
    return std::any_of(c.rules.begin(), c.rules.end(),
                       [&](const CompiledRule& r) { return rule_allows(c, r, src, dst, port, proto); });
}

bool check_dest(const CompiledImpl& c, const Resolver& res, const std::vector<u128>& srcs, const std::string& hp,
                int proto, bool want, std::string& why) {
    auto colon = hp.rfind(':');
    if (colon == std::string::npos) {
        why = "\"" + hp + "\" is not host:port";
        return false;
    }
    std::string host = hp.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    auto alias = parse_alias(host, {});
    int port = std::atoi(hp.c_str() + colon + 1);
    if (!alias) {
        why = "\"" + hp + "\" is not host:port";
        return false;
    }
    for (u128 s : srcs) {
        for (u128 d : addresses(c, res, *alias)) {
            if (is_v4(s) != is_v4(d)) continue;  // no traffic across families
            if (allowed(c, s, d, port, proto) != want) {
                why = (want ? "expected access to " : "expected no access to ") + hp + " from " + addr_str(s);
                return false;
            }
        }
    }
    return true;
}

}  // namespace

std::vector<Problem> run_ssh_tests(const CompiledImpl& c, const Resolver& res);  // ssh_tests.cpp

// One test's failures; `policy test` runs them one at a time to report each.
std::vector<Problem> run_policy_test(const CompiledImpl& c, const Resolver& res, const PolicyTestSpec& t) {
    std::vector<Problem> out;
    {
        auto srcs = addresses(c, res, t.src);
        if (t.src.kind == Alias::Kind::user && res.user_index(t.src) < 0) {
            out.push_back({t.pos.line, t.pos.column, "test(s) failed: src user \"" + t.src.name + "\" does not exist"});
        }
        for (bool want : {true, false}) {
            for (const auto& [hp, pos] : want ? t.accept : t.deny) {
                std::string why;
                if (!check_dest(c, res, srcs, hp, t.proto, want, why))
                    out.push_back({pos.line, pos.column, "test(s) failed: " + why});
            }
        }
    }
    return out;
}

std::vector<Problem> run_policy_tests(const CompiledImpl& c, const Resolver& res) {
    std::vector<Problem> out;
    for (const PolicyTestSpec& t : c.policy.tests) {
        auto one = run_policy_test(c, res, t);
        out.insert(out.end(), one.begin(), one.end());
    }
    auto ssh = run_ssh_tests(c, res);
    out.insert(out.end(), ssh.begin(), ssh.end());
    return out;
}

}  // namespace hs::policy
