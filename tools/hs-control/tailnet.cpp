#include "tools/hs-control/tailnet.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/admin/audit.h"
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
    struct Kept {
        std::vector<MapSink*> sinks;
        std::optional<TimePoint> offline_since;
    };
    std::map<std::int64_t, Kept> keep;
    for (auto& [id, l] : nodes_) keep[id] = {l.sinks, l.offline_since};
    nodes_.clear();
    chunks_.clear();
    by_node_key_.clear();
    by_machine_key_.clear();
    pools_ = AddressPools(cfg_.prefix_v4, cfg_.prefix_v6);
    routers_.clear();
    const auto now = Clock::now();
    for (auto& n : store::list_nodes(db_)) {
        const auto kept = keep.find(n.id);
        const auto remote = n.online_slots & ~my_bit_;
        n.online = (kept != keep.end() && !kept->second.sinks.empty()) || remote != 0;
        auto& l = add_node(std::move(n), now, Tell::Nobody);
        l.remote_slots = remote;
        if (kept != keep.end()) l.sinks = kept->second.sinks;
        // A node offline when this instance starts has been inactive at least since then.
        if (!l.rec.online) l.offline_since = kept != keep.end() ? kept->second.offline_since : now;
    }
    if (cfg_.policy_mode == "database") load_stored_policy(true);
    // Streams of nodes that vanished while we were not looking end now.
    for (auto& [id, kept] : keep)
        if (!nodes_.count(id))
            for (auto* s : kept.sinks) s->end();
    publish(now);
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
    pending_.profiles = true;
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
    write_presence(now);
    tx.commit();
    spdlog::info("recorded {} client reports and {} presence changes that had waited for the database",
                 unsaved_reports_.size(), unsaved_presence_.size());
    unsaved_reports_.clear();
    unsaved_presence_.clear();
    last_db_failure_.reset();
    retry_at_.reset();
}

void Tailnet::note_db_failure(TimePoint now, const DbError& e) {
    ++db_failures_;
    last_db_failure_ = now;
    // A write refused during the pause (check_writable) does not extend it: writes that keep
    // coming, as a burst of registrations does, would otherwise hold it off for good.
    if (!may_write(now)) return;
    last_db_error_ = e.what();
    last_db_failure_busy_ = dynamic_cast<const DbBusy*>(&e) != nullptr;
    retry_at_ = now + std::chrono::seconds(1);
}

void Tailnet::check_writable(TimePoint now) const {
    if (may_write(now)) return;
    const auto what = "a database write failed a moment ago (" + last_db_error_ + "); not trying again yet";
    if (last_db_failure_busy_) throw DbBusy(what);
    throw DbError(what);
}

std::optional<std::string> Tailnet::db_write_problem(TimePoint now) const {
    if (!last_db_failure_ || now - *last_db_failure_ > std::chrono::minutes(1)) return std::nullopt;
    auto text = "database writes are failing: " + last_db_error_;
    if (const auto waiting = unsaved_reports_.size() + unsaved_presence_.size())
        text += " (" + std::to_string(waiting) + " changes kept in memory until it recovers)";
    return text;
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
            if (may_see(self, l)) peers.push_back(&l.peer_json);
    }
    auto out = full_map_json(
        self_json(self, now), peers, derp_map_json_, dns_json_, profiles_json_,
        self.view ? self.view->packet_filter.dump() : allow_all_filter_json(), settings_.base_domain, now, settings_,
        self.view && !self.view->ssh_policy.is_null() ? self.view->ssh_policy.dump() : "", health_json(self));
    stats_.map_build_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++stats_.map_builds;
    return out;
}

std::string Tailnet::health_json(const Live& l) const {
    if (!cfg_.device_approval) return {};
    if (l.rec.approved) return "[]";
    // The client lists it under "# Health check:" in `tailscale status --json` (.Health).
    return json::array({"this device waits for an administrator's approval before it can reach the tailnet "
                        "(hs-admin nodes approve " +
                        std::to_string(l.rec.id) + ")"})
        .dump();
}

