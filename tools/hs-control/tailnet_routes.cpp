// Primary-route election inside the Tailnet: which router peers use for each subnet prefix.
#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

#include "tools/hs-control/tailnet.h"

namespace hs::control {

bool Tailnet::track_routes(Live& l) {
    auto served = served_routes(l.rec);
    const bool was_router = routers_.count(l.rec.id) > 0;
    if (served == l.served && (served.empty() || l.rec.online == l.routed_online)) return false;
    l.served = std::move(served);
    if (l.served.empty()) routers_.erase(l.rec.id);
    else routers_.insert(l.rec.id);
    // A node that neither serves nor served anything cannot move a primary.
    return was_router || !l.served.empty();
}

void Tailnet::reroute(TimePoint now, std::int64_t watch) {
    std::vector<Router> routers;
    routers.reserve(routers_.size());
    for (const auto id : routers_) {
        auto& l = nodes_.at(id);
        l.routed_online = l.rec.online;
        routers.push_back({id, l.rec.online, &l.served});
    }
    // One instance elects (store::Duty::RouteElection); the others follow what it recorded.
    auto primaries = route_duty_ ? elect_primaries(routers, primaries_) : recorded_primaries();
    // The nodes whose view can change: every router, and any former primary (it may have
    // stopped serving, which already removed it from routers_).
    std::set<std::int64_t> affected(routers_.begin(), routers_.end());
    for (const auto& [prefix, id] : primaries_) affected.insert(id);
    // And the node whose change started this: one that stopped serving only exit routes
    // (never primaries) is neither a router nor a former primary.
    if (watch) affected.insert(watch);
    if (route_duty_) {
        for (const auto& [prefix, id] : primaries)
            if (const auto old = primaries_.find(prefix); old == primaries_.end() || old->second != id)
                spdlog::info("route {}: primary is now node {}", prefix, id);
        for (const auto& [prefix, id] : primaries_)
            if (!primaries.count(prefix)) spdlog::info("route {}: no online router left", prefix);
    }
    primaries_ = std::move(primaries);
    for (const auto id : affected) {
        const auto it = nodes_.find(id);
        if (it == nodes_.end()) continue;
        auto& l = it->second;
        auto view = route_view(id, l.served, primaries_);
        if (view == l.routes) continue;
        auto next = l.rec;
        const bool moved = view.primary != l.routes.primary;
        if (moved) next.primary_routes = view.primary;
        l.routes = std::move(view);
        // No second election from in here: track_routes already agrees with this one.
        change(l, std::move(next), now, {.write = moved && route_duty_ ? Write::PrimaryRoutes : Write::None});
    }
}

void Tailnet::forget_router(std::int64_t id, TimePoint now) {
    if (routers_.erase(id) ||
        std::any_of(primaries_.begin(), primaries_.end(), [id](const auto& kv) { return kv.second == id; }))
        reroute(now);
}

std::map<std::string, std::int64_t> Tailnet::recorded_primaries() const {
    std::map<std::string, std::int64_t> out;
    for (const auto id : routers_)
        for (const auto& prefix : nodes_.at(id).rec.primary_routes) out[prefix] = id;
    return out;
}

}  // namespace hs::control
