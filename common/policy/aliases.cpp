#include "common/policy/aliases.h"

#include <algorithm>

#include "common/policy/parse_util.h"

namespace hs::policy {

Resolver::Resolver(CompiledImpl& c, std::vector<Problem>& problems) : c_(c) {
    for (std::size_t i = 0; i < c.users.size(); ++i) {
        const User& u = c.users[i];
        int idx = static_cast<int>(i);
        std::vector<std::string> keys{u.name + "@"};
        if (!u.email.empty()) keys.push_back(u.email);
        if (!u.provider_id.empty()) keys.push_back(u.provider_id + "@");
        if (u.name.find('@') != std::string::npos) keys.push_back(u.name);
        std::sort(keys.begin(), keys.end());
        keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
        for (const std::string& k : keys) user_keys_[k].push_back(idx);
    }
    for (std::size_t i = 0; i < c.nodes.size(); ++i) {
        const NodeInfo& n = c.nodes[i];
        int idx = static_cast<int>(i);
        all_.push_back(idx);
        (n.tagged ? tagged_ : members_).push_back(idx);
        for (const std::string& t : n.rec.tags) tag_nodes_[t].push_back(idx);
        all_routes_.add(n.routes);
    }
    all_routes_.normalize();
    // A user alias matching several accounts is refused (headscale 0.29, #3160).
    auto check = [&](const Alias& a) {
        if (a.kind != Alias::Kind::user) return;
        auto it = user_keys_.find(a.name);
        if (it != user_keys_.end() && it->second.size() > 1) {
            problems.push_back({a.pos.line, a.pos.column, "user \"" + a.name + "\" matches more than one user"});
        }
    };
    for (const Rule& r : c.policy.rules) {
        for (const Alias& a : r.src) check(a);
        for (const Alias& a : r.dst) check(a);
    }
}

int Resolver::user_index(const Alias& a) const {
    auto it = user_keys_.find(a.name);
    if (it == user_keys_.end() || it->second.empty()) return -1;
    return it->second.front();
}

std::vector<int> Resolver::nodes_of(const Alias& a) const {
    using K = Alias::Kind;
    static const std::vector<int> none;
    switch (a.kind) {
        case K::wildcard: return all_;
        case K::tag: {
            auto it = tag_nodes_.find(a.name);
            return it == tag_nodes_.end() ? none : it->second;
        }
        case K::user: {
            if (a.name.rfind("user:*@", 0) == 0) return domain_nodes(a.name.substr(7));
            int u = user_index(a);
            return u < 0 ? none : c_.user_nodes[static_cast<std::size_t>(u)];
        }
        case K::group: {
            std::vector<int> out;
            if (is_provider_group(a.name)) {
                for (std::size_t u = 0; u < c_.users.size(); ++u)
                    if (in_provider_group(c_.users[u], a.name))
                        out.insert(out.end(), c_.user_nodes[u].begin(), c_.user_nodes[u].end());
                std::sort(out.begin(), out.end());
                return out;
            }
            auto it = c_.policy.groups.find(a.name);
            if (it == c_.policy.groups.end()) return out;
            for (const Alias& m : it->second) {
                auto part = nodes_of(m);
                out.insert(out.end(), part.begin(), part.end());
            }
            std::sort(out.begin(), out.end());
            out.erase(std::unique(out.begin(), out.end()), out.end());
            return out;
        }
        case K::autogroup:
            if (a.name == "member") return members_;
            if (a.name == "tagged") return tagged_;
            if (a.name == "danger-all") return all_;
            return none;
        case K::prefix:
        case K::host: {
            Range r = a.kind == K::prefix ? a.cidr.range() : c_.policy.hosts.at(a.name).range();
            std::vector<int> out;
            for (int i : all_) {
                if (c_.nodes[static_cast<std::size_t>(i)].ips.overlaps(r)) out.push_back(i);
            }
            return out;
        }
    }
    return none;
}

// "user:*@example.com": the untagged nodes of every user whose email is in that domain.
std::vector<int> Resolver::domain_nodes(const std::string& domain) const {
    std::vector<int> out;
    for (std::size_t u = 0; u < c_.users.size(); ++u) {
        const std::string& email = c_.users[u].email;
        auto at = email.rfind('@');
        if (at == std::string::npos || lower(email.substr(at + 1)) != lower(domain)) continue;
        out.insert(out.end(), c_.user_nodes[u].begin(), c_.user_nodes[u].end());
    }
    std::sort(out.begin(), out.end());
    return out;
}

IpSet Resolver::ips_of(const std::vector<int>& nodes) const {
    IpSet s;
    for (int i : nodes) s.add(c_.nodes[static_cast<std::size_t>(i)].ips);
    s.normalize();
    return s;
}

void Resolver::add_src(const Alias& a, IpSet& out, bool& all) const {
    using K = Alias::Kind;
    switch (a.kind) {
        case K::prefix: out.add(a.cidr); break;
        case K::host: out.add(c_.policy.hosts.at(a.name)); break;
        case K::wildcard:
            out.add(tailscale_ranges());
            out.add(all_routes_);
            break;
        case K::autogroup:
            if (a.name == "danger-all") {
                all = true;
                out.add(v4_all());
                out.add(Cidr{{0, true}, 0});
                break;
            }
            [[fallthrough]];
        default: out.add(ips_of(nodes_of(a))); break;
    }
}

void Resolver::add_dst(const Alias& a, DstSet& out) const {
    using K = Alias::Kind;
    switch (a.kind) {
        case K::prefix:
            out.literal.push_back(a.cidr);
            out.literal_set.add(a.cidr);
            break;
        case K::host: {
            const Cidr& c = c_.policy.hosts.at(a.name);
            out.literal.push_back(c);
            out.literal_set.add(c);
            break;
        }
        case K::wildcard: out.star = true; break;
        case K::autogroup:
            if (a.name == "internet") {
                out.internet = true;
                break;
            }
            [[fallthrough]];
        default: out.nodes.add(ips_of(nodes_of(a))); break;
    }
}

}  // namespace hs::policy
