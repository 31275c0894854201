// Subnet routers and exit nodes. A node serves the routes it advertises (Hostinfo.RoutableIPs)
// that an admin approved; each subnet prefix has one primary router among the online ones, and
// peers route the prefix only to it. Exit routes (0.0.0.0/0, ::/0) have no primary: every node
// serving them is offered as an exit node. Pure functions; Tailnet keeps the state.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/store/model.h"

namespace hs::control {

// What peers learn about one node's routes: the prefixes added to its AllowedIPs and the subnet
// prefixes it is the primary router for (tailcfg.Node.PrimaryRoutes; never exit routes).
struct RouteView {
    std::vector<std::string> allowed;
    std::vector<std::string> primary;
    bool operator==(const RouteView&) const = default;
};

bool is_exit_route(const std::string& prefix);

// Advertised and approved, in canonical text ("10.77.0.0/24"), sorted, without duplicates.
// Malformed entries are ignored. An exit route needs only one of 0.0.0.0/0 and ::/0 approved:
// approving the node as an exit node covers both families, as in headscale.
std::vector<std::string> served_routes(const Node& n);

struct Router {
    std::int64_t id = 0;
    bool online = false;
    const std::vector<std::string>* served = nullptr;
};

// prefix -> primary node ID. A primary keeps its prefix while it is online and still serves it
// (no flapping back when an older router returns); otherwise the online router with the lowest
// ID takes over. A prefix with no online router has no primary.
std::map<std::string, std::int64_t> elect_primaries(const std::vector<Router>& routers,
                                                    const std::map<std::string, std::int64_t>& previous);

RouteView route_view(std::int64_t id, const std::vector<std::string>& served,
                     const std::map<std::string, std::int64_t>& primaries);

}  // namespace hs::control
