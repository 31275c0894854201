// The DERP relay without transport: who is connected under which node key, where a packet goes,
// what each connection has to write next, and the counters. Connections (derp/net/conn.h) feed it
// the frames they read and drain the frames it queues for them; the same object serves
// hs-derper and the DERP embedded in hs-control.
//
// Thread safety: every member may be called from any thread. Per connection, handle_frame is
// called by one reader at a time and drain by one writer at a time.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/derp/frame.h"

namespace hs::derp {

struct KeyHash {
    std::size_t operator()(const PublicKey& k) const noexcept {
        std::size_t h;
        std::memcpy(&h, k.bytes.data(), sizeof h);  // keys are uniformly random
        return h;
    }
};

enum class DropReason : std::uint8_t {
    UnknownDest,           // no connection and no mesh route for the destination
    UnknownDestOnForward,  // a mesh peer forwarded to a key that is not here
    GoneDisconnected,      // the destination left with the packet still queued
    QueueHead,             // the destination's queue was full: its oldest packet made room
    WriteError,            // the destination's connection failed while writing
};
inline constexpr std::size_t kDropReasons = 5;
const char* drop_reason_name(DropReason r);

struct Stats {
    std::uint64_t current_connections = 0;
    std::uint64_t current_home_connections = 0;  // clients that said "this is my home DERP"
    std::uint64_t current_not_ideal = 0;
    std::uint64_t current_mesh_peers = 0;
    std::uint64_t current_watchers = 0;
    std::uint64_t current_dup_keys = 0;
    std::uint64_t accepts = 0;      // connections registered
    std::uint64_t dup_accepts = 0;  // of which for a key already connected
    std::uint64_t refused = 0;      // turned away by the admission hook
    std::uint64_t packets_received = 0, bytes_received = 0, disco_received = 0;
    std::uint64_t packets_relayed = 0, bytes_relayed = 0;  // queued for a local connection
    std::uint64_t packets_forwarded_in = 0, packets_forwarded_out = 0;
    std::array<std::uint64_t, kDropReasons> packets_dropped{}, bytes_dropped{};
    std::uint64_t pings = 0, pongs_received = 0;
    std::uint64_t peer_gone_disconnected = 0, peer_gone_not_here = 0;
};

// Prometheus text exposition (metric names start with "derp_").
std::string prometheus_text(const Stats& s);
// derp_fast_start_total: upgrades that came with Derp-Fast-Start (the client had our key from
// the TLS meta certificate, so no 101 was written). Counted by the HTTP layer, not the relay.
std::string fast_start_metric(std::uint64_t upgrades);

// What the relay needs from the transport of one connection. Both may be called from any
// thread, sometimes with the relay's locks held: they must only schedule work (post to the
// connection's executor), never call back into DerpServer directly.
struct ConnHooks {
    std::function<void()> wake;   // drain() has frames to write
    std::function<void()> close;  // end the connection (a mesh peer sent ClosePeer)
};

// Where the connection comes from, for PeerPresent and logs.
struct ConnMeta {
    IpAddr ip;
    std::uint16_t port = 0;
    bool not_ideal = false;  // the client sent Ideal-Node: it is not on the region's first node
};

// Carries packets to another derper of the region (an outbound mesh link announced the key).
class Forwarder {
public:
    virtual ~Forwarder() = default;
    // Must not block; it owns its own queue and drop policy.
    virtual void forward(const PublicKey& src, const PublicKey& dst, ByteView data) = 0;
};

class DerpServer {
public:
    struct Options {
        PrivateKey private_key;
        // Peers presenting this key in ClientInfo are mesh peers: admitted without the hook,
        // allowed WatchConns, ForwardPacket and ClosePeer.
        std::optional<Key32> mesh_key;
        // Packets per destination queue (data and disco each); the oldest is dropped when full.
        std::size_t queue_depth = 32;
        // Whether a node key may connect; unset admits everyone. Called from connection
        // threads during the handshake: must be thread-safe and quick.
        std::function<bool(const PublicKey&)> admit;
    };

    class Client;

    explicit DerpServer(Options opts);
    ~DerpServer();
    DerpServer(const DerpServer&) = delete;
    DerpServer& operator=(const DerpServer&) = delete;

    const PrivateKey& private_key() const { return opts_.private_key; }
    const PublicKey& public_key() const { return public_key_; }

    // Admits a connection whose ClientInfo opened: checks the mesh key, then the admission
    // hook. Returns nullptr when refused (counted); the caller closes without ServerInfo.
    // Otherwise the connection is reachable at once: packets may be queued before the
    // transport writes ServerInfo, so it must write ServerInfo before its first drain().
    std::shared_ptr<Client> register_client(const ClientHello& hello, const ConnMeta& meta, ConnHooks hooks);
    // True when `info` carries this server's mesh key (compared in constant time).
    bool holds_mesh_key(const ClientInfo& info) const;
    // Counts a connection the transport refused itself (an admission webhook said no).
    void note_refused();
    // Ends a registration (idempotent). Packets still queued are dropped. When it was the
    // key's last connection, watchers and every connection that received packets from the
    // key get PeerGone(Disconnected).
    void unregister_client(const std::shared_ptr<Client>& c);
    // Acts on one frame the client sent. Throws FrameError on a protocol violation; the caller
    // then closes the connection (and unregisters it).
    void handle_frame(const std::shared_ptr<Client>& c, Frame&& f);

