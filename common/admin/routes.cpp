// Subnet routes and exit nodes as an admin sees them. A node advertises prefixes
// (Hostinfo.RoutableIPs, written by hs-control); an admin approves some (nodes.approved_routes);
// hs-control serves the intersection. As in headscale, the two exit routes travel together:
// approving or removing 0.0.0.0/0 or ::/0 does the same to the other.
#include <algorithm>

#include "common/admin/ops.h"
#include "common/base/netaddr.h"

namespace hs::admin {
namespace {

constexpr const char* kExit4 = "0.0.0.0/0";
constexpr const char* kExit6 = "::/0";

bool is_exit(const std::string& r) { return r == kExit4 || r == kExit6; }

// Sorted as addresses (IPv4 first), so listings read in numeric order.
void sort_routes(std::vector<std::string>& routes) {
    auto key = [](const std::string& s) { return parse_prefix(s, true); };
    std::sort(routes.begin(), routes.end(), [&](const std::string& a, const std::string& b) {
        const auto pa = key(a), pb = key(b);
        if (pa && pb && !(pa->addr == pb->addr)) return pa->addr < pb->addr;
        if (pa && pb && pa->bits != pb->bits) return pa->bits < pb->bits;
        if (pa.has_value() != pb.has_value()) return pa.has_value();
        return a < b;
    });
    routes.erase(std::unique(routes.begin(), routes.end()), routes.end());
}

// Checks and canonicalises what an admin typed; one exit route brings the other.
std::vector<std::string> parse_routes(const std::vector<std::string>& given) {
    std::vector<std::string> out;
    for (const auto& r : given) {
        const auto p = parse_prefix(r);
        if (!p) {
            const auto loose = parse_prefix(r, true);
            throw store::StoreError("invalid route \"" + r + "\": " +
                                    (loose ? "host bits are set (did you mean " + loose->str() + "?)"
                                           : std::string("expected a CIDR prefix such as 10.0.0.0/24 or fd00::/64")));
        }
        out.push_back(p->str());
    }
    if (std::any_of(out.begin(), out.end(), is_exit)) {
        out.push_back(kExit4);
        out.push_back(kExit6);
    }
    sort_routes(out);
    return out;
}

Node must_find_node(Env& env, std::int64_t id) {
    auto n = store::find_node(env.db, id);
    if (!n) throw store::NotFound("node " + std::to_string(id) + " not found");
    return *n;
}

// One row per (node, prefix) that is advertised or approved.
void route_rows(const Node& n, json& out) {
    const auto adv = advertised_routes(n);
    auto all = adv;
    all.insert(all.end(), n.approved_routes.begin(), n.approved_routes.end());
    sort_routes(all);
    for (const auto& r : all) {
        const bool a = std::find(adv.begin(), adv.end(), r) != adv.end();
        const bool ok = std::find(n.approved_routes.begin(), n.approved_routes.end(), r) != n.approved_routes.end();
        out.push_back(
            {{"node_id", n.id},
             {"node", n.given_name},
             {"prefix", r},
             {"advertised", a},
             {"approved", ok},
             {"exit_route", is_exit(r)},
             {"serving", a && ok},
             {"primary", std::find(n.primary_routes.begin(), n.primary_routes.end(), r) != n.primary_routes.end()}});
    }
}

// Writes the new approved set (read and written in one transaction so two admins' edits do not
// interleave) and returns the node as it is now.
Node write_approved(Env& env, std::int64_t id, const std::function<std::vector<std::string>(const Node&)>& next) {
    Db::Tx tx(env.db);
    auto n = must_find_node(env, id);
    auto routes = next(n);
    if (routes != n.approved_routes) store::set_node_approved_routes(env.db, id, routes);
    tx.commit();
    return must_find_node(env, id);
}

json nodes_approve_routes(Env& env, const Params& p) {
    const auto id = p.id("id", "node");
    const auto routes = parse_routes(p.list("routes"));
    const auto n = write_approved(env, id, [&](const Node&) { return routes; });
    return node_json(n, user_index(env.db), env.now);
}

json nodes_list_routes(Env& env, const Params& p) {
    const auto only = p.has("id") ? std::optional(p.id("id", "node")) : std::nullopt;
    if (only) must_find_node(env, *only);
    const auto users = user_index(env.db);
    auto items = json::array();
    for (const auto& n : store::list_nodes(env.db)) {
        if (only && n.id != *only) continue;
        if (n.approved_routes.empty() && advertised_routes(n).empty()) continue;
        items.push_back(node_json(n, users, env.now));
    }
    return items;
}

json routes_list(Env& env, const Params& p) {
    auto items = json::array();
    if (p.has("node")) {
        route_rows(must_find_node(env, p.id("node", "node")), items);
        return items;
    }
    for (const auto& n : store::list_nodes(env.db)) route_rows(n, items);
    return items;
}

json routes_change(Env& env, const Params& p, bool approve) {
    const auto id = p.id("node", "node");
    const auto given = parse_routes(p.list("routes"));
    if (given.empty()) throw store::StoreError("no routes given");
    const auto n = write_approved(env, id, [&](const Node& cur) {
        auto routes = cur.approved_routes;
        if (approve) {
            routes.insert(routes.end(), given.begin(), given.end());
        } else {
            std::erase_if(
                routes, [&](const std::string& r) { return std::find(given.begin(), given.end(), r) != given.end(); });
        }
        sort_routes(routes);
        return routes;
    });
    auto items = json::array();
    route_rows(n, items);
    return items;
}

}  // namespace

void add_route_ops(OpTable& t) {
    t.push_back({"nodes.approve_routes", "POST", "/api/v1/node/{id}/approve_routes", nodes_approve_routes});
    t.push_back({"nodes.list_routes", "GET", "/api/v1/node/routes", nodes_list_routes});
    t.push_back({"routes.list", "GET", "/api/v1/routes", routes_list});
    t.push_back({"routes.approve", "POST", "/api/v1/routes/approve",
                 [](Env& env, const Params& p) { return routes_change(env, p, true); }});
    t.push_back({"routes.unapprove", "POST", "/api/v1/routes/unapprove",
                 [](Env& env, const Params& p) { return routes_change(env, p, false); }});
}

}  // namespace hs::admin
