#include "common/derp/server.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/base/prometheus.h"

namespace hs::derp {
namespace {

std::size_t data_len(const Bytes& recv_frame) { return recv_frame.size() - kHeaderLen - kKeyLen; }

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

const char* drop_reason_name(DropReason r) {
    switch (r) {
        case DropReason::UnknownDest: return "unknown_dest";
        case DropReason::UnknownDestOnForward: return "unknown_dest_on_fwd";
        case DropReason::GoneDisconnected: return "gone_disconnected";
        case DropReason::QueueHead: return "queue_head";
        case DropReason::WriteError: return "write_error";
    }
    return "unknown";
}

struct DerpServer::Counters {
    using C = std::atomic<std::uint64_t>;
    C accepts{0}, dup_accepts{0}, refused{0};
    C packets_received{0}, bytes_received{0}, disco_received{0};
    C packets_relayed{0}, bytes_relayed{0};
    C forwarded_in{0}, forwarded_out{0};
    std::array<C, kDropReasons> packets_dropped{}, bytes_dropped{};
    C pings{0}, pongs_received{0};
    C peer_gone_disconnected{0}, peer_gone_not_here{0};
};

// --- Client ------------------------------------------------------------------------------------

DerpServer::Client::Client(DerpServer& server, std::uint64_t id, const ClientHello& hello, const ConnMeta& meta,
                           bool mesh, ConnHooks hooks)
    : server_(server), id_(id), key_(hello.key), info_(hello.info), meta_(meta), mesh_(mesh), hooks_(std::move(hooks)) {
}

void DerpServer::Client::wake_if(bool need) {
    if (need && hooks_.wake) hooks_.wake();
}

void DerpServer::Client::push_notice(Bytes frame) {
    bool need = false;
    {
        std::lock_guard lk(mu_);
        if (closed_) return;
        notices_.push_back(std::move(frame));
        need = !std::exchange(wake_pending_, true);
    }
    wake_if(need);
}

bool DerpServer::Client::push_packet(const PublicKey& src, Bytes&& frame, bool disco) {
    bool need = false;
    {
        std::lock_guard lk(mu_);
        if (closed_) return false;
        auto& q = disco ? disco_q_ : data_q_;
        // Dropping the oldest keeps latency bounded: a stale packet is worth less than a new one.
        while (q.size() >= server_.opts_.queue_depth && !q.empty()) {
            server_.count_drop(DropReason::QueueHead, data_len(q.front().frame));
            q.pop_front();
        }
        q.push_back(Packet{src, std::move(frame)});
        need = !std::exchange(wake_pending_, true);
    }
    wake_if(need);
    return true;
}

std::size_t DerpServer::Client::drain(std::vector<Bytes>& out) {
    const std::size_t before = out.size();
    std::vector<PublicKey> new_senders;
    {
        std::lock_guard lk(mu_);
        wake_pending_ = false;
        for (auto& n : notices_) out.push_back(std::move(n));
        notices_.clear();
        if (pong_) out.push_back(encode_pong(*pong_));
        pong_.reset();
        for (auto* q : {&disco_q_, &data_q_}) {
            for (auto& p : *q) {
                if (senders_seen_.insert(p.src).second) new_senders.push_back(p.src);
                out.push_back(std::move(p.frame));
            }
            q->clear();
        }
    }
    if (!new_senders.empty()) server_.note_senders(*this, new_senders);
    return out.size() - before;
}

void DerpServer::Client::note_write_error(std::size_t frames_lost, std::size_t bytes_lost) {
    auto& n = *server_.n_;
    n.packets_dropped[static_cast<std::size_t>(DropReason::WriteError)] += frames_lost;
    n.bytes_dropped[static_cast<std::size_t>(DropReason::WriteError)] += bytes_lost;
}

bool DerpServer::Client::allow_not_here() {
    const std::int64_t now = now_ns();
    not_here_tokens_ = std::min(3.0, not_here_tokens_ + static_cast<double>(now - not_here_last_ns_) / 1e9);
    not_here_last_ns_ = now;
    if (not_here_tokens_ < 1) return false;
    not_here_tokens_ -= 1;
    return true;
}

// --- DerpServer --------------------------------------------------------------------------------

DerpServer::DerpServer(Options opts)
    : opts_(std::move(opts)), public_key_(opts_.private_key.public_key()), n_(std::make_unique<Counters>()) {
    if (opts_.queue_depth == 0) opts_.queue_depth = 1;
}

DerpServer::~DerpServer() = default;

void DerpServer::count_drop(DropReason r, std::size_t bytes) {
    n_->packets_dropped[static_cast<std::size_t>(r)] += 1;
    n_->bytes_dropped[static_cast<std::size_t>(r)] += bytes;
}

std::uint8_t DerpServer::present_flags(const Client& c) const {
    std::uint8_t f = 0;
    if (c.mesh_) f |= kPresentMeshPeer;
    if (c.info_.is_prober) f |= kPresentProber;
    if (c.meta_.not_ideal) f |= kPresentNotIdeal;
    return f ? f : kPresentRegular;
}

void DerpServer::broadcast_locked(const Bytes& frame) {
    for (auto& w : watchers_) w->push_notice(frame);
}

bool DerpServer::holds_mesh_key(const ClientInfo& info) const {
    // Constant-time: a mesh key that leaks lets anyone list and kick clients.
    return opts_.mesh_key && info.mesh_key &&
           sodium_memcmp(opts_.mesh_key->data(), info.mesh_key->data(), kKeyLen) == 0;
}

void DerpServer::note_refused() { n_->refused += 1; }

std::shared_ptr<DerpServer::Client> DerpServer::register_client(const ClientHello& hello, const ConnMeta& meta,
                                                                ConnHooks hooks) {
    const bool mesh = holds_mesh_key(hello.info);
    if (!mesh && opts_.admit && !opts_.admit(hello.key)) {
        n_->refused += 1;
        return nullptr;
    }
    std::lock_guard lk(mu_);
    auto c = std::make_shared<Client>(*this, next_id_++, hello, meta, mesh, std::move(hooks));
    auto& e = clients_[hello.key];
    e.conns.push_back(c);
    if (e.conns.size() > 1) {
        n_->dup_accepts += 1;
        for (auto& other : e.conns) other->dup_ = true;
    }
    // The newest connection gets the packets; an older one wins them back by sending.
    e.active = c;
    n_->accepts += 1;
    broadcast_locked(encode_peer_present(c->key_, meta.ip, meta.port, present_flags(*c)));
    return c;
}

void DerpServer::unregister_client(const std::shared_ptr<Client>& c) {
    std::vector<Client::Packet> lost;
    std::vector<PublicKey> senders;
    {
        std::lock_guard qlk(c->mu_);
        if (c->closed_) return;
        c->closed_ = true;
        senders.assign(c->senders_seen_.begin(), c->senders_seen_.end());
        for (auto* q : {&c->disco_q_, &c->data_q_})
            for (auto& p : *q) lost.push_back(std::move(p));
        c->data_q_.clear();
        c->disco_q_.clear();
        c->notices_.clear();
    }
    for (auto& p : lost) count_drop(DropReason::GoneDisconnected, data_len(p.frame));

    std::lock_guard lk(mu_);
    std::erase(watchers_, c);
    for (const auto& src : senders) {
        auto gw = gone_watchers_.find(src);
        if (gw == gone_watchers_.end()) continue;
        gw->second.erase(c->id_);
        if (gw->second.empty()) gone_watchers_.erase(gw);
    }
    auto it = clients_.find(c->key_);
    if (it == clients_.end()) return;
    auto& e = it->second;
    std::erase(e.conns, c);
    if (!e.conns.empty()) {
        if (e.active == c) e.active = e.conns.back();
        if (e.conns.size() == 1) e.conns.front()->dup_ = false;
        return;
    }
    clients_.erase(it);
    broadcast_locked(encode_peer_gone(c->key_, PeerGoneReason::Disconnected));
    // Peers reachable through a mesh peer have not left the region.
    if (!mesh_routes_.count(c->key_)) note_gone_from_region_locked(c->key_);
}

void DerpServer::note_gone_from_region_locked(const PublicKey& key) {
    auto gw = gone_watchers_.find(key);
    if (gw == gone_watchers_.end()) return;
    const Bytes gone = encode_peer_gone(key, PeerGoneReason::Disconnected);
    for (auto& [id, weak] : gw->second) {
        if (auto r = weak.lock()) {
            r->push_notice(gone);
            n_->peer_gone_disconnected += 1;
        }
    }
    gone_watchers_.erase(gw);
}

void DerpServer::note_senders(Client& receiver, const std::vector<PublicKey>& srcs) {
    std::lock_guard lk(mu_);
    for (const auto& s : srcs) gone_watchers_[s][receiver.id_] = receiver.weak_from_this();
}

void DerpServer::note_activity(const std::shared_ptr<Client>& c) {
    if (!c->dup_) return;
    std::lock_guard lk(mu_);
    auto it = clients_.find(c->key_);
    if (it != clients_.end() &&
        std::find(it->second.conns.begin(), it->second.conns.end(), c) != it->second.conns.end())
        it->second.active = c;
}

void DerpServer::route(const std::shared_ptr<Client>& sender, const PublicKey& src, const PublicKey& dst, Frame&& f,
                       bool forwarded) {
    const ByteView data = f.payload().subspan(kKeyLen);
    const bool disco = looks_like_disco(data);
    std::shared_ptr<Client> target;
    std::shared_ptr<Forwarder> via;
    {
        std::lock_guard lk(mu_);
        auto it = clients_.find(dst);
        if (it != clients_.end()) {
            target = it->second.active;
        } else if (!forwarded) {
            // A forwarded packet is delivered here or nowhere: one hop inside a region.
            auto m = mesh_routes_.find(dst);
            if (m != mesh_routes_.end()) via = m->second.front();
        }
    }
    const std::size_t n = data.size();
    if (target) {
        if (target->push_packet(src, std::move(f.bytes), disco)) {
            n_->packets_relayed += 1;
            n_->bytes_relayed += n;
        } else {
            count_drop(DropReason::GoneDisconnected, n);
        }
        return;
    }
    if (via) {
        via->forward(src, dst, data);
        n_->forwarded_out += 1;
        return;
    }
    count_drop(forwarded ? DropReason::UnknownDestOnForward : DropReason::UnknownDest, n);
    // Disco is how the sender probes paths; telling it the peer is not here lets it stop.
    if (disco && sender->allow_not_here()) {
        sender->push_notice(encode_peer_gone(dst, PeerGoneReason::NotHere));
        n_->peer_gone_not_here += 1;
    }
}

void DerpServer::handle_frame(const std::shared_ptr<Client>& c, Frame&& f) {
    note_activity(c);
    const ByteView p = f.payload();
    auto need_mesh = [&](const char* what) {
        if (!c->mesh_) throw FrameError(std::string(what) + " from a client without the mesh key");
    };
    switch (f.type()) {
        case FrameType::NotePreferred:
            if (p.size() != 1) throw FrameError("NotePreferred: length " + std::to_string(p.size()));
            c->preferred_ = p[0] != 0;
            return;
        case FrameType::SendPacket: {
            if (p.size() < kKeyLen) throw FrameError("SendPacket: shorter than a key");
            if (p.size() - kKeyLen > kMaxPacketSize) throw FrameError("SendPacket: packet over 64 KiB");
            const PublicKey dst = key_at(p);
            n_->packets_received += 1;
            n_->bytes_received += p.size() - kKeyLen;
            if (looks_like_disco(p.subspan(kKeyLen))) n_->disco_received += 1;
            // SendPacket and RecvPacket have the same size: rewrite type and key in place.
            f.bytes[0] = static_cast<std::uint8_t>(FrameType::RecvPacket);
            std::copy(c->key_.bytes.begin(), c->key_.bytes.end(), f.bytes.begin() + kHeaderLen);
            route(c, c->key_, dst, std::move(f), false);
            return;
        }
        case FrameType::ForwardPacket: {
            need_mesh("ForwardPacket");
            if (p.size() < 2 * kKeyLen) throw FrameError("ForwardPacket: shorter than two keys");
            if (p.size() - 2 * kKeyLen > kMaxPacketSize) throw FrameError("ForwardPacket: packet over 64 KiB");
            const PublicKey src = key_at(p), dst = key_at(p.subspan(kKeyLen));
            n_->forwarded_in += 1;
            Frame recv{encode_recv_packet(src, p.subspan(2 * kKeyLen))};
            route(c, src, dst, std::move(recv), true);
            return;
        }
        case FrameType::WatchConns: {
            need_mesh("WatchConns");
            if (!p.empty()) throw FrameError("WatchConns: non-empty");
            std::lock_guard lk(mu_);
            if (std::find(watchers_.begin(), watchers_.end(), c) == watchers_.end()) watchers_.push_back(c);
            for (auto& [key, e] : clients_) {
                if (e.active == c) continue;
                const auto& a = *e.active;
                c->push_notice(encode_peer_present(a.key_, a.meta_.ip, a.meta_.port, present_flags(a)));
            }
            return;
        }
        case FrameType::ClosePeer: {
            need_mesh("ClosePeer");
            if (p.size() != kKeyLen) throw FrameError("ClosePeer: length " + std::to_string(p.size()));
            const PublicKey target = key_at(p);
            std::vector<std::shared_ptr<Client>> conns;
            {
                std::lock_guard lk(mu_);
                auto it = clients_.find(target);
                if (it != clients_.end()) conns = it->second.conns;
            }
            for (auto& t : conns)
                if (t->hooks_.close) t->hooks_.close();
            return;
        }
        case FrameType::Ping: {
            if (p.size() < kPingLen || p.size() > kMaxPingLen)
                throw FrameError("Ping: length " + std::to_string(p.size()));
            n_->pings += 1;
            bool need = false;
            {
                std::lock_guard lk(c->mu_);
                // One pong in flight is enough; a client that floods pings gets no more.
                if (!c->pong_ && !c->closed_) {
                    c->pong_.emplace();
                    std::copy_n(p.begin(), kPingLen, c->pong_->begin());
                    need = !std::exchange(c->wake_pending_, true);
                }
            }
            c->wake_if(need);
            return;
        }
        case FrameType::Pong: n_->pongs_received += 1; return;
        default: return;  // unknown or server-to-client types: skipped, as the protocol asks
    }
}

std::size_t DerpServer::close_where_not(const std::function<bool(const PublicKey&)>& keep) {
    std::vector<std::shared_ptr<Client>> victims;
    {
        std::lock_guard lk(mu_);
        for (auto& [key, e] : clients_) {
            if (keep(key)) continue;
            for (auto& c : e.conns)
                if (!c->mesh_) victims.push_back(c);
        }
    }
    for (auto& c : victims)
        if (c->hooks_.close) c->hooks_.close();
    return victims.size();
}

void DerpServer::add_mesh_route(const PublicKey& key, std::shared_ptr<Forwarder> via) {
    std::lock_guard lk(mu_);
    auto& routes = mesh_routes_[key];
    if (std::find(routes.begin(), routes.end(), via) == routes.end()) routes.push_back(std::move(via));
}

void DerpServer::remove_mesh_route(const PublicKey& key, const Forwarder* via) {
    std::lock_guard lk(mu_);
    auto it = mesh_routes_.find(key);
    if (it == mesh_routes_.end()) return;
    auto& routes = it->second;
    const auto r = std::find_if(routes.begin(), routes.end(), [via](const auto& f) { return f.get() == via; });
    if (r == routes.end()) return;  // a late or repeated PeerGone: harmless
    routes.erase(r);
    if (!routes.empty()) return;
    mesh_routes_.erase(it);
    // Connected here after all: it has not left the region (its own unregister will tell).
    if (!clients_.count(key)) note_gone_from_region_locked(key);
}

std::size_t DerpServer::mesh_routes_of(const PublicKey& key) const {
    std::lock_guard lk(mu_);
    auto it = mesh_routes_.find(key);
    return it == mesh_routes_.end() ? 0 : it->second.size();
}

std::size_t DerpServer::connections_of(const PublicKey& key) const {
    std::lock_guard lk(mu_);
    auto it = clients_.find(key);
    return it == clients_.end() ? 0 : it->second.conns.size();
}

Stats DerpServer::stats() const {
    Stats s;
    {
        std::lock_guard lk(mu_);
        for (const auto& [key, e] : clients_) {
            s.current_connections += e.conns.size();
            if (e.conns.size() > 1) s.current_dup_keys += 1;
            for (const auto& c : e.conns) {
                if (c->preferred()) s.current_home_connections += 1;
                if (c->meta_.not_ideal) s.current_not_ideal += 1;
                if (c->mesh_) s.current_mesh_peers += 1;
            }
        }
        s.current_watchers = watchers_.size();
    }
    const auto& n = *n_;
    s.accepts = n.accepts;
    s.dup_accepts = n.dup_accepts;
    s.refused = n.refused;
    s.packets_received = n.packets_received;
    s.bytes_received = n.bytes_received;
    s.disco_received = n.disco_received;
    s.packets_relayed = n.packets_relayed;
    s.bytes_relayed = n.bytes_relayed;
    s.packets_forwarded_in = n.forwarded_in;
    s.packets_forwarded_out = n.forwarded_out;
    for (std::size_t i = 0; i < kDropReasons; ++i) {
        s.packets_dropped[i] = n.packets_dropped[i];
        s.bytes_dropped[i] = n.bytes_dropped[i];
    }
    s.pings = n.pings;
    s.pongs_received = n.pongs_received;
    s.peer_gone_disconnected = n.peer_gone_disconnected;
    s.peer_gone_not_here = n.peer_gone_not_here;
    return s;
}

std::string prometheus_text(const Stats& s) {
    prometheus::Writer w;
    w.gauge("derp_current_connections", "Connected DERP clients, mesh peers included.", s.current_connections);
    w.gauge("derp_current_home_connections", "Clients that chose this server as home.", s.current_home_connections);
    w.gauge("derp_current_not_ideal_connections", "Clients not on their region's first node.", s.current_not_ideal);
    w.gauge("derp_current_mesh_peers", "Connections holding the mesh key.", s.current_mesh_peers);
    w.gauge("derp_current_watchers", "Mesh peers watching connections.", s.current_watchers);
    w.gauge("derp_current_dup_client_keys", "Keys connected more than once.", s.current_dup_keys);
    w.counter("derp_accepts_total", "Connections admitted.", s.accepts);
    w.counter("derp_dup_client_accepts_total", "Admitted connections for a key already connected.", s.dup_accepts);
    w.counter("derp_refused_total", "Connections refused by client verification.", s.refused);
    w.counter("derp_packets_received_total", "Packets clients sent to the relay.", s.packets_received);
    w.counter("derp_bytes_received_total", "Packet bytes clients sent to the relay.", s.bytes_received);
    w.counter("derp_disco_packets_received_total", "Disco packets among them.", s.disco_received);
    w.counter("derp_packets_relayed_total", "Packets queued for a local client.", s.packets_relayed);
    w.counter("derp_bytes_relayed_total", "Packet bytes queued for a local client.", s.bytes_relayed);
    w.counter("derp_packets_forwarded_in_total", "Packets mesh peers forwarded here.", s.packets_forwarded_in);
    w.counter("derp_packets_forwarded_out_total", "Packets forwarded to mesh peers.", s.packets_forwarded_out);
    w.counter("derp_pings_total", "Ping frames received.", s.pings);
    w.counter("derp_pongs_received_total", "Pong frames received.", s.pongs_received);
    w.counter("derp_peer_gone_disconnected_total", "PeerGone(Disconnected) frames queued.", s.peer_gone_disconnected);
    w.counter("derp_peer_gone_not_here_total", "PeerGone(NotHere) frames queued.", s.peer_gone_not_here);
    for (const char* what : {"packets", "bytes"}) {
        const std::string name = std::string("derp_") + what + "_dropped_total";
        w.family(name, "counter", std::string("Dropped ") + what + " by reason.");
        const auto& v = std::string(what) == "packets" ? s.packets_dropped : s.bytes_dropped;
        for (std::size_t i = 0; i < kDropReasons; ++i)
            w.sample(name, v[i], {{"reason", drop_reason_name(static_cast<DropReason>(i))}});
    }
    return w.take();
}

std::string fast_start_metric(std::uint64_t upgrades) {
    prometheus::Writer w;
    w.counter("derp_fast_start_total", "DERP upgrades with Derp-Fast-Start (no 101 written).", upgrades);
    return w.take();
}

}  // namespace hs::derp
