#include "tools/hs-control/routes.h"

#include <algorithm>

#include "common/base/netaddr.h"

namespace hs::control {

namespace {

constexpr const char* kExit4 = "0.0.0.0/0";
constexpr const char* kExit6 = "::/0";

std::vector<std::string> canonical(const std::vector<std::string>& in) {
    std::vector<std::string> out;
    for (const auto& t : in)
        if (const auto p = parse_prefix(t)) out.push_back(p->str());
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<std::string> advertised(const Node& n) {
    std::vector<std::string> out;
    const auto it = n.host_info.find("RoutableIPs");
    if (it == n.host_info.end() || !it->is_array()) return out;
    for (const auto& r : *it)
        if (r.is_string()) out.push_back(r.get<std::string>());
    return canonical(out);
}

}  // namespace

bool is_exit_route(const std::string& prefix) { return prefix == kExit4 || prefix == kExit6; }

std::vector<std::string> served_routes(const Node& n) {
    const auto adv = advertised(n);
    if (adv.empty()) return {};
    const auto approved = canonical(n.approved_routes);
    const bool exit_approved = std::any_of(approved.begin(), approved.end(), is_exit_route);
    std::vector<std::string> out;
    for (const auto& r : adv)
        if (is_exit_route(r) ? exit_approved : std::binary_search(approved.begin(), approved.end(), r))
            out.push_back(r);
    return out;
}

std::map<std::string, std::int64_t> elect_primaries(const std::vector<Router>& routers,
                                                    const std::map<std::string, std::int64_t>& previous) {
    std::map<std::string, std::int64_t> out;
    for (const auto& r : routers) {
        if (!r.online || !r.served) continue;
        for (const auto& p : *r.served) {
            if (is_exit_route(p)) continue;
            const auto prev = previous.find(p);
            const std::int64_t keep = prev != previous.end() ? prev->second : 0;
            auto [it, fresh] = out.emplace(p, r.id);
            if (fresh || it->second == keep) continue;
            if (r.id == keep || r.id < it->second) it->second = r.id;
        }
    }
    return out;
}

RouteView route_view(std::int64_t id, const std::vector<std::string>& served,
                     const std::map<std::string, std::int64_t>& primaries) {
    RouteView v;
    for (const auto& p : served) {
        if (is_exit_route(p)) {
            v.allowed.push_back(p);
            continue;
        }
        const auto it = primaries.find(p);
        if (it != primaries.end() && it->second == id) {
            v.allowed.push_back(p);
            v.primary.push_back(p);
        }
    }
    return v;
}

}  // namespace hs::control
