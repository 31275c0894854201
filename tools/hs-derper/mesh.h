// --mesh-with: links to the other derpers of this region, wire-compatible with Tailscale's
// derper mesh. Each link dials one peer as a DERP client whose key is our server key and whose
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

namespace hs::derper {

namespace net = boost::asio;

class MeshLink final : public derp::Forwarder, public std::enable_shared_from_this<MeshLink> {
public:
    MeshLink(net::any_io_executor ex, derp::DerpServer& server, net::ssl::context& tls, derp::DialTarget target,
             Key32 mesh_key);

    // Starts the reconnect loop on the link's executor; it runs until stop().
    void start();
    void stop();
    // Queues a ForwardPacket; never blocks. Drops the oldest queued packet when full, and the
    // packet itself when the link is down (routes through a broken link are withdrawn).
    void forward(const PublicKey& src, const PublicKey& dst, derp::ByteView data) override;

    const derp::DialTarget& target() const { return target_; }
    bool connected() const { return connected_.load(); }
    std::size_t routes() const;
    std::uint64_t connects() const { return connects_.load(); }
    std::uint64_t forwarded() const { return forwarded_.load(); }
    std::uint64_t dropped() const { return dropped_.load(); }

private:
    net::awaitable<void> run();
    net::awaitable<void> session(derp::ClientConn& conn);
    net::awaitable<void> writer(derp::ClientConn& conn);
    void push(derp::Bytes frame);
    void clear_routes();

    net::any_io_executor ex_;
    derp::DerpServer& server_;
    net::ssl::context& tls_;
    const derp::DialTarget target_;
    const Key32 mesh_key_;
    net::steady_timer wake_;  // the writer sleeps here
    bool stopped_ = false;    // executor only

    mutable std::mutex mu_;  // guards the queue, `up_` and the route set
    std::deque<derp::Bytes> queue_;
    bool up_ = false;
    bool wake_pending_ = false;
    std::unordered_set<PublicKey, derp::KeyHash> present_;

    std::atomic<bool> connected_{false};
    std::atomic<std::uint64_t> connects_{0}, forwarded_{0}, dropped_{0};
};

// Every link of this derper, and their counters for /metrics.
class Mesh {
public:
    // `with` is the comma list of -mesh-with. Throws std::invalid_argument on a bad entry.
    Mesh(net::io_context& io, derp::DerpServer& server, const std::string& with, Key32 mesh_key);
    void start();
    void stop();
    std::string prometheus_text() const;

private:
    net::ssl::context tls_;
    std::vector<std::shared_ptr<MeshLink>> links_;
};

}  // namespace hs::derper
