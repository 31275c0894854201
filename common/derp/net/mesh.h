// The mesh of a region (hs-derper --mesh-with, hs-control derp.server.mesh_with): links to the
// other DERP servers of the region, wire-compatible with Tailscale's derper mesh. Each link dials one peer as a DERP client whose key is our server key and whose
// ClientInfo carries the mesh key, sends WatchConns, and turns the PeerPresent/PeerGone stream
// into routes in our DerpServer; packets for those keys leave as ForwardPacket on the link.
// The peer dials us the same way, so traffic in both directions needs both sides configured.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/derp/net/client.h"

namespace hs::derp {

class MeshLink final : public Forwarder, public std::enable_shared_from_this<MeshLink> {
public:
    MeshLink(net::any_io_executor ex, DerpServer& server, DialTarget target, Key32 mesh_key);

    // Starts the reconnect loop on the link's executor; it runs until stop().
    void start();
    void stop();
    // Queues a ForwardPacket; never blocks. Drops the oldest queued packet when full, and the
    // packet itself when the link is down (routes through a broken link are withdrawn).
    void forward(const PublicKey& src, const PublicKey& dst, ByteView data) override;

    const DialTarget& target() const { return target_; }
    bool connected() const { return connected_.load(); }
    std::size_t routes() const;
    std::uint64_t connects() const { return connects_.load(); }
    std::uint64_t forwarded() const { return forwarded_.load(); }
    std::uint64_t dropped() const { return dropped_.load(); }

private:
    net::awaitable<void> run();
    net::awaitable<void> session(ClientConn& conn);
    net::awaitable<void> writer(ClientConn& conn);
    void push(Bytes frame);
    void clear_routes();

    net::any_io_executor ex_;
    DerpServer& server_;
    // Each link has a TLS context of its own. OpenSSL fills caches inside the CA certificates
    // of a context's store (their decoded extensions) on first use during verification, and
    // links dial on different threads: with one shared context ThreadSanitizer saw two mesh
    // handshakes race on a CA certificate's key identifier (tests/bench/derp_tsan.sh).
    net::ssl::context tls_;
    const DialTarget target_;
    const Key32 mesh_key_;
    net::steady_timer wake_;  // the writer sleeps here
    bool stopped_ = false;    // executor only

    mutable std::mutex mu_;  // guards the queue, `up_` and the route set
    std::deque<Bytes> queue_;
    bool up_ = false;
    bool wake_pending_ = false;
    std::unordered_set<PublicKey, KeyHash> present_;

    std::atomic<bool> connected_{false};
    std::atomic<std::uint64_t> connects_{0}, forwarded_{0}, dropped_{0};
};

// Reads a mesh key file: 64 hex digits, surrounding whitespace ignored (derper's format). The
// file must not be readable by group or others: whoever holds the key may join the mesh, list
// the region's clients and kick them. Throws std::runtime_error naming the file.
Key32 load_mesh_key(const std::string& path);

// Every link of this server, and their counters for /metrics.
class Mesh {
public:
    // One link per entry of `peers` (HOST[:PORT][/DIALHOST]); an entry naming this server
    // itself is found out by its server key and skipped. Throws std::invalid_argument on a bad
    // entry or an empty list.
    Mesh(net::io_context& io, DerpServer& server, const std::vector<std::string>& peers, Key32 mesh_key);
    void start();
    void stop();
    std::string prometheus_text() const;

private:
    std::vector<std::shared_ptr<MeshLink>> links_;
};

}  // namespace hs::derp
