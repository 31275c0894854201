// nodeAttrs (CapMap) and autoApprovers (§4.7, §4.9).
#include <algorithm>

#include "common/policy/aliases.h"
#include "common/policy/compiled.h"

namespace hs::policy {

void compile_ssh(CompiledImpl& c, const Resolver& res);  // ssh.cpp

void compile_attr_targets(CompiledImpl& c, const Resolver& res) {
    c.attr_targets.clear();
    for (const NodeAttrSpec& spec : c.policy.node_attrs) {
        Bits b(c.nodes.size());
        for (const Alias& a : spec.target) {
            for (int i : res.nodes_of(a)) b.set(static_cast<std::size_t>(i));
        }
        c.attr_targets.push_back(std::move(b));
    }
}

std::vector<std::size_t> disable_ipv4_nodes(const CompiledImpl& c) {
    std::vector<std::size_t> out;
    for (std::size_t k = 0; k < c.policy.node_attrs.size(); ++k) {
        const auto& attrs = c.policy.node_attrs[k].attr;
        if (std::find(attrs.begin(), attrs.end(), "disable-ipv4") == attrs.end()) continue;
        c.attr_targets[k].each([&](std::size_t i) { out.push_back(i); });
    }
    return out;
}

void compile_extras(CompiledImpl& c, const Resolver& res) { compile_ssh(c, res); }

nlohmann::json cap_map_for(const CompiledImpl& c, std::size_t node) {
    nlohmann::json caps = nlohmann::json::object();
    if (c.policy.randomize_client_port) caps["randomize-client-port"] = nullptr;
    for (std::size_t k = 0; k < c.policy.node_attrs.size(); ++k) {
        if (!c.attr_targets[k].test(node)) continue;
        const NodeAttrSpec& spec = c.policy.node_attrs[k];
        for (const std::string& a : spec.attr) {
            if (!caps.contains(a)) caps[a] = nullptr;
        }
        for (const auto& [name, values] : spec.app) {
            if (!caps.contains(name) || caps[name].is_null()) caps[name] = nlohmann::json::array();
            for (const auto& x : values) caps[name].push_back(x);
        }
    }
    return caps;
}

namespace {

bool approver_matches(const CompiledImpl& c, const std::vector<Alias>& approvers, std::size_t node) {
    for (const Alias& a : approvers) {
        for (int i : c.resolver->nodes_of(a)) {
            if (static_cast<std::size_t>(i) == node) return true;
        }
    }
    return false;
}

// Whether tagOwners entry `a` names user `u` (a tag owning a tag never names a user).
bool owner_names_user(const CompiledImpl& c, const Alias& a, int u) {
    switch (a.kind) {
        case Alias::Kind::user: {
            if (a.name.rfind("user:*@", 0) == 0) {
                const std::string& email = c.users[static_cast<std::size_t>(u)].email;
                const std::string domain = "@" + a.name.substr(7);
                return email.size() > domain.size() &&
                       email.compare(email.size() - domain.size(), domain.size(), domain) == 0;
            }
            return c.resolver->user_index(a) == u;
        }
        case Alias::Kind::group: {
            if (is_provider_group(a.name)) return in_provider_group(c.users[static_cast<std::size_t>(u)], a.name);
            const auto it = c.policy.groups.find(a.name);
            if (it == c.policy.groups.end()) return false;
            return std::any_of(it->second.begin(), it->second.end(), [&](const Alias& m) {
                return m.kind != Alias::Kind::group && owner_names_user(c, m, u);
            });
        }
        case Alias::Kind::autogroup: return a.name == "member";
        default: return false;
    }
}

}  // namespace

std::vector<std::string> Compiled::unowned_tags(std::uint64_t user_id, const std::vector<std::string>& tags) const {
    const CompiledImpl& c = *impl_;
    int u = -1;
    for (std::size_t i = 0; i < c.users.size(); ++i)
        if (c.users[i].id == user_id) u = static_cast<int>(i);
    std::vector<std::string> out;
    for (const std::string& tag : tags) {
        const auto it = c.policy.tag_owners.find(tag);
        const bool owned = u >= 0 && it != c.policy.tag_owners.end() &&
                           std::any_of(it->second.begin(), it->second.end(),
                                       [&](const Alias& a) { return owner_names_user(c, a, u); });
        if (!owned) out.push_back(tag);
    }
    return out;
}

std::vector<std::string> Compiled::auto_approved_routes(std::uint64_t node_id) const {
    const CompiledImpl& c = *impl_;
    std::vector<std::string> out;
    auto it = c.by_id.find(node_id);
    if (it == c.by_id.end()) return out;
    std::size_t node = it->second;
    for (const std::string& text : c.nodes[node].rec.announced_routes) {
        auto route = parse_cidr(text, true);
        if (!route) continue;
        bool ok = false;
        if (is_exit_route(*route)) {
            ok = approver_matches(c, c.policy.auto_exit, node);
        } else {
            // An entry approves the exact prefix and everything inside it; /0 entries cover
            // every subnet route but never the exit routes.
            for (const auto& [cidr, approvers] : c.policy.auto_routes) {
                if (cidr.is_v6() == route->is_v6() && cidr.bits <= route->bits &&
                    (route->addr.v & ~(cidr.range().hi ^ cidr.range().lo)) == cidr.addr.v &&
                    approver_matches(c, approvers, node)) {
                    ok = true;
                    break;
                }
            }
        }
        if (ok) out.push_back(text);
    }
    return out;
}

}  // namespace hs::policy
