#include "common/derp/net/mesh.h"

#include <sodium.h>

#include "common/base/files.h"
#include "common/base/log.h"
#include "common/base/prometheus.h"

namespace hs::derp {
namespace {

using namespace std::chrono_literals;

// ForwardPackets waiting for the link's writer. One link carries every client of the peer, so
// it gets more room than a client's queue (32); the oldest goes first when it is full.
constexpr std::size_t kQueueDepth = 1024;
// derper retries a broken mesh link every 5 s; we start sooner and back off to that.
constexpr auto kMinBackoff = 500ms;
constexpr auto kMaxBackoff = 5s;
// derper closes a mesh peer whose write takes longer than this.
constexpr auto kWriteTimeout = 5s;
// The peer sends KeepAlive every 60-65 s; two missed ones mean the link is dead.
constexpr auto kIdleTimeout = 130s;

}  // namespace

MeshLink::MeshLink(net::any_io_executor ex, DerpServer& server, DialTarget target, Key32 mesh_key)
    : ex_(std::move(ex)), server_(server), tls_(client_tls_context()), target_(std::move(target)), mesh_key_(mesh_key),
      wake_(ex_) {}

void MeshLink::start() { net::co_spawn(ex_, run(), net::detached); }

void MeshLink::stop() {
    net::post(ex_, [self = shared_from_this()] {
        self->stopped_ = true;
        self->wake_.cancel();
    });
}

std::size_t MeshLink::routes() const {
    std::lock_guard lk(mu_);
    return present_.size();
}

void MeshLink::push(Bytes frame) {
    bool need = false;
    {
        std::lock_guard lk(mu_);
        if (!up_) {
            dropped_ += 1;
            return;
        }
        if (queue_.size() >= kQueueDepth) {
            queue_.pop_front();
            dropped_ += 1;
        }
        queue_.push_back(std::move(frame));
        need = !std::exchange(wake_pending_, true);
    }
    if (need)
        net::post(ex_, [w = weak_from_this()] {
            if (auto self = w.lock()) self->wake_.cancel();
        });
}

void MeshLink::forward(const PublicKey& src, const PublicKey& dst, ByteView data) {
    push(encode_forward_packet(src, dst, data));
}

void MeshLink::clear_routes() {
    std::unordered_set<PublicKey, KeyHash> gone;
    {
        std::lock_guard lk(mu_);
        gone.swap(present_);
        up_ = false;
        queue_.clear();
    }
    for (const auto& k : gone) server_.remove_mesh_route(k, this);
    if (!gone.empty()) spdlog::info("mesh {}: link down, withdrew {} routes", target_.text(), gone.size());
}

net::awaitable<void> MeshLink::run() {
    auto self = shared_from_this();  // the loop keeps the link alive
    auto backoff = std::chrono::steady_clock::duration(kMinBackoff);
    std::string last_error;
    net::steady_timer sleep(ex_);
    while (!stopped_) {
        std::shared_ptr<ClientConn> conn;
        try {
            conn = co_await ClientConn::dial(ex_, tls_, target_);
            ClientInfo info;
            info.version = kProtocolVersion;
            info.mesh_key = mesh_key_;
            info.can_ack_pings = true;
            co_await conn->handshake(server_.private_key(), info);
            // -mesh-with may list this derper itself, so every node can share one flag value.
            if (conn->server_key() == server_.public_key()) {
                spdlog::info("mesh {}: that is this derper (same server key); not linking to it", target_.text());
                conn->close();
                co_return;
            }
            co_await conn->write(encode_watch_conns());
            connects_ += 1;
            backoff = kMinBackoff;
            last_error.clear();
            spdlog::info("mesh {}: linked to {}", target_.text(), key_text(kNodePrefix, conn->server_key().bytes));
            co_await session(*conn);  // returns only by throwing: the link broke
        } catch (const std::exception& e) {
            // A peer that stays down would fill the log at one line per retry: say it once.
            const std::string msg = e.what();
            const auto level = msg == last_error ? spdlog::level::debug : spdlog::level::warn;
            spdlog::log(level, "mesh {}: {}; retrying", target_.text(), msg);
            last_error = msg;
        }
        connected_ = false;
        if (conn) conn->close();
        clear_routes();
        wake_.cancel();  // a writer still waiting sees the link down and ends
        if (stopped_) break;
        // Jitter keeps the derpers of a region from reconnecting in lockstep.
        const auto jitter = std::chrono::milliseconds(randombytes_uniform(250));
        sleep.expires_after(backoff + jitter);
        boost::system::error_code ec;
        co_await sleep.async_wait(net::redirect_error(net::use_awaitable, ec));
        backoff = std::min<std::chrono::steady_clock::duration>(backoff * 2, kMaxBackoff);
    }
}

net::awaitable<void> MeshLink::session(ClientConn& conn) {
    {
        std::lock_guard lk(mu_);
        up_ = true;
        wake_pending_ = false;
    }
    connected_ = true;
    // The writer and the timers refer to `conn`, which run() owns: this coroutine waits for
    // the writer to end before returning, so none of them outlives it.
    auto self = shared_from_this();
    bool writer_done = false;
    net::steady_timer writer_exit(ex_);
    writer_exit.expires_at(net::steady_timer::time_point::max());
    net::co_spawn(ex_, writer(conn), [&](std::exception_ptr) {
        writer_done = true;
        writer_exit.cancel();
    });
    net::steady_timer idle(ex_);
    std::exception_ptr failure;
    try {
        for (;;) {
            idle.expires_after(kIdleTimeout);
            idle.async_wait([&conn](const boost::system::error_code& ec) {
                if (!ec) conn.close();
            });
            const Frame f = co_await conn.read_frame();
            switch (f.type()) {
                case FrameType::PeerPresent: {
                    const auto m = parse_peer_present(f.payload());
                    bool added;
                    {
                        std::lock_guard lk(mu_);
                        added = present_.insert(m.key).second;
                    }
                    // derper announces every new connection of a key; the route is one.
                    if (added) server_.add_mesh_route(m.key, self);
                    break;
                }
                case FrameType::PeerGone: {
                    // Disconnected, or NotHere for a packet we forwarded: either way not there.
                    const auto m = parse_peer_gone(f.payload());
                    {
                        std::lock_guard lk(mu_);
                        present_.erase(m.key);
                    }
                    server_.remove_mesh_route(m.key, this);
                    break;
                }
                case FrameType::Ping: {
                    const auto p = f.payload();
                    if (p.size() < kPingLen) throw FrameError("Ping: short");
                    std::array<std::uint8_t, kPingLen> d{};
                    std::copy_n(p.begin(), d.size(), d.begin());
                    push(encode_pong(d));
                    break;
                }
                default: break;  // KeepAlive, Health, ... : nothing to do
            }
        }
    } catch (...) {
        failure = std::current_exception();
    }
    idle.cancel();
    conn.close();
    {
        std::lock_guard lk(mu_);
        up_ = false;
    }
    wake_.cancel();
    if (!writer_done) {
        boost::system::error_code ec;
        co_await writer_exit.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    std::rethrow_exception(failure);
}

net::awaitable<void> MeshLink::writer(ClientConn& conn) {
    std::deque<Bytes> batch;
    Bytes out;
    net::steady_timer deadline(ex_);
    for (;;) {
        {
            std::lock_guard lk(mu_);
            if (!up_) co_return;
            batch.swap(queue_);
            wake_pending_ = false;
        }
        if (batch.empty()) {
            wake_.expires_at(net::steady_timer::time_point::max());
            boost::system::error_code ec;
            co_await wake_.async_wait(net::redirect_error(net::use_awaitable, ec));
            continue;
        }
        out.clear();
        for (const auto& f : batch) out.insert(out.end(), f.begin(), f.end());
        const auto frames = batch.size();
        batch.clear();
        deadline.expires_after(kWriteTimeout);
        deadline.async_wait([&conn](const boost::system::error_code& ec) {
            if (!ec) conn.close();
        });
        try {
            co_await conn.write(out);
        } catch (const std::exception& e) {
            deadline.cancel();
            dropped_ += frames;
            spdlog::debug("mesh {}: write failed: {}", target_.text(), e.what());
            conn.close();
            co_return;
        }
        deadline.cancel();
        forwarded_ += frames;
    }
}

// --- Mesh ----------------------------------------------------------------------------------------

Key32 load_mesh_key(const std::string& path) {
    check_private_file(path);
    std::string text = read_file(path);
    const auto b = text.find_first_not_of(" \t\r\n"), e = text.find_last_not_of(" \t\r\n");
    text = b == std::string::npos ? "" : text.substr(b, e - b + 1);
    try {
        return from_hex(text, "mesh key");
    } catch (const KeyError& err) {
        throw std::runtime_error(path + ": " + err.what());
    }
}

Mesh::Mesh(net::io_context& io, DerpServer& server, const std::vector<std::string>& peers, Key32 mesh_key) {
    for (const auto& entry : peers)
        links_.push_back(std::make_shared<MeshLink>(net::make_strand(io), server, parse_dial_target(entry), mesh_key));
    if (links_.empty()) throw std::invalid_argument("no host given");
}

void Mesh::start() {
    for (auto& l : links_) l->start();
}

void Mesh::stop() {
    for (auto& l : links_) l->stop();
}

std::string Mesh::prometheus_text() const {
    prometheus::Writer w;
    auto family = [&](const char* name, const char* type, const char* help, auto value) {
        w.family(name, type, help);
        for (const auto& l : links_) w.sample(name, value(*l), {{"peer", l->target().text()}});
    };
    family("derp_mesh_link_up", "gauge", "1 while the outbound mesh link to the peer is established.",
           [](const MeshLink& l) { return l.connected() ? 1 : 0; });
    family("derp_mesh_routes", "gauge", "Client keys the peer announced (reachable through it).",
           [](const MeshLink& l) { return l.routes(); });
    family("derp_mesh_connects_total", "counter", "Times the mesh link was established.",
           [](const MeshLink& l) { return l.connects(); });
    family("derp_mesh_frames_sent_total", "counter", "ForwardPacket (and Pong) frames written to the peer.",
           [](const MeshLink& l) { return l.forwarded(); });
    family("derp_mesh_frames_dropped_total", "counter",
           "Frames for the peer dropped: link down, queue full or write error.",
           [](const MeshLink& l) { return l.dropped(); });
    return w.take();
}

}  // namespace hs::derp
