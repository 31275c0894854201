// The ACL policy in the tailnet: hs::policy compiles it against the nodes and users in memory;
// each node's map carries its own PacketFilter, SSHPolicy and CapMap and only the peers the
// policy lets it see. Without a policy nothing here runs and every map is allow-all.
#include <algorithm>
#include <cctype>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "common/admin/audit.h"
#include "common/store/store.h"
#include "tools/hs-control/tailnet.h"

namespace hs::control {

using nlohmann::json;

namespace {

bool blank(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// What node_json puts in AllowedIPs when no policy narrows it: own addresses, then served routes.
std::vector<std::string> default_allowed(const Node& n, const RouteView& routes) {
    std::vector<std::string> out;
    if (n.ipv4) out.push_back(*n.ipv4 + "/32");
    if (n.ipv6) out.push_back(*n.ipv6 + "/128");
    out.insert(out.end(), routes.allowed.begin(), routes.allowed.end());
    return out;
}

// tailcfg.SSHPolicy for a delta: an empty rule list takes back whatever was allowed before
// (a null would leave the client's last policy in force).
json ssh_or_empty(const json& ssh) { return ssh.is_null() ? json{{"rules", json::array()}} : ssh; }

}  // namespace

const policy::PeerView* Tailnet::seen_in(const policy::NodeView& v, std::int64_t id) {
    const auto it = std::lower_bound(v.peers.begin(), v.peers.end(), static_cast<std::uint64_t>(id),
                                     [](const policy::PeerView& p, std::uint64_t want) { return p.node_id < want; });
    return it != v.peers.end() && it->node_id == static_cast<std::uint64_t>(id) ? &*it : nullptr;
}

std::vector<policy::Problem> Tailnet::set_policy(std::optional<std::string> text, bool enforce_tests) {
    on_owner_thread();
    if (text && blank(*text)) text.reset();
    if (text == policy_text_ && (policy_ || !text)) return {};
    if (!text) {
        spdlog::info("no ACL policy: every node may reach every other");
        policy_text_.reset();
        policy_.reset();
        pending_.drop_views = true;
        publish(Clock::now());
        return {};
    }
    auto result = policy::compile(*text, policy_users(), policy_nodes(), enforce_tests);
    if (!result.ok()) {
        ++policy_reload_errors_;
        spdlog::error("ACL policy refused{}:\n{}", policy_ ? " (the previous one stays in force)" : "",
                      policy::format_problems(result.problems));
        return result.problems;
    }
    for (const auto& p : result.compiled->test_failures()) spdlog::warn("ACL policy test fails: {}", p.str());
    spdlog::info("ACL policy in force ({} bytes)", text->size());
    // A change of the policy in force (the first load at start is not one).
    if (policy_text_)
        admin::audit_control_change(db_, Clock::now(), "policy.reloaded", "policy", {{"bytes", policy_text_->size()}},
                                    {{"bytes", text->size()}}, "");
    policy_text_ = std::move(text);
    policy_ = std::move(result.compiled);
    ++policy_generation_;
    policy_dirty_ = false;
    pending_.views = true;
    if (auto_approve(Clock::now())) ensure_policy();
    publish(Clock::now());
    return {};
}

void Tailnet::load_stored_policy(bool at_start) {
    const auto stored = store::latest_policy(db_);
    const auto problems = set_policy(stored ? std::optional(stored->data) : std::nullopt, !at_start);
    if (at_start && !problems.empty())
        throw std::runtime_error("the stored ACL policy is refused:\n" + policy::format_problems(problems));
}

void Tailnet::ensure_policy() {
    // Twice at most: approving routes changes the nodes the policy was compiled against.
    for (int round = 0; round < 2 && policy_ && policy_dirty_; ++round) {
        policy_dirty_ = false;
        // Tests are the admin's check when the policy changes; a node joining must not undo it.
        auto result = policy::compile(*policy_text_, policy_users(), policy_nodes(), false);
        if (!result.ok()) {
            ++policy_reload_errors_;
            spdlog::error("ACL policy no longer compiles against the tailnet (the previous compile stays):\n{}",
                          policy::format_problems(result.problems));
            return;
        }
        policy_ = std::move(result.compiled);
        ++policy_generation_;
        if (!auto_approve(Clock::now())) return;
    }
}

bool Tailnet::auto_approve(TimePoint now) {
    bool any = false;
    for (auto& [id, l] : nodes_) {
        const auto& announced = l.policy_in.announced_routes;
        if (announced.empty()) continue;
        auto approved = l.rec.approved_routes;
        for (const auto& r : policy_->auto_approved_routes(static_cast<std::uint64_t>(id)))
            if (std::find(approved.begin(), approved.end(), r) == approved.end()) approved.push_back(r);
        if (approved.size() == l.rec.approved_routes.size()) continue;
        auto next = l.rec;
        next.approved_routes = std::move(approved);
        try {
            change(l, std::move(next), now, {.write = Write::ApprovedRoutes});
        } catch (const std::exception& e) {
            spdlog::warn("node {}: autoApprovers would approve its routes, but they cannot be recorded: {}", id,
                         e.what());
            continue;
        }
        spdlog::info("node {} ({}): routes approved by autoApprovers; approved now: {}", id, l.rec.given_name,
                     json(l.rec.approved_routes).dump());
        any = true;
    }
    return any;
}

std::optional<std::string> Tailnet::grant_requested_tags(std::optional<std::int64_t> user_id, const json& req,
                                                         std::vector<std::string>& tags) {
    std::vector<std::string> requested;
    if (const auto hi = req.find("Hostinfo"); hi != req.end() && hi->is_object())
        if (const auto rt = hi->find("RequestTags"); rt != hi->end() && rt->is_array())
            for (const auto& t : *rt)
                if (t.is_string()) requested.push_back(t.get<std::string>());
    if (requested.empty() || !user_id) return std::nullopt;
    std::sort(requested.begin(), requested.end());
    requested.erase(std::unique(requested.begin(), requested.end()), requested.end());
    // Without a policy no tag is defined, so none can be owned (as on Tailscale).
    std::vector<std::string> refused = requested;
    if (policy_) {
        // Ownership needs only the users; a full ensure_policy here could approve routes
        // inside this registration's transaction, which a refusal rolls back.
        auto compiled = policy_;
        if (policy_dirty_) compiled = policy::compile(*policy_text_, policy_users(), {}, false).compiled;
        if (compiled) refused = compiled->unowned_tags(static_cast<std::uint64_t>(*user_id), requested);
    }
    if (!refused.empty()) {
        std::string list;
        for (const auto& t : refused) list += (list.empty() ? "" : " ") + t;
        // Tailscale's wording, which the client prints as it is.
        return "requested tags [" + list + "] are invalid or not permitted";
    }
    tags = std::move(requested);
    return std::nullopt;
}

std::vector<policy::User> Tailnet::policy_users() const {
    std::vector<policy::User> out;
    out.reserve(users_.size());
    for (const auto& [id, u] : users_)
        out.push_back({static_cast<std::uint64_t>(id), u.name, u.email, u.display_name,
                       u.provider_identifier.value_or(""), u.groups});
    return out;
}

policy::Node Tailnet::policy_node(const Live& l) {
    policy::Node n;
    n.id = static_cast<std::uint64_t>(l.rec.id);
    n.user_id = static_cast<std::uint64_t>(l.rec.user_id.value_or(0));
    n.given_name = l.rec.given_name;
    n.hostname = l.rec.hostname;
    n.tags = l.rec.tags;
    n.ipv4 = l.rec.ipv4.value_or("");
    n.ipv6 = l.rec.ipv6.value_or("");
    if (const auto it = l.rec.host_info.find("RoutableIPs"); it != l.rec.host_info.end() && it->is_array())
        for (const auto& r : *it)
            if (r.is_string()) n.announced_routes.push_back(r.get<std::string>());
    n.approved_routes = l.rec.approved_routes;
    n.primary_routes = l.routes.primary;
    return n;
}

std::vector<policy::Node> Tailnet::policy_nodes() const {
    std::vector<policy::Node> out;
    out.reserve(nodes_.size());
    for (const auto& [id, l] : nodes_)
        if (l.rec.approved) out.push_back(l.policy_in);  // a node waiting for approval is no one's peer
    return out;
}

std::string Tailnet::peer_json_for(const policy::PeerView& pv, const Live& peer, TimePoint now) const {
    if (pv.cap_map.empty() && sorted(pv.allowed_ips) == sorted(default_allowed(peer.rec, peer.routes)))
        return peer.peer_json;
    auto j = node_json(peer.rec, settings_, peer.capver, now, false, &peer.routes);
    j["AllowedIPs"] = pv.allowed_ips;
    if (const auto it = j.find("PrimaryRoutes"); it != j.end()) {
        // Only the routes this viewer may use: the others are not in its AllowedIPs either.
        json kept = json::array();
        for (const auto& r : *it)
            if (std::find(pv.allowed_ips.begin(), pv.allowed_ips.end(), r.get<std::string>()) != pv.allowed_ips.end())
                kept.push_back(r);
        if (kept.empty()) j.erase(it);
        else *it = std::move(kept);
    }
    if (!pv.cap_map.empty()) j["CapMap"] = pv.cap_map;
    return j.dump();
}

std::string Tailnet::self_json(const Live& l, TimePoint now) const {
    auto j = node_json(l.rec, settings_, l.capver, now, true, &l.routes);
    if (l.view)
        for (const auto& [cap, values] : l.view->cap_map.items()) j["CapMap"][cap] = values;
    return j.dump();
}

std::optional<policy::NodeView> Tailnet::policy_view(Live& l) {
    if (!policy_) return std::nullopt;
    ensure_policy();
    return policy_->view(static_cast<std::uint64_t>(l.rec.id), cfg_.server_url);
}

std::string Tailnet::view_delta(Live& l, policy::NodeView nv, const std::set<std::int64_t>& changed, TimePoint now) {
    std::map<std::uint64_t, const policy::PeerView*> before;
    if (l.view)
        for (const auto& p : l.view->peers) before[p.node_id] = &p;
    std::unordered_set<std::uint64_t> visible;
    std::vector<std::string> peers;
    for (const auto& p : nv.peers) {
        visible.insert(p.node_id);
        const auto it = nodes_.find(static_cast<std::int64_t>(p.node_id));
        if (it == nodes_.end()) continue;
        bool send = changed.count(it->first) > 0;
        if (!send && l.view) {
            const auto b = before.find(p.node_id);
            send = b == before.end() || b->second->allowed_ips != p.allowed_ips || b->second->cap_map != p.cap_map;
        } else if (!send) {
            // The node had every peer as node_json renders it: only those the policy reshapes.
            send = !p.cap_map.empty() ||
                   sorted(p.allowed_ips) != sorted(default_allowed(it->second.rec, it->second.routes));
        }
        if (send) peers.push_back(peer_json_for(p, it->second, now));
    }
    DeltaMessage m;
    m.peers_changed.assign(peers.begin(), peers.end());
    // A peer deleted since the last view was removed by publish already (send_removed).
    auto drop = [&](std::int64_t id) {
        if (id != l.rec.id && !visible.count(static_cast<std::uint64_t>(id)) && nodes_.count(id))
            m.peers_removed.push_back(id);
    };
    if (l.view) {
        for (const auto& [id, p] : before) drop(static_cast<std::int64_t>(id));
    } else {
        for (const auto& [id, peer] : nodes_) drop(id);
    }
    const json old_filter = l.view ? l.view->packet_filter : json::parse(allow_all_filter_json());
    const json old_ssh = l.view ? l.view->ssh_policy : json();
    const json old_caps = l.view ? l.view->cap_map : json::object();
    if (nv.packet_filter != old_filter) m.packet_filter = nv.packet_filter.dump();
    if (nv.ssh_policy != old_ssh) m.ssh_policy = ssh_or_empty(nv.ssh_policy).dump();
    const bool caps_changed = nv.cap_map != old_caps;
    l.view = std::move(nv);
    if (caps_changed) m.node = self_json(l, now);
    return delta_json(m);
}

void Tailnet::flush_with_policy(const Delta& d, TimePoint now) {
    ensure_policy();
    const auto& changed = d.changed;
    for (auto& [id, l] : nodes_) {
        if (l.sinks.empty()) continue;  // the others get their view with their next map
        // A view from the compile in force stays right: computing it again for every streaming
        // node on every tick would cost O(N) views whenever anything changed.
        const auto text =
            l.view && l.view_generation == policy_generation_
                ? changed_peers_delta(l, changed, now)
                : view_delta(l, policy_->view(static_cast<std::uint64_t>(id), cfg_.server_url), changed, now);
        l.view_generation = policy_generation_;
        if (!text.empty()) push(l, frame(text));
        // Presence and patches only of the nodes this one may see (as in the allow-all path,
        // in messages of their own after the peers).
        DeltaMessage online, patched;
        for (const auto& [pid, on] : d.presence)
            if (seen_in(*l.view, pid) && nodes_.count(pid)) online.online[pid] = on;
        if (!online.online.empty()) push(l, frame(delta_json(online)));
        for (const auto& [pid, p] : d.patches)
            if (seen_in(*l.view, pid) && !changed.count(pid) && nodes_.count(pid)) patched.patches.push_back(p);
        if (!patched.patches.empty()) push(l, frame(delta_json(patched)));
    }
}

std::string Tailnet::changed_peers_delta(const Live& l, const std::set<std::int64_t>& changed, TimePoint now) const {
    std::vector<std::string> peers;
    for (const auto id : changed) {
        const auto* pv = id == l.rec.id ? nullptr : seen_in(*l.view, id);
        const auto it = pv ? nodes_.find(id) : nodes_.end();
        if (it != nodes_.end()) peers.push_back(peer_json_for(*pv, it->second, now));
    }
    return delta_json({.peers_changed = {peers.begin(), peers.end()}});
}

void Tailnet::drop_policy(TimePoint now) {
    const auto filter = allow_all_filter_json();
    for (auto& [id, l] : nodes_) {
        if (!l.view) continue;
        const bool had_caps = !l.view->cap_map.empty();
        const bool had_ssh = !l.view->ssh_policy.is_null();
        l.view.reset();
        if (l.sinks.empty()) continue;
        DeltaMessage m{.packet_filter = filter};
        for (const auto& [pid, peer] : nodes_)
            if (may_see(l, peer)) m.peers_changed.push_back(peer.peer_json);
        if (had_ssh) m.ssh_policy = ssh_or_empty(nullptr).dump();
        if (had_caps) m.node = self_json(l, now);
        push(l, frame(delta_json(m)));
    }
}

}  // namespace hs::control