    // Closes (through ConnHooks::close) every non-mesh connection whose key `keep` rejects,
    // e.g. after the set of admitted keys changed. Returns how many were closed.
    std::size_t close_where_not(const std::function<bool(const PublicKey&)>& keep);

    // Routes learned from mesh peers: packets for `key` with no local connection go there.
    // A key announced by several peers (a client between two nodes of the region) keeps every
    // route; packets take the oldest one still present, as derper's multiForwarder does.
    // Adding a route `via` already has is a no-op.
    void add_mesh_route(const PublicKey& key, std::shared_ptr<Forwarder> via);
    // Withdraws `via`'s route to `key` (no-op when it has none). When it was the key's last
    // route and the key has no local connection either, the key has left the region: every
    // connection that received packets from it gets PeerGone(Disconnected), as in derper.
    void remove_mesh_route(const PublicKey& key, const Forwarder* via);
    // How many mesh routes `key` has right now.
    std::size_t mesh_routes_of(const PublicKey& key) const;

    // How many connections `key` has right now.
    std::size_t connections_of(const PublicKey& key) const;
    Stats stats() const;

private:
    struct Entry {
        std::vector<std::shared_ptr<Client>> conns;  // oldest first
        std::shared_ptr<Client> active;              // the one packets go to
    };
    struct Counters;

    void route(const std::shared_ptr<Client>& sender, const PublicKey& src, const PublicKey& dst, Frame&& f,
               bool forwarded);
    void note_activity(const std::shared_ptr<Client>& c);
    void broadcast_locked(const Bytes& frame);
    // The key has neither a local connection nor a mesh route: tells whoever wants to know.
    void note_gone_from_region_locked(const PublicKey& key);
    void note_senders(Client& receiver, const std::vector<PublicKey>& srcs);
    void count_drop(DropReason r, std::size_t bytes);
    std::uint8_t present_flags(const Client& c) const;

    friend class Client;

    Options opts_;
    PublicKey public_key_;
    std::unique_ptr<Counters> n_;

    mutable std::mutex mu_;  // guards everything below; taken before any Client::mu_
    std::unordered_map<PublicKey, Entry, KeyHash> clients_;
    std::vector<std::shared_ptr<Client>> watchers_;
    // Oldest first: the front one carries the packets.
    std::unordered_map<PublicKey, std::vector<std::shared_ptr<Forwarder>>, KeyHash> mesh_routes_;
    // source key -> connections (by id) that received packets from it and want its PeerGone.
    std::unordered_map<PublicKey, std::unordered_map<std::uint64_t, std::weak_ptr<Client>>, KeyHash> gone_watchers_;
    std::uint64_t next_id_ = 1;
};

// One registered connection as the relay sees it.
class DerpServer::Client : public std::enable_shared_from_this<Client> {
public:
    Client(DerpServer& server, std::uint64_t id, const ClientHello& hello, const ConnMeta& meta, bool mesh,
           ConnHooks hooks);

    std::uint64_t id() const { return id_; }
    const PublicKey& key() const { return key_; }
    const ClientInfo& info() const { return info_; }
    const ConnMeta& meta() const { return meta_; }
    bool is_mesh() const { return mesh_; }
    bool preferred() const { return preferred_.load(); }

    // Moves every frame ready to write into `out`, in the order to write them (notices, pong,
    // disco, data), and returns how many. Never blocks. KeepAlive is the transport's job.
    std::size_t drain(std::vector<Bytes>& out);
    // The transport failed to write `frames_lost` drained frames; they count as drops.
    void note_write_error(std::size_t frames_lost, std::size_t bytes_lost);

private:
    friend class DerpServer;
    struct Packet {
        PublicKey src;
        Bytes frame;
    };

    // Queue a notice (PeerGone, PeerPresent); never dropped, rarely more than a few.
    void push_notice(Bytes frame);
    // Queue a RecvPacket frame; drops the oldest when full. Returns false if closed.
    bool push_packet(const PublicKey& src, Bytes&& frame, bool disco);
    // Once per second with a burst of 3, so a confused sender gets a few answers, not a flood.
    bool allow_not_here();
    void wake_if(bool need);

    DerpServer& server_;
    const std::uint64_t id_;
    const PublicKey key_;
    const ClientInfo info_;
    const ConnMeta meta_;
    const bool mesh_;
    ConnHooks hooks_;
    std::atomic<bool> preferred_{false};
    std::atomic<bool> dup_{false};  // another connection shares the key

    std::mutex mu_;  // guards the queues
    std::deque<Packet> data_q_, disco_q_;
    std::vector<Bytes> notices_;
    std::optional<std::array<std::uint8_t, kPingLen>> pong_;
    bool wake_pending_ = false;
    bool closed_ = false;

    std::unordered_set<PublicKey, KeyHash> senders_seen_;  // whose PeerGone this connection wants
    double not_here_tokens_ = 3;                           // reader only
    std::int64_t not_here_last_ns_ = 0;
};

}  // namespace hs::derp
