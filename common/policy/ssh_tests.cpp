// sshTests: from `src`, logging in as each user on each `dst` must be accepted, denied, or
// need a check, as listed.
#include <algorithm>

#include "common/policy/aliases.h"
#include "common/policy/compiled.h"

namespace hs::policy {

namespace {

enum class Verdict { deny, accept, check };

bool user_allowed(const SshRuleSpec& s, const CompiledImpl& c, int src_user, const std::string& login) {
    for (const std::string& u : s.users) {
        if (u == login) return true;
        if (u == "autogroup:nonroot" && login != "root") return true;
        if (u.rfind("localpart:*@", 0) == 0 && src_user >= 0) {
            const std::string& email = c.users[static_cast<std::size_t>(src_user)].email;
            if (email == login + "@" + u.substr(12)) return true;
        }
    }
    return false;
}

Verdict verdict(const CompiledImpl& c, std::size_t src, std::size_t dst, const std::string& login) {
    const NodeInfo& s = c.nodes[src];
    const NodeInfo& d = c.nodes[dst];
    Verdict v = Verdict::deny;
    for (const SshCompiled& sc : c.ssh) {
        bool in_src = std::binary_search(sc.src_nodes.begin(), sc.src_nodes.end(), static_cast<int>(src));
        bool in_dst = sc.dst_nodes.test(dst) || (sc.self && !d.tagged && !s.tagged && s.user == d.user);
        if (!in_src || !in_dst || !user_allowed(*sc.spec, c, s.user, login)) continue;
        if (sc.spec->check) return Verdict::check;
        v = Verdict::accept;
    }
    return v;
}

}  // namespace

// One sshTest's failures (`policy test` reports each test on its own).
std::vector<Problem> run_ssh_test(const CompiledImpl& c, const Resolver& res, const SshTestSpec& t) {
    std::vector<Problem> out;
    {
        auto srcs = res.nodes_of(t.src);
        for (const Alias& da : t.dst) {
            // Tailscale finds no node for an IPv6 literal here (observed: such tests fail).
            bool v6_literal = da.kind == Alias::Kind::prefix && da.cidr.is_v6();
            auto dsts = v6_literal ? std::vector<int>{} : res.nodes_of(da);
            if (dsts.empty() && !t.accept.empty()) {
                out.push_back(
                    {da.pos.line, da.pos.column, "test(s) failed: ssh dst \"" + da.name + "\" matches no node"});
            }
            for (int d : dsts) {
                for (int s : srcs) {
                    if (s == d) continue;
                    auto expect = [&](const std::vector<std::string>& logins, Verdict want, const char* what) {
                        for (const std::string& login : logins) {
                            if (verdict(c, static_cast<std::size_t>(s), static_cast<std::size_t>(d), login) != want) {
                                out.push_back({t.pos.line, t.pos.column,
                                               "test(s) failed: ssh as \"" + login + "\" from " +
                                                   c.nodes[static_cast<std::size_t>(s)].rec.given_name + " to " +
                                                   c.nodes[static_cast<std::size_t>(d)].rec.given_name + " expected " +
                                                   what});
                            }
                        }
                    };
                    expect(t.accept, Verdict::accept, "accept");
                    expect(t.deny, Verdict::deny, "deny");
                    expect(t.check, Verdict::check, "check");
                }
            }
        }
    }
    return out;
}

std::vector<Problem> run_ssh_tests(const CompiledImpl& c, const Resolver& res) {
    std::vector<Problem> out;
    for (const SshTestSpec& t : c.policy.ssh_tests) {
        auto one = run_ssh_test(c, res, t);
        out.insert(out.end(), one.begin(), one.end());
    }
    return out;
}

}  // namespace hs::policy