FrameParts Tailnet::full_map_frame(Live& self, TimePoint now) {
    if (policy_) {
        // Every node sees its own set of peers: no pieces to share.
        FrameBuilder b;
        b.text(full_map(self, now));
        return b.finish_parts();
    }
    const auto t0 = std::chrono::steady_clock::now();
    FrameBuilder b;
    b.text(full_map_head(self_json(self, now), derp_map_json_, dns_json_, profiles_json_, allow_all_filter_json(),
                         settings_.base_domain));
    const auto own = PeerChunks::span_of(self.rec.id);
    bool opened = false;
    // A node waiting for approval gets no peers (the loop's end); the others none that wait.
    for (auto it = self.rec.approved ? nodes_.begin() : nodes_.end(); it != nodes_.end();) {
        const auto k = PeerChunks::span_of(it->first);
        const auto end = nodes_.lower_bound((k + 1) * PeerChunks::kSpan);
        if (k == own) {
            std::string mine;
            for (auto p = it; p != end; ++p)
                if (may_see(self, p->second)) append_peer(mine, opened, p->second.peer_json);
            b.text(mine);
        } else {
            b.shared(chunks_.get(k, !opened, [&](std::string& out, bool was_opened) {
                for (auto p = it; p != end; ++p)
                    if (p->second.rec.approved) append_peer(out, was_opened, p->second.peer_json);
            }));
            opened = true;
        }
        it = end;
    }
    if (opened) b.text("]");
    b.text(full_map_tail(now, settings_, health_json(self)));
    auto out = b.finish_parts();
    stats_.map_build_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++stats_.map_builds;
    return out;
}

FrameParts Tailnet::current_map(std::int64_t node_id, bool zstd, TimePoint now) {
    on_owner_thread();
    const auto it = nodes_.find(node_id);
    if (it == nodes_.end()) return {};
    return map_message(it->second, zstd, now);
}

FrameParts Tailnet::map_message(Live& self, bool zstd, TimePoint now) {
    auto parts = zstd ? full_map_frame(self, now)
                      : FrameParts{std::make_shared<const std::string>(frame_plain_message(full_map(self, now)))};
    ++stats_.map_messages;
    stats_.map_bytes += parts_size(parts);
    return parts;
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
    if (l.sinks.size() == 1) unsaved_presence_.insert(node_id);  // our bit, on the tick
    if (l.sinks.size() == 1 && !l.rec.online) {
        auto next = l.rec;
        next.online = true;
        next.last_seen = now;
        change(l, std::move(next), now, {.tell = Tell::Presence});
        publish(now);
    }
}

void Tailnet::detach(std::int64_t node_id, MapSink* sink, TimePoint now) {
    on_owner_thread();
    const auto it = nodes_.find(node_id);
    if (it == nodes_.end()) return;
    auto& l = it->second;
    l.sinks.erase(std::remove(l.sinks.begin(), l.sinks.end(), sink), l.sinks.end());
    // At exit nobody is told: the file is reset as hs-control stops.
    if (!l.sinks.empty() || stopping_) return;
    unsaved_presence_.insert(node_id);
    l.rec.last_seen = now;
    // Still online through another instance, or already offline.
    if (!l.rec.online || l.remote_slots) return;
    l.offline_since = now;
    auto next = l.rec;
    next.online = false;
    next.last_seen = now;
    change(l, std::move(next), now, {.tell = Tell::Presence});
    publish(now);
}

bool Tailnet::admits_node_key(const std::string& node_key, TimePoint now) const {
    const auto it = by_node_key_.find(node_key);
    if (it == by_node_key_.end()) return false;
    const auto n = nodes_.find(it->second);
    return n != nodes_.end() && !n->second.rec.expired(now);
}

std::size_t Tailnet::online_count() const {
    return static_cast<std::size_t>(
        std::count_if(nodes_.begin(), nodes_.end(), [](const auto& kv) { return !kv.second.sinks.empty(); }));
}

void Tailnet::set_derp_map(json derp_map) {
    on_owner_thread();
    auto text = derp_map.dump();
    if (text == derp_map_json_) return;
    derp_map_json_ = std::move(text);
    pending_.derp_map = true;
    publish(Clock::now());
}

void Tailnet::collect_ephemeral(TimePoint now) {
    on_owner_thread();
    if (!gc_duty_) return;
    std::vector<std::int64_t> gone;
    for (auto& [id, l] : nodes_)
        if (l.rec.ephemeral && !l.rec.online && l.offline_since &&
            now - *l.offline_since >= cfg_.ephemeral_inactivity_timeout)
            gone.push_back(id);
    for (auto id : gone) {
        // Our own bit may still wait in memory: the row must say offline before it goes.
        if (unsaved_presence_.count(id)) continue;
        if (!store::delete_node_if_offline(db_, id)) continue;  // back online through another instance
        spdlog::info("deleting ephemeral node {} after {} offline", id,
                     cfg_.ephemeral_inactivity_timeout.count() / 1000);
        const auto& rec = nodes_.at(id).rec;
        admin::audit_control_change(db_, now, "node.deleted", admin::node_object(rec), admin::node_summary(rec),
                                    nullptr, "ephemeral inactivity");
        remove_node(id, now, false);
    }
    publish(now);
}

