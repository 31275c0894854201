#include "tools/hs-control/tailnet.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/base/keys.h"
#include "common/control/mapframe.h"
#include "common/store/store.h"

namespace hs::control {

using nlohmann::json;

std::optional<std::string> request_key(const json& req, const char* field, std::string_view prefix) {
    const auto it = req.find(field);
    if (it == req.end() || !it->is_string()) return std::nullopt;
    try {
        const auto bytes = parse_key_text(it->get<std::string>(), prefix);
        if (PublicKey{bytes}.is_zero()) return std::nullopt;
        return key_text(prefix, bytes);  // canonical lower case
    } catch (const KeyError&) {
        return std::nullopt;
    }
}

Tailnet::Tailnet(Db& db, Config cfg, json derp_map)
    : db_(db), cfg_(std::move(cfg)), pools_(cfg_.prefix_v4, cfg_.prefix_v6) {
    settings_.base_domain = cfg_.dns.base_domain;
    settings_.taildrop = cfg_.taildrop_enabled;
    settings_.randomize_client_port = cfg_.randomize_client_port;
    settings_.logtail = cfg_.logtail_enabled;
    dns_json_ = dns_config_json(cfg_).dump();
    derp_map_json_ = derp_map.dump();
    keepalive_ = std::make_shared<const std::string>(frame_map_message(delta_json({.keep_alive = true})));
}

void Tailnet::on_owner_thread() const {
    if (std::this_thread::get_id() == owner_) return;
    spdlog::critical("hs-control: the Tailnet was called from a second thread; stopping rather than corrupting it");
    std::abort();
}

void Tailnet::load() {
    on_owner_thread();
    change_seq_ = store::change_log_head(db_);
    data_version_ = db_.data_version();
    reload_users();
    std::map<std::int64_t, std::vector<MapSink*>> keep;
    for (auto& [id, l] : nodes_) keep[id] = l.sinks;
    nodes_.clear();
    chunks_.clear();
    by_node_key_.clear();
    by_machine_key_.clear();
    pools_ = AddressPools(cfg_.prefix_v4, cfg_.prefix_v6);
    routers_.clear();
    const auto now = Clock::now();
    for (auto& n : store::list_nodes(db_)) {
        auto& l = add_node(std::move(n));
        if (auto it = keep.find(l.rec.id); it != keep.end()) l.sinks = it->second;
        l.rec.online = !l.sinks.empty();
        refresh(l, now);
    }
    if (cfg_.policy_mode == "database") load_stored_policy(true);
    // Streams of nodes that vanished while we were not looking end now.
    for (auto& [id, sinks] : keep)
        if (!nodes_.count(id))
            for (auto* s : sinks) s->end();
}

void Tailnet::reload_users() {
    users_.clear();
    json profiles = json::array({tagged_devices_profile_json()});
    for (auto& u : store::list_users(db_)) {
        profiles.push_back(user_profile_json(u));
        users_.emplace(u.id, std::move(u));
    }
    profiles_json_ = profiles.dump();
    policy_dirty_ = true;
}

void Tailnet::ensure_user(std::optional<std::int64_t> user_id) {
    if (!user_id || users_.count(*user_id)) return;
    reload_users();
    const auto f = frame(delta_json({.user_profiles = profiles_json_}));
    for (auto& [id, l] : nodes_) push(l, f);
}

Tailnet::Live& Tailnet::add_node(Node n) {
    const auto id = n.id;
    auto& l = nodes_[id];
    l.rec = std::move(n);
    index(l);
    chunks_.invalidate(id);
    return l;
}

void Tailnet::index(const Live& l) {
    by_node_key_[l.rec.node_key] = l.rec.id;
    by_machine_key_.emplace(l.rec.machine_key, l.rec.id);
    pools_.take(l.rec.ipv4);
    pools_.take(l.rec.ipv6);
}

void Tailnet::unindex(const Live& l) {
    if (const auto it = by_node_key_.find(l.rec.node_key); it != by_node_key_.end() && it->second == l.rec.id)
        by_node_key_.erase(it);
    const auto [first, last] = by_machine_key_.equal_range(l.rec.machine_key);
    for (auto it = first; it != last; ++it)
        if (it->second == l.rec.id) {
            by_machine_key_.erase(it);
            break;
        }
    pools_.release(l.rec.ipv4);
    pools_.release(l.rec.ipv6);
}

Tailnet::Live* Tailnet::by_node_key(const std::string& key) {
    const auto it = by_node_key_.find(key);
    if (it == by_node_key_.end()) return nullptr;
    const auto n = nodes_.find(it->second);
    return n == nodes_.end() ? nullptr : &n->second;
}

bool Tailnet::refresh(Live& l, TimePoint now) {
    const bool sent = track_routes(l) && reroute(now, l.rec.id);
    render(l, now);
    return sent;
}

void Tailnet::refresh_and_announce(Live& l, TimePoint now) {
    if (!refresh(l, now)) broadcast_changed(l, now);
}

void Tailnet::render(Live& l, TimePoint now) {
    if (auto in = policy_node(l); in != l.policy_in) {
        l.policy_in = std::move(in);
        policy_dirty_ = true;
    }
    l.peer_json = node_json(l.rec, settings_, l.capver, now, false, &l.routes).dump();
    chunks_.invalidate(l.rec.id);
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

void Tailnet::broadcast_changed(const Live& changed, TimePoint now) {
    spdlog::debug("node {} ({}) changed", changed.rec.id, changed.rec.given_name);
    if (const auto it = nodes_.find(changed.rec.id); it != nodes_.end() && !it->second.sinks.empty()) {
        auto& l = it->second;
        push(l, frame(delta_json({.node = self_json(l, now)})));
    }
    changed_.insert(changed.rec.id);
}

void Tailnet::queue_patch(std::int64_t id, const json& patch) {
    auto& p = patches_[id];
    if (p.is_null()) p = patch;
    else p.update(patch);
}

void Tailnet::broadcast_removed(std::int64_t removed) {
    const auto f = frame(delta_json({.peers_removed = {removed}}));
    for (auto& [id, l] : nodes_)
        if (id != removed) push(l, f);
}

void Tailnet::remove_node(std::int64_t id, TimePoint now) {
    const auto it = nodes_.find(id);
    if (it == nodes_.end()) return;
    const auto sinks = it->second.sinks;
    unindex(it->second);
    nodes_.erase(it);
    chunks_.invalidate(id);
    policy_dirty_ = true;
    for (auto* s : sinks) s->end();
    broadcast_removed(id);
    forget_router(id, now);
}

void Tailnet::persist_later(Live& l, TimePoint now) {
    if (!may_write(now)) {
        unsaved_reports_.insert(l.rec.id);
        return;
    }
    try {
        persist(l, now, Write::ClientReport);
        unsaved_reports_.erase(l.rec.id);
    } catch (const DbError& e) {
        unsaved_reports_.insert(l.rec.id);
        note_db_failure(now, e.what());
    } catch (const store::NotFound&) {
        // hs-admin deleted the node a moment ago; sync_from_db removes it on this tick.
    }
}

void Tailnet::retry_unsaved(TimePoint now) {
    if (unsaved_reports_.empty() && unsaved_presence_.empty()) return;
    if (!may_write(now)) return;
    Db::Tx tx(db_);
    for (const auto id : unsaved_reports_) {
        const auto it = nodes_.find(id);
        if (it == nodes_.end()) continue;
        try {
            store::set_node_client_report(db_, it->second.rec);
        } catch (const store::NotFound&) {
            // deleted meanwhile: nothing left to record
        }
    }
    for (const auto id : unsaved_presence_)
        if (const auto it = nodes_.find(id); it != nodes_.end())
            store::set_node_online(db_, id, it->second.rec.online, it->second.rec.last_seen);
    tx.commit();
    spdlog::info("recorded {} client reports and {} presence changes that had waited for the database",
                 unsaved_reports_.size(), unsaved_presence_.size());
    unsaved_reports_.clear();
    unsaved_presence_.clear();
    last_db_failure_.reset();
    retry_at_.reset();
}

void Tailnet::note_db_failure(TimePoint now, const std::string& what) {
    ++db_failures_;
    last_db_failure_ = now;
    last_db_error_ = what;
    retry_at_ = now + std::chrono::seconds(1);
}

void Tailnet::check_writable(TimePoint now) const {
    if (!may_write(now)) throw DbError("a database write failed a moment ago (" + last_db_error_ + "); not trying again yet");
}

std::optional<std::string> Tailnet::db_write_problem(TimePoint now) const {
    if (!last_db_failure_ || now - *last_db_failure_ > std::chrono::minutes(1)) return std::nullopt;
    auto text = "database writes are failing: " + last_db_error_;
    if (const auto waiting = unsaved_reports_.size() + unsaved_presence_.size())
        text += " (" + std::to_string(waiting) + " changes kept in memory until it recovers)";
    return text;
}

void Tailnet::persist(Live& l, TimePoint now, Write what) {
    l.rec.updated_at = now;
    switch (what) {
        case Write::ClientReport: store::set_node_client_report(db_, l.rec); break;
        case Write::Login: store::set_node_login(db_, l.rec); break;
        case Write::Expiry: store::set_node_expiry(db_, l.rec.id, l.rec.expiry); break;
    }
}

std::string Tailnet::full_map(Live& self, TimePoint now) {
    const auto t0 = std::chrono::steady_clock::now();
    self.view = policy_view(self);
    self.view_generation = policy_generation_;
    std::vector<std::string> shaped;  // peers as the policy shows them to this node
    std::vector<const std::string*> peers;
    if (self.view) {
        shaped.reserve(self.view->peers.size());
        for (const auto& pv : self.view->peers)
            if (const auto it = nodes_.find(static_cast<std::int64_t>(pv.node_id)); it != nodes_.end())
                shaped.push_back(peer_json_for(pv, it->second, now));
        for (const auto& p : shaped) peers.push_back(&p);
    } else {
        peers.reserve(nodes_.size());
        for (const auto& [id, l] : nodes_)
            if (id != self.rec.id) peers.push_back(&l.peer_json);
    }
    auto out = full_map_json(self_json(self, now), peers, derp_map_json_, dns_json_, profiles_json_,
                             self.view ? self.view->packet_filter.dump() : allow_all_filter_json(), settings_.base_domain,
                             now, settings_, self.view && !self.view->ssh_policy.is_null() ? self.view->ssh_policy.dump() : "");
    stats_.map_build_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++stats_.map_builds;
    return out;
}

std::string Tailnet::full_map_frame(Live& self, TimePoint now) {
    if (policy_) {
        // Every node sees its own set of peers: no pieces to share.
        FrameBuilder b;
        b.text(full_map(self, now));
        return b.finish();
    }
    const auto t0 = std::chrono::steady_clock::now();
    FrameBuilder b;
    b.text(full_map_head(self_json(self, now), derp_map_json_, dns_json_, profiles_json_, allow_all_filter_json(),
                         settings_.base_domain));
    const auto own = PeerChunks::span_of(self.rec.id);
    bool opened = false;
    for (auto it = nodes_.begin(); it != nodes_.end();) {
        const auto k = PeerChunks::span_of(it->first);
        const auto end = nodes_.lower_bound((k + 1) * PeerChunks::kSpan);
        if (k == own) {
            std::string mine;
            for (auto p = it; p != end; ++p)
                if (p->first != self.rec.id) append_peer(mine, opened, p->second.peer_json);
            b.text(mine);
        } else {
            b.raw(chunks_.get(k, !opened, [&](std::string& out, bool was_opened) {
                for (auto p = it; p != end; ++p) append_peer(out, was_opened, p->second.peer_json);
            }));
            opened = true;
        }
        it = end;
    }
    if (opened) b.text("]");
    b.text(full_map_tail(now, settings_));
    auto out = b.finish();
    stats_.map_build_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++stats_.map_builds;
    return out;
}

void Tailnet::attach(std::int64_t node_id, MapSink* sink, TimePoint now) {
    on_owner_thread();
    const auto it = nodes_.find(node_id);
    if (it == nodes_.end()) {
        sink->end();
        return;
    }
    auto& l = it->second;
    l.sinks.push_back(sink);
    l.offline_since.reset();
    if (l.sinks.size() == 1 && !l.rec.online) {
        l.rec.online = true;
        l.rec.last_seen = now;
        refresh(l, now);
        presence_[l.rec.id] = true;
    }
}

void Tailnet::detach(std::int64_t node_id, MapSink* sink, TimePoint now) {
    on_owner_thread();
    const auto it = nodes_.find(node_id);
    if (it == nodes_.end()) return;
    auto& l = it->second;
    l.sinks.erase(std::remove(l.sinks.begin(), l.sinks.end(), sink), l.sinks.end());
    if (l.sinks.empty() && l.rec.online) {
        l.rec.online = false;
        l.rec.last_seen = now;
        l.offline_since = now;
        if (stopping_) return;
        refresh(l, now);
        presence_[l.rec.id] = false;
    }
}

std::string Tailnet::peers_changed_text(const std::vector<const Live*>& whole, std::int64_t except) {
    DeltaMessage m;
    for (const auto* l : whole)
        if (l->rec.id != except) m.peers_changed.push_back(l->peer_json);
    return delta_json(m);
}

void Tailnet::flush(TimePoint now) {
    on_owner_thread();
    if (presence_.empty() && changed_.empty() && patches_.empty() && !views_stale_) return;
    const auto changed = std::exchange(changed_, {});
    const auto patches = std::exchange(patches_, {});
    const auto presence = std::exchange(presence_, {});
    if (policy_) return flush_with_policy(changed, patches, presence, now);
    views_stale_ = false;
    // Peers get a changed node as it is now (peer_json is rendered on every change), so a patch
    // of a node that also goes out whole says nothing new.
    std::vector<const Live*> whole;
    for (const auto id : changed)
        if (const auto it = nodes_.find(id); it != nodes_.end()) whole.push_back(&it->second);
    std::map<std::int64_t, const json*> patch_of;  // ordered: the message lists them by ID
    DeltaMessage online;
    for (const auto& [id, p] : patches)
        if (nodes_.count(id) && !changed.count(id)) patch_of[id] = &p;
    for (const auto& [id, on] : presence)
        if (nodes_.count(id)) online.online[id] = on;
    // Three messages at most, each one encode shared by every peer: the nodes, then presence,
    // then patches. Clients ignore presence and patches for IDs that are not their peers, their
    // own included, but a node listed whole must not find itself in PeersChanged (the client
    // would add it as a peer): those few (a joining node registers before it streams) get their
    // own copy. Presence and patches stay out of the PeersChanged message: tailscaled v1.102.5
    // then sometimes kept a new peer as an empty, offline entry (interop test_derp_relay,
    // test_embedded_derp: two clients joining within the same tick).
    std::shared_ptr<const std::string> shared;
    for (auto& [id, l] : nodes_) {
        if (l.sinks.empty() || whole.empty()) continue;
        if (changed.count(id)) {
            if (const auto text = peers_changed_text(whole, id); !text.empty()) push(l, frame(text));
            continue;
        }
        if (!shared) shared = frame(peers_changed_text(whole, 0));
        push(l, shared);
    }
    if (!online.online.empty()) {
        const auto f = frame(delta_json(online));
        for (auto& [id, l] : nodes_) push(l, f);
    }
    send_patches(patch_of);
    record_presence(presence);
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

void Tailnet::record_presence(const std::map<std::int64_t, bool>& changes) {
    if (changes.empty()) return;
    if (!may_write(Clock::now())) {
        for (const auto& [id, on] : changes) unsaved_presence_.insert(id);
        return;
    }
    try {
        Db::Tx tx(db_);
        for (const auto& [id, on] : changes)
            if (const auto n = nodes_.find(id); n != nodes_.end()) store::set_node_online(db_, id, on, n->second.rec.last_seen);
        tx.commit();
    } catch (const DbError& e) {
        // Clients already heard; the file catches up in retry_unsaved.
        for (const auto& [id, on] : changes) unsaved_presence_.insert(id);
        note_db_failure(Clock::now(), e.what());
    }
}

bool Tailnet::admits_node_key(const std::string& node_key, TimePoint now) const {
    const auto it = by_node_key_.find(node_key);
    if (it == by_node_key_.end()) return false;
    const auto n = nodes_.find(it->second);
    return n != nodes_.end() && !n->second.rec.expired(now);
}

std::size_t Tailnet::online_count() const {
    return static_cast<std::size_t>(std::count_if(nodes_.begin(), nodes_.end(), [](const auto& kv) { return !kv.second.sinks.empty(); }));
}

void Tailnet::set_derp_map(json derp_map) {
    auto text = derp_map.dump();
    if (text == derp_map_json_) return;
    derp_map_json_ = std::move(text);
    const auto f = frame(delta_json({.derp_map = derp_map_json_}));
    for (auto& [id, l] : nodes_) push(l, f);
}

void Tailnet::collect_ephemeral(TimePoint now) {
    std::vector<std::int64_t> gone;
    for (auto& [id, l] : nodes_)
        if (l.rec.ephemeral && l.sinks.empty() && l.offline_since && now - *l.offline_since >= cfg_.ephemeral_inactivity_timeout)
            gone.push_back(id);
    for (auto id : gone) {
        spdlog::info("deleting ephemeral node {} after {} offline", id, cfg_.ephemeral_inactivity_timeout.count() / 1000);
        store::delete_node(db_, id);
        remove_node(id, now);
    }
}

void Tailnet::sync_from_db(TimePoint now) {
    on_owner_thread();
    const auto dv = db_.data_version();
    if (dv == data_version_) return;
    spdlog::debug("database changed (data_version {} -> {}); reading the change log past {}", data_version_, dv, change_seq_);
    data_version_ = dv;
    auto changes = store::changes_since(db_, change_seq_);
    if (changes.pruned) {
        spdlog::info("change log was pruned past what this server saw; reloading everything");
        load();
        for (auto& [id, l] : nodes_) broadcast_changed(l, now);
        return;
    }
    change_seq_ = changes.last_seq;
    auto& node_ids = changes.node_ids;
    const bool users_changed = changes.users, policy_changed = changes.policies;
    if (users_changed) {
        const auto before = profiles_json_;
        reload_users();
        if (before != profiles_json_) {
            const auto f = frame(delta_json({.user_profiles = profiles_json_}));
            for (auto& [id, l] : nodes_) push(l, f);
        }
    }
    std::sort(node_ids.begin(), node_ids.end());
    node_ids.erase(std::unique(node_ids.begin(), node_ids.end()), node_ids.end());
    for (const auto id : node_ids) {
        auto row = store::find_node(db_, id);
        const auto it = nodes_.find(id);
        if (!row) {
            if (it != nodes_.end()) {
                spdlog::info("node {} was deleted", id);
                remove_node(id, now);
            }
            continue;
        }
        if (it == nodes_.end()) {
            auto& l = add_node(std::move(*row));
            l.rec.online = false;
            refresh_and_announce(l, now);
            continue;
        }
        auto& l = it->second;
        row->online = l.rec.online;  // liveness is ours, not the file's
        row->last_seen = l.rec.last_seen;
        if (unsaved_reports_.count(id)) {
            // What the client reported while the file was busy is newer than the file.
            row->disco_key = l.rec.disco_key;
            row->endpoints = l.rec.endpoints;
            row->host_info = l.rec.host_info;
            row->hostname = l.rec.hostname;
        }
        const auto before = l.peer_json;
        unindex(l);  // an admin may have given it new addresses (nodes backfill-ips)
        l.rec = std::move(*row);
        index(l);
        if (!refresh(l, now) && l.peer_json != before) broadcast_changed(l, now);
    }
    if (policy_changed && cfg_.policy_mode == "database") load_stored_policy(false);
}

}  // namespace hs::control
