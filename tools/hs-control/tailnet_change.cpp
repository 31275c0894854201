// The change path of the Tailnet: every change to a node goes through change(), add_node or
// remove_node, which write the columns it touched and record what happened in pending_;
// publish (end of each entry point) and flush (the tick) render each message once, through the
// mapper, and hand it to the streams that should hear it.
#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/control/mapframe.h"
#include "common/store/store.h"
#include "tools/hs-control/tailnet.h"

namespace hs::control {

using nlohmann::json;

void Tailnet::write(const Node& next, TimePoint now, const How& how) {
    switch (how.write) {
        case Write::None:
        case Write::ClientReport:  // after the change in memory (see change)
            break;
        case Write::Login:
            check_writable(now);
            store::set_node_login(db_, next);
            break;
        case Write::Expiry:
            check_writable(now);
            store::set_node_expiry(db_, next.id, next.expiry);
            break;
        case Write::ApprovedRoutes:
            check_writable(now);
            store::set_node_approved_routes(db_, next.id, next.approved_routes);
            break;
        case Write::PrimaryRoutes:
            // For hs-admin: which router serves a prefix right now. Only a record for humans:
            // a locked file must not stop the election reaching the clients.
            try {
                store::set_node_primary_routes(db_, next.id, next.primary_routes);
            } catch (const std::exception& e) {
                spdlog::warn("node {}: could not record its primary routes: {}", next.id, e.what());
            }
            break;
    }
    if (how.tx) how.tx->commit();
}

void Tailnet::change(Live& l, Node next, TimePoint now, const How& how) {
    if (how.write == Write::ClientReport || how.write == Write::Login || how.write == Write::Expiry)
        next.updated_at = now;
    write(next, now, how);
    const bool approval_moved = next.approved != l.rec.approved;
    const bool keys_moved = next.node_key != l.rec.node_key || next.machine_key != l.rec.machine_key ||
                            next.ipv4 != l.rec.ipv4 || next.ipv6 != l.rec.ipv6;
    if (keys_moved) unindex(l);
    l.rec = std::move(next);
    if (keys_moved) index(l);
    // What a client reports reaches its peers even while the file is busy or full.
    if (how.write == Write::ClientReport && !may_write(now)) {
        unsaved_reports_.insert(l.rec.id);
    } else if (how.write == Write::ClientReport) {
        try {
            store::set_node_client_report(db_, l.rec);
            unsaved_reports_.erase(l.rec.id);
        } catch (const DbError& e) {
            unsaved_reports_.insert(l.rec.id);
            note_db_failure(now, e);
        } catch (const store::NotFound&) {
            // hs-admin deleted the node a moment ago; sync_from_db removes it on this tick.
        }
    }
    if (approval_moved) {
        spdlog::info("node {} ({}) {}", l.rec.id, l.rec.given_name,
                     l.rec.approved ? "approved: its peers see it now" : "waits for approval");
        policy_dirty_ = true;
        pending_.maps.insert(l.rec.id);
        auto news = how;
        news.tell = Tell::Everyone;
        settle(l, now, news, {});
        return;
    }
    settle(l, now, how, how.tell == Tell::IfVisible ? l.peer_json : std::string());
}

Tailnet::Live& Tailnet::add_node(Node n, TimePoint now, Tell tell) {
    const auto id = n.id;
    auto& l = nodes_[id];
    l.rec = std::move(n);
    index(l);
    chunks_.invalidate(id);
    settle(l, now, {.tell = tell}, {});
    return l;
}

void Tailnet::settle(Live& l, TimePoint now, const How& how, const std::string& before) {
    if (track_routes(l)) reroute(now, l.rec.id);
    render(l, now);
    const auto id = l.rec.id;
    switch (how.tell) {
        case Tell::Nobody: break;
        case Tell::IfVisible:
            if (l.peer_json == before) break;
            [[fallthrough]];
        case Tell::Everyone:
            spdlog::debug("node {} ({}) changed", id, l.rec.given_name);
            pending_.selves.insert(id);
            [[fallthrough]];
        case Tell::Peers: pending_.changed.insert(id); break;
        case Tell::Patch:
            if (how.patch.size() > 1) {  // more than its NodeID
                auto& p = pending_.patches[id];
                if (p.is_null()) p = how.patch;
                else p.update(how.patch);
            }
            break;
        case Tell::Presence: pending_.presence[id] = l.rec.online; break;
    }
}

void Tailnet::render(Live& l, TimePoint now) {
    if (auto in = policy_node(l); in != l.policy_in) {
        l.policy_in = std::move(in);
        policy_dirty_ = true;
    }
    l.peer_json = node_json(l.rec, settings_, l.capver, now, false, &l.routes).dump();
    chunks_.invalidate(l.rec.id);
}

void Tailnet::remove_node(std::int64_t id, TimePoint now, bool delete_row) {
    const auto it = nodes_.find(id);
    if (it == nodes_.end()) return;
    if (delete_row) store::delete_node(db_, id);
    const auto sinks = it->second.sinks;
    unindex(it->second);
    nodes_.erase(it);
    chunks_.invalidate(id);
    policy_dirty_ = true;
    for (auto* s : sinks) s->end();
    pending_.removed.insert(id);
    forget_router(id, now);
}

std::shared_ptr<const std::string> Tailnet::frame(const std::string& js) {
    return std::make_shared<const std::string>(frame_map_message(js));
}

void Tailnet::push(Live& l, std::shared_ptr<const std::string> f) {
    for (auto* s : l.sinks) {
        s->push(f);
        ++stats_.map_messages;
        stats_.map_bytes += f->size();
    }
}

void Tailnet::push_all(const DeltaMessage& m) {
    const auto f = frame(delta_json(m));
    for (auto& [id, l] : nodes_) push(l, f);
}

void Tailnet::publish(TimePoint now) {
    auto& p = pending_;
    if (std::exchange(p.derp_map, false)) push_all({.derp_map = derp_map_json_});
    if (std::exchange(p.profiles, false)) push_all({.user_profiles = profiles_json_});
    if (!p.removed.empty()) send_removed(std::exchange(p.removed, {}));
    if (std::exchange(p.drop_views, false)) drop_policy(now);
    for (const auto id : std::exchange(p.maps, {}))
        if (const auto it = nodes_.find(id); it != nodes_.end() && !it->second.sinks.empty()) {
            p.selves.erase(id);  // the map carries its self
            push(it->second, std::make_shared<const std::string>(join_parts(full_map_frame(it->second, now))));
        }
    for (const auto id : std::exchange(p.selves, {}))
        if (const auto it = nodes_.find(id); it != nodes_.end() && !it->second.sinks.empty())
            push(it->second, frame(delta_json({.node = self_json(it->second, now)})));
}

void Tailnet::send_removed(const std::set<std::int64_t>& removed) {
    const std::vector<std::int64_t> all(removed.begin(), removed.end());
    std::shared_ptr<const std::string> shared;
    for (auto& [id, l] : nodes_) {
        if (l.sinks.empty()) continue;
        if (!l.view) {  // the node's map had every peer
            if (!shared) shared = frame(delta_json({.peers_removed = all}));
            push(l, shared);
            continue;
        }
        // Under a policy only the nodes that saw it. The view keeps the ID until it is computed
        // again; view_delta does not name removed nodes a second time.
        DeltaMessage m;
        for (const auto r : all)
            if (seen_in(*l.view, r)) m.peers_removed.push_back(r);
        if (!m.peers_removed.empty()) push(l, frame(delta_json(m)));
    }
}

void Tailnet::flush(TimePoint now) {
    on_owner_thread();
    publish(now);
    record_presence(now);
    auto& p = pending_;
    if (p.presence.empty() && p.changed.empty() && p.patches.empty() && !p.views) return;
    Delta d;
    d.changed.swap(p.changed);
    d.patches.swap(p.patches);
    d.presence.swap(p.presence);
    d.views = std::exchange(p.views, false);
    if (policy_) {
        flush_with_policy(d, now);
        publish(now);  // routes autoApprovers approved during the compile
        return;
    }
    // Peers get a changed node as it is now (peer_json is rendered on every change), so a patch
    // of a node that also goes out whole says nothing new.
    std::vector<std::pair<std::int64_t, std::string_view>> listed;  // the changed nodes that still exist
    for (const auto id : d.changed)
        if (const auto it = nodes_.find(id); it != nodes_.end() && it->second.rec.approved)
            listed.emplace_back(id, it->second.peer_json);
    DeltaMessage whole;
    for (const auto& [id, text] : listed) whole.peers_changed.push_back(text);
    std::map<std::int64_t, const json*> patch_of;  // ordered: the message lists them by ID
    DeltaMessage online;
    auto shown = [&](std::int64_t id) {
        const auto it = nodes_.find(id);
        return it != nodes_.end() && it->second.rec.approved;
    };
    for (const auto& [id, patch] : d.patches)
        if (shown(id) && !d.changed.count(id)) patch_of[id] = &patch;
    for (const auto& [id, on] : d.presence)
        if (shown(id)) online.online[id] = on;
    // Three messages at most, each one encode shared by every peer: the nodes, then presence,
    // then patches. Clients ignore presence and patches for IDs that are not their peers, their
    // own included, but a node listed whole must not find itself in PeersChanged (the client
    // would add it as a peer): those few (a joining node registers before it streams) get their
    // own copy. Presence and patches stay out of the PeersChanged message: tailscaled v1.102.5
    // then sometimes kept a new peer as an empty, offline entry (interop test_derp_relay,
    // test_embedded_derp: two clients joining within the same tick).
    std::shared_ptr<const std::string> shared;
    for (auto& [id, l] : nodes_) {
        if (l.sinks.empty() || whole.peers_changed.empty() || !l.rec.approved) continue;
        if (d.changed.count(id)) {
            DeltaMessage mine;
            for (const auto& [pid, text] : listed)
                if (pid != id) mine.peers_changed.push_back(text);
            if (!mine.peers_changed.empty()) push(l, frame(delta_json(mine)));
            continue;
        }
        if (!shared) shared = frame(delta_json(whole));
        push(l, shared);
    }
    if (!online.online.empty()) push_all(online);
    send_patches(patch_of);
}

void Tailnet::send_patches(const std::map<std::int64_t, const json*>& patch_of) {
    if (patch_of.empty()) return;
    // A node is not sent its own patch: the client has no peer of that ID and would give up
    // applying the message as a delta (and the load generator counts it as a delivery). One
    // shared message for everyone else; the patched nodes that stream get theirs without it.
    auto text = [&](std::int64_t except) {
        DeltaMessage m;
        for (const auto& [id, p] : patch_of)
            if (id != except) m.patches.push_back(*p);
        return delta_json(m);
    };
    std::shared_ptr<const std::string> shared;
    for (auto& [id, l] : nodes_) {
        if (l.sinks.empty()) continue;
        if (patch_of.count(id)) {
            if (const auto t = text(id); !t.empty()) push(l, frame(t));
            continue;
        }
        if (!shared) shared = frame(text(0));
        push(l, shared);
    }
}

void Tailnet::record_presence(TimePoint now) {
    if (unsaved_presence_.empty() || !may_write(now)) return;
    try {
        Db::Tx tx(db_);
        write_presence(now);
        tx.commit();
        unsaved_presence_.clear();
    } catch (const DbError& e) {
        // Clients already heard; the file catches up in retry_unsaved.
        note_db_failure(now, e);
    }
}

void Tailnet::write_presence(TimePoint now) {
    std::vector<std::int64_t> on, off;
    for (const auto id : unsaved_presence_)
        if (const auto n = nodes_.find(id); n != nodes_.end()) (n->second.sinks.empty() ? off : on).push_back(id);
    store::set_nodes_presence(db_, on, my_bit_, true, now);
    store::set_nodes_presence(db_, off, my_bit_, false, now);
}

}  // namespace hs::control