void Tailnet::sync_from_db(TimePoint now) {
    on_owner_thread();
    const auto dv = db_.data_version();
    if (dv == data_version_) return;
    spdlog::debug("database changed (data_version {} -> {}); reading the change log past {}", data_version_, dv,
                  change_seq_);
    data_version_ = dv;
    catch_up(now);
}

void Tailnet::catch_up(TimePoint now) {
    on_owner_thread();
    auto changes = store::changes_since(db_, change_seq_);
    if (changes.pruned) {
        spdlog::info("change log was pruned past what this server saw; reloading everything");
        load();
        for (auto& [id, l] : nodes_) change(l, l.rec, now, {});
        publish(now);
        return;
    }
    change_seq_ = changes.last_seq;
    auto& node_ids = changes.node_ids;
    if (changes.users) {
        const auto before = profiles_json_;
        reload_users();
        pending_.profiles |= before != profiles_json_;
    }
    std::sort(node_ids.begin(), node_ids.end());
    node_ids.erase(std::unique(node_ids.begin(), node_ids.end()), node_ids.end());
    for (const auto id : node_ids) sync_node(id, now);
    if (changes.policies && cfg_.policy_mode == "database") load_stored_policy(false);
    publish(now);
}

int preferred_derp(const json& host_info) {
    const auto ni = host_info.find("NetInfo");
    if (ni == host_info.end() || !ni->is_object()) return 0;
    const auto d = ni->find("PreferredDERP");
    return d != ni->end() && d->is_number_integer() ? d->get<int>() : 0;
}

std::optional<json> Tailnet::report_patch(const Node& was, const Node& now) {
    auto rest = now;
    rest.disco_key = was.disco_key;
    rest.endpoints = was.endpoints;
    rest.updated_at = was.updated_at;
    rest.host_info.erase("NetInfo");
    if (const auto ni = was.host_info.find("NetInfo"); ni != was.host_info.end()) rest.host_info["NetInfo"] = *ni;
    if (!(rest == was)) return std::nullopt;
    json patch = {{"NodeID", now.id}};
    if (now.disco_key != was.disco_key) patch["DiscoKey"] = now.disco_key;
    if (now.endpoints != was.endpoints) patch["Endpoints"] = now.endpoints;
    if (preferred_derp(now.host_info) != preferred_derp(was.host_info))
        patch["DERPRegion"] = preferred_derp(now.host_info);
    return patch;
}

void Tailnet::sync_node(std::int64_t id, TimePoint now) {
    auto row = store::find_node(db_, id);
    const auto it = nodes_.find(id);
    if (!row) {
        if (it != nodes_.end()) {
            spdlog::info("node {} was deleted", id);
            remove_node(id, now, false);
        }
        return;
    }
    const auto remote = row->online_slots & ~my_bit_;
    if (it == nodes_.end()) {
        row->online = remote != 0;
        auto& l = add_node(std::move(*row), now, Tell::Everyone);
        l.remote_slots = remote;
        if (!l.rec.online) l.offline_since = now;
        return;
    }
    auto& l = it->second;
    // Online anywhere: our own streams, or another instance's bit.
    l.remote_slots = remote;
    row->online = !l.sinks.empty() || remote != 0;
    if (l.rec.last_seen && (!row->last_seen || *row->last_seen < *l.rec.last_seen)) row->last_seen = l.rec.last_seen;
    if (row->online != l.rec.online) {
        if (row->online) l.offline_since.reset();
        else l.offline_since = now;
    }
    if (unsaved_reports_.count(id)) {
        // What the client reported while the file was busy is newer than the file.
        row->disco_key = l.rec.disco_key;
        row->endpoints = l.rec.endpoints;
        row->host_info = l.rec.host_info;
        row->hostname = l.rec.hostname;
    }
    const bool primaries_moved = row->primary_routes != l.rec.primary_routes;
    // Only presence moved (another instance's client came or went): OnlineChange, not the node.
    auto same = *row;
    same.online = l.rec.online;
    same.online_slots = l.rec.online_slots;
    same.last_seen = l.rec.last_seen;
    const bool presence_only = same == l.rec;
    const bool flipped = row->online != l.rec.online;
    // What another instance's client reported (endpoints, disco key, home DERP): a patch, as the
    // instance it streams to sends it.
    auto patch = flipped ? std::nullopt : report_patch(l.rec, same);
    How how{.tell = presence_only ? (flipped ? Tell::Presence : Tell::Nobody) : Tell::IfVisible};
    if (!presence_only && patch) how = {.tell = Tell::Patch, .patch = std::move(*patch)};
    // An admin may have given it new addresses (nodes backfill-ips): change() indexes them.
    change(l, std::move(*row), now, how);
    // The elector moved a route: an instance that does not elect serves what it recorded.
    if (primaries_moved && !route_duty_) reroute(now);
}

}  // namespace hs::control
