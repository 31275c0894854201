// Per-node answers (§4.10 step 4, §4.11): the reduced packet filter, the visible peers and
// the routes each peer may carry for this node.
#include <algorithm>

#include "common/policy/aliases.h"
#include "common/policy/compiled.h"

namespace hs::policy {

// ssh.cpp, view_extras.cpp
nlohmann::json ssh_policy_for(const CompiledImpl& c, std::size_t node, const std::string& server_url);
nlohmann::json cap_map_for(const CompiledImpl& c, std::size_t node);

namespace {

using nlohmann::json;

// The destinations of a rule as this node sees them: its own addresses for node aliases,
// literal prefixes that concern it, "*", and the Internet when it is an exit node. Packet
// rules write single addresses bare; capability grants (`cap`) always as prefixes, and a
// grant to "*" names the node itself.
std::vector<std::string> reduced_dsts(const CompiledImpl& c, const CompiledRule& r, const NodeInfo& n, bool cap) {
    std::vector<std::string> out;
    if (r.dst.star && !cap) out.push_back("*");
    for (u128 a : n.addrs) {
        if (r.self || r.dst.nodes.contains(a) || (cap && r.dst.star))
            out.push_back(cap ? host_cidr(a).str() : addr_str(a));
    }
    bool exit = !n.exit_routes.empty();
    for (const Cidr& l : r.dst.literal) {
        IpSet one;
        one.add(l);
        one.normalize();
        if (!one.overlaps(n.ident) && !(exit && c.internet.covers(l.range()))) continue;
        bool single = l.bits == (l.is_v6() ? 128 : 32);
        out.push_back(single && !cap ? addr_str(l.addr.v) : l.str());
    }
    if (r.dst.internet && exit) {
        auto ranges = c.internet.strings();  // "first-last" ranges, as Tailscale sends them
        out.insert(out.end(), ranges.begin(), ranges.end());
    }
    return out;
}

void emit_rule(const CompiledImpl& c, const CompiledRule& r, const NodeInfo& n, json& filter) {
    std::vector<std::string> src = r.src_text;
    if (r.self) {
        // autogroup:self: only the sources that are this node owner's own devices.
        IpSet mine;
        for (int i : c.user_nodes[static_cast<std::size_t>(n.user)]) mine.add(c.nodes[static_cast<std::size_t>(i)].ips);
        mine.normalize();
        IpSet s = r.src.intersect(mine);
        if (s.empty()) return;
        src = s.strings();
    }
    std::vector<std::string> dsts = reduced_dsts(c, r, n, false);
    if (dsts.empty()) return;
    for (const IpSpec& spec : r.src.empty() ? std::vector<IpSpec>{} : r.spec->ip) {
        json rule{{"SrcIPs", src}, {"DstPorts", json::array()}};
        for (const std::string& d : dsts) {
            for (const PortRange& p : spec.ports)
                rule["DstPorts"].push_back({{"IP", d}, {"Ports", {{"First", p.first}, {"Last", p.last}}}});
        }
        if (spec.proto != 0) rule["IPProto"] = json::array({spec.proto});
        filter.push_back(std::move(rule));
    }
    // Tailscale sends no capability grants for via rules.
    if (!r.spec->app.empty() && r.spec->via.empty()) {
        json caps = json::object();
        for (const auto& [name, values] : r.spec->app) caps[name] = values;
        json grant{{"Dsts", reduced_dsts(c, r, n, true)}, {"CapMap", caps}};
        filter.push_back({{"SrcIPs", src}, {"CapGrant", json::array({grant})}});
    }
}

bool dst_overlaps(const CompiledImpl& c, const CompiledRule& r, const Cidr& route) {
    if (r.dst.star) return true;
    if (is_exit_route(route)) {
        // An exit node carries traffic to the internet: a rule reaching the exit node's own
        // address (inside 0.0.0.0/0 like every address) does not make it the viewer's exit.
        return r.dst.internet || r.dst.literal_set.overlaps(c.internet);
    }
    IpSet one;
    one.add(route);
    one.normalize();
    return r.dst.nodes.overlaps(one) || r.dst.literal_set.overlaps(one);
}

// May `viewer` use `route` served by a peer: traffic from the viewer into it, or from it back.
bool can_use_route(const CompiledImpl& c, std::size_t viewer, const Cidr& route) {
    // An HA secondary always knows the primary's route for a prefix it serves too.
    for (const std::string& mine : c.nodes[viewer].rec.approved_routes) {
        if (!is_exit_route(route) && parse_cidr(mine, true) == route) return true;
    }
    for (int ri : c.rules_by_src[viewer]) {
        const CompiledRule& r = c.rules[static_cast<std::size_t>(ri)];
        if (!r.self && r.spec->via.empty() && dst_overlaps(c, r, route)) return true;
    }
    if (is_exit_route(route)) return false;
    for (int ri : c.rules_by_dst[viewer]) {
        const CompiledRule& r = c.rules[static_cast<std::size_t>(ri)];
        // A self rule's sources are only the owner's devices, never a route.
        if (!r.self && r.src.overlaps(route.range())) return true;
    }
    return false;
}

// The via tags that steer `viewer`'s traffic for `route` (empty: no via grant applies).
std::vector<std::string> via_tags(const CompiledImpl& c, std::size_t viewer, const Cidr& route) {
    std::vector<std::string> tags;
    for (int ri : c.rules_by_src[viewer]) {
        const CompiledRule& r = c.rules[static_cast<std::size_t>(ri)];
        if (!r.spec->via.empty() && dst_overlaps(c, r, route))
            tags.insert(tags.end(), r.spec->via.begin(), r.spec->via.end());
    }
    return tags;
}

bool carries_any(const NodeInfo& n, const std::vector<std::string>& tags) {
    for (const std::string& t : tags) {
        if (std::find(n.rec.tags.begin(), n.rec.tags.end(), t) != n.rec.tags.end()) return true;
    }
    return false;
}

bool is_primary(const NodeInfo& n, const Cidr& route) {
    return std::any_of(n.rec.primary_routes.begin(), n.rec.primary_routes.end(),
                       [&](const std::string& p) { return parse_cidr(p, true) == route; });
}

// Among the routers a via grant names for a subnet route, one serves it (HA still applies):
// the elected primary when it carries the tag, else the lowest node ID.
const NodeInfo* via_choice(const CompiledImpl& c, const std::vector<std::string>& tags, const Cidr& route) {
    const NodeInfo* best = nullptr;
    for (const NodeInfo& n : c.nodes) {
        if (!carries_any(n, tags) || !n.routes.covers(route.range())) continue;
        bool better = !best || (is_primary(n, route) && !is_primary(*best, route)) ||
                      (is_primary(n, route) == is_primary(*best, route) && n.rec.id < best->rec.id);
        if (better) best = &n;
    }
    return best;
}

// A route reaches the viewer through this peer when the policy lets the viewer use it and the
// peer is its primary (exit routes: any approved exit node), or, with only via grants for it,
// when the peer is the router those grants choose.
std::vector<std::string> allowed_ips(const CompiledImpl& c, std::size_t viewer, const NodeInfo& peer) {
    std::vector<std::string> out;
    for (const Cidr& own : peer.own) {
        if (!(own.addr.v6 == false && c.nodes[viewer].v4_disabled)) out.push_back(own.str());
    }
    std::vector<Cidr> routes = peer.exit_routes;
    for (const std::string& text : peer.rec.approved_routes) {
        auto route = parse_cidr(text, true);
        if (route && !is_exit_route(*route)) routes.push_back(*route);
    }
    for (const Cidr& route : routes) {
        auto tags = via_tags(c, viewer, route);
        bool ok = false;
        // A plain grant for the route wins over via steering: the primary serves it.
        if (can_use_route(c, viewer, route)) {
            ok = is_exit_route(route) || is_primary(peer, route);
        } else if (!tags.empty()) {
            ok = is_exit_route(route) ? carries_any(peer, tags) : via_choice(c, tags, route) == &peer;
        }
        if (ok) out.push_back(route.str());
    }
    return out;
}

std::vector<PeerView> peers_of(const CompiledImpl& c, std::size_t v) {
    Bits seen(c.nodes.size());
    const NodeInfo& me = c.nodes[v];
    for (int ri : c.rules_by_src[v]) {
        const CompiledRule& r = c.rules[static_cast<std::size_t>(ri)];
        if (!r.self) seen.merge(r.dst_nodes);
    }
    for (int ri : c.rules_by_dst[v]) {
        const CompiledRule& r = c.rules[static_cast<std::size_t>(ri)];
        if (!r.self) seen.merge(r.src_nodes);
    }
    if (me.user >= 0) {
        for (int ri : c.rules_by_dst[v]) {
            const CompiledRule& r = c.rules[static_cast<std::size_t>(ri)];
            if (!r.self) continue;
            // Same-user devices see each other when either may reach the other.
            for (int i : c.user_nodes[static_cast<std::size_t>(me.user)]) {
                if (r.src.overlaps(me.ips) || r.src.overlaps(c.nodes[static_cast<std::size_t>(i)].ips))
                    seen.set(static_cast<std::size_t>(i));
            }
        }
    }
    std::vector<PeerView> out;
    seen.each([&](std::size_t i) {
        if (i == v) return;
        PeerView p{c.nodes[i].rec.id, allowed_ips(c, v, c.nodes[i]), json::object()};
        if (std::find(p.allowed_ips.begin(), p.allowed_ips.end(), "0.0.0.0/0") != p.allowed_ips.end())
            p.cap_map["suggest-exit-node"] = nullptr;
        out.push_back(std::move(p));
    });
    std::sort(out.begin(), out.end(), [](const PeerView& a, const PeerView& b) { return a.node_id < b.node_id; });
    return out;
}

}  // namespace

NodeView Compiled::view(std::uint64_t node_id, const std::string& server_url) const {
    const CompiledImpl& c = *impl_;
    NodeView out;
    auto it = c.by_id.find(node_id);
    if (it == c.by_id.end()) return out;
    std::size_t v = it->second;
    for (int ri : c.rules_by_dst[v]) emit_rule(c, c.rules[static_cast<std::size_t>(ri)], c.nodes[v], out.packet_filter);
    out.peers = peers_of(c, v);
    out.ssh_policy = ssh_policy_for(c, v, server_url);
    out.cap_map = cap_map_for(c, v);
    return out;
}

bool Compiled::randomize_client_port() const { return impl_->policy.randomize_client_port; }
std::vector<Problem> Compiled::test_failures() const { return impl_->test_failures; }

}  // namespace hs::policy
