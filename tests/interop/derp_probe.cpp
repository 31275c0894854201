// hs-derp-probe: sends one kind of bad input to a DERP server (over TLS, certificate not
// checked) or a STUN server, and prints one JSON line saying how the server answered.
// test_derp_bad_input.sh runs it while two real clients ping through the same server.
//
//   hs-derp-probe garbage        HOST:PORT            junk instead of ClientInfo: must be closed
//   hs-derp-probe bad-box        HOST:PORT            ClientInfo sealed to the wrong key: closed, no ServerInfo
//   hs-derp-probe oversize-frame HOST:PORT            a header announcing 1 MiB: closed before the payload
//   hs-derp-probe oversize-packet HOST:PORT           a SendPacket of 64 KiB + 1: closed
//   hs-derp-probe hello          HOST:PORT            a well-formed client: admitted, ServerInfo, Ping/Pong
//   hs-derp-probe flood          HOST:PORT NODEKEY N  N packets of 1200 bytes to NODEKEY at full
//                                                     speed, then a Ping: the flooder still gets its Pong
//   hs-derp-probe peer-gone HOST1:PORT1 HOST2:PORT2   X on server 1 hears from Y on server 2 (the
//                                                     two meshed); Y leaves: X gets PeerGone(Y,
//                                                     Disconnected) within 10 s
//   hs-derp-probe stun-bad-length HOST:PORT           these two get no answer, a valid request
//   hs-derp-probe stun-bad-fingerprint HOST:PORT      right after them does
//
// Exit status: 0 when the server behaved as expected, 1 when not, 2 for a usage error.
#include <poll.h>

#include <iostream>
#include <optional>

#include <sodium.h>
#include <nlohmann/json.hpp>

#include "common/base/netaddr.h"
#include "common/derp/net/client.h"
#include "common/stun/message.h"

namespace {

using namespace hs;
using namespace hs::derp;
using namespace std::chrono_literals;
using udp = net::ip::udp;

struct Unexpected : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Reads frames until the server closes the connection. Returns the types seen; throws
// Unexpected if it stays open for `limit`.
net::awaitable<std::vector<FrameType>> read_until_closed(ClientConn& c, std::chrono::seconds limit) {
    net::steady_timer t(c.get_executor());
    bool timed_out = false;
    t.expires_after(limit);
    t.async_wait([&](const boost::system::error_code& ec) {
        if (ec) return;
        timed_out = true;
        c.close();
    });
    std::vector<FrameType> seen;
    try {
        for (;;) seen.push_back((co_await c.read_frame()).type());
    } catch (const FrameError&) {
        throw;  // the server sent something malformed: that is its own bug
    } catch (const std::exception&) {}
    t.cancel();
    if (timed_out) throw Unexpected("the server kept the connection open for " + std::to_string(limit.count()) + " s");
    co_return seen;
}

net::awaitable<std::unique_ptr<ClientConn>> admitted(net::any_io_executor ex, ssl::context& tls, const DialTarget& t,
                                                     const PrivateKey& me) {
    auto c = co_await ClientConn::dial(ex, tls, t);
    ClientInfo info;
    info.version = kProtocolVersion;
    info.can_ack_pings = true;
    co_await c->handshake(me, info);
    co_return c;
}

// Sends a Ping and waits up to 10 s for its Pong (other frames are skipped).
net::awaitable<void> expect_pong(ClientConn& c) {
    const std::array<std::uint8_t, kPingLen> ping{1, 2, 3, 4, 5, 6, 7, 8};
    co_await c.write(encode_ping(ping));
    net::steady_timer t(c.get_executor());
    t.expires_after(10s);
    t.async_wait([&](const boost::system::error_code& ec) {
        if (!ec) c.close();
    });
    for (;;) {
        const Frame f = co_await c.read_frame();  // throws if the server closed us
        if (f.type() == FrameType::Pong && std::equal(ping.begin(), ping.end(), f.payload().begin())) break;
    }
    t.cancel();
}

// What one connection heard from one peer key, filled by watch_peer.
struct PeerNews {
    bool packet = false;                 // a RecvPacket from the peer
    std::optional<PeerGoneReason> gone;  // a PeerGone about the peer
    bool ended = false;                  // the reader stopped (connection closed)
};

net::awaitable<void> watch_peer(ClientConn& c, PublicKey peer, std::shared_ptr<PeerNews> news) {
    try {
        for (;;) {
            const Frame f = co_await c.read_frame();
            if (f.type() == FrameType::RecvPacket && f.payload().size() >= kKeyLen && key_at(f.payload()) == peer)
                news->packet = true;
            if (f.type() == FrameType::PeerGone) {
                const auto m = parse_peer_gone(f.payload());
                if (m.key == peer) news->gone = m.reason;
            }
        }
    } catch (const std::exception&) {}
    news->ended = true;
}

// Polls `done` every 100 ms for up to `limit`; true when it held.
net::awaitable<bool> wait_for(std::function<bool()> done, std::chrono::milliseconds limit,
                              const std::function<net::awaitable<void>()>& each = {}) {
    net::steady_timer t(co_await net::this_coro::executor);
    for (auto waited = 0ms; waited < limit; waited += 100ms) {
        if (done()) co_return true;
        if (each) co_await each();
        t.expires_after(100ms);
        co_await t.async_wait(net::use_awaitable);
    }
    co_return done();
}

// X on `t1`, Y on `t2`. Y's packets reach X only once server 2 has learned X from server 1's
// PeerPresent, so Y resends until one arrives; then Y leaves and X must be told.
net::awaitable<std::string> peer_gone(net::any_io_executor ex, ssl::context& tls, const DialTarget& t1,
                                      const DialTarget& t2) {
    const PrivateKey xk = PrivateKey::generate(), yk = PrivateKey::generate();
    auto x = co_await admitted(ex, tls, t1, xk);
    auto y = co_await admitted(ex, tls, t2, yk);
    auto news = std::make_shared<PeerNews>();
    net::co_spawn(ex, watch_peer(*x, yk.public_key(), news), net::detached);
    const Bytes hello = encode_send_packet(xk.public_key(), Bytes(40, 0x5a));
    std::string result;
    if (!co_await wait_for([&] { return news->packet; }, 10s,
                           [&]() -> net::awaitable<void> { co_await y->write(hello); }))
        result = "X never received Y's packet across the mesh";
    if (result.empty()) {
        y->close();
        if (!co_await wait_for([&] { return news->gone.has_value() || news->ended; }, 10s))
            result = "no PeerGone within 10 s of Y leaving";
        else if (!news->gone) result = "X's connection ended before any PeerGone";
        else if (*news->gone != PeerGoneReason::Disconnected)
            result = "PeerGone reason " + std::to_string(static_cast<int>(*news->gone)) + ", expected 0 (Disconnected)";
    }
    x->close();
    co_await wait_for([&] { return news->ended; }, 5s);  // the reader lets go of x before it is freed
    if (!result.empty()) throw Unexpected(result);
    co_return "X heard from Y across the mesh; Y left; X got PeerGone(" + key_text(kNodePrefix, yk.public_key().bytes) +
        ", Disconnected)";
}

net::awaitable<std::string> run_derp(const std::string& mode, const DialTarget& t,
                                     const std::vector<std::string>& args) {
    auto ex = co_await net::this_coro::executor;
    auto tls = client_tls_context(true);
    const PrivateKey me = PrivateKey::generate();
    if (mode == "garbage") {
        auto c = co_await ClientConn::dial(ex, tls, t);
        Bytes junk(4096);
        randombytes_buf(junk.data(), junk.size());
        junk[0] = 0x02;  // looks like ClientInfo, announces a length over the 256 KiB limit
        junk[1] = 0x7f;
        co_await c->write(junk);
        const auto seen = co_await read_until_closed(*c, 5s);
        if (seen.size() != 1 || seen[0] != FrameType::ServerKey)
            throw Unexpected("frames other than ServerKey before the close");
        co_return "closed after ServerKey, no ServerInfo";
    }
    if (mode == "bad-box") {
        auto c = co_await ClientConn::dial(ex, tls, t);
        co_await c->read_server_key();
        ClientInfo info;
        info.version = kProtocolVersion;
        // Sealed to a key that is not the server's: the box cannot open there.
        co_await c->write(encode_client_info(me, PrivateKey::generate().public_key(), info));
        const auto seen = co_await read_until_closed(*c, 5s);
        if (!seen.empty()) throw Unexpected("the server answered a ClientInfo it cannot have opened");
        co_return "closed without ServerInfo";
    }
    if (mode == "oversize-frame" || mode == "oversize-packet") {
        auto c = co_await admitted(ex, tls, t, me);
        Bytes f;
        if (mode == "oversize-frame") {
            append_header(f, FrameType::SendPacket, 1u << 20);  // only the header: no payload follows
        } else {
            f = encode_send_packet(PrivateKey::generate().public_key(), Bytes(kMaxPacketSize + 1, 0x55));
        }
        co_await c->write(f);
        co_await read_until_closed(*c, 5s);
        co_return "closed after the oversize " + std::string(mode == "oversize-frame" ? "header" : "packet");
    }
    if (mode == "hello") {
        auto c = co_await admitted(ex, tls, t, me);  // throws if refused: no ServerInfo comes
        co_await expect_pong(*c);
        co_return "admitted as " + key_text(kNodePrefix, me.public_key().bytes) + "; Pong received";
    }
    if (mode == "flood") {
        if (args.size() != 2) throw std::invalid_argument("flood needs NODEKEY N");
        const PublicKey dst{parse_key_text(args[0], kNodePrefix)};
        const long n = std::stol(args[1]);
        auto c = co_await admitted(ex, tls, t, me);
        const Bytes one = encode_send_packet(dst, Bytes(1200, 0xaa));
        Bytes batch;
        for (int i = 0; i < 64; ++i) batch.insert(batch.end(), one.begin(), one.end());
        const auto start = std::chrono::steady_clock::now();
        for (long sent = 0; sent < n; sent += 64) co_await c->write(batch);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        co_await expect_pong(*c);
        co_return "sent " + std::to_string((n + 63) / 64 * 64) + " packets in " + std::to_string(secs) +
            " s and still got the Pong";
    }
    if (mode == "peer-gone") {
        if (args.size() != 1) throw std::invalid_argument("peer-gone needs a second HOST:PORT");
        co_return co_await peer_gone(ex, tls, t, parse_dial_target(args[0]));
    }
    throw std::invalid_argument("unknown mode " + mode);
}

// One STUN exchange; the answer's mapped address, or nullopt after `wait` without one.
std::optional<stun::Mapped> stun_exchange(udp::socket& s, const udp::endpoint& to, std::span<const std::uint8_t> req,
                                          const stun::TxId& tx, std::chrono::milliseconds wait) {
    s.send_to(net::buffer(req.data(), req.size()), to);
    const auto end = std::chrono::steady_clock::now() + wait;
    std::array<std::uint8_t, 1500> buf{};
    while (std::chrono::steady_clock::now() < end) {
        pollfd p{s.native_handle(), POLLIN, 0};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
        if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 1))) <= 0) continue;
        udp::endpoint from;
        const auto n = s.receive_from(net::buffer(buf), from);
        if (auto m = stun::parse_response(std::span<const std::uint8_t>(buf.data(), n), tx)) return m;
    }
    return std::nullopt;
}

std::string run_stun(const std::string& mode, const DialTarget& t) {
    net::io_context io;
    const udp::endpoint to(net::ip::make_address(t.host), t.port);
    udp::socket s(io, udp::endpoint(to.protocol(), 0));
    stun::TxId tx{};
    randombytes_buf(tx.data(), tx.size());
    auto bad = stun::tailscale_request(tx);
    if (mode == "stun-bad-length") {
        bad[3] = 0x30;  // says 48 attribute bytes; the datagram has 20
    } else if (mode == "stun-bad-fingerprint") {
        bad[39] ^= 0xff;
    } else {
        throw std::invalid_argument("unknown mode " + mode);
    }
    if (stun_exchange(s, to, bad, tx, 1000ms)) throw Unexpected("the server answered the malformed request");
    randombytes_buf(tx.data(), tx.size());
    const auto good = stun::tailscale_request(tx);
    const auto m = stun_exchange(s, to, good, tx, 3000ms);
    if (!m) throw Unexpected("no answer to a valid request after the malformed one");
    return "no answer to the malformed request; the next valid one was answered (" + m->ip.str() + ":" +
           std::to_string(m->port) + ")";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: hs-derp-probe MODE HOST:PORT [ARGS...] (see the source for modes)\n";
        return 2;
    }
    const std::string mode = argv[1];
    const std::vector<std::string> args(argv + 3, argv + argc);
    nlohmann::json out{{"mode", mode}};
    int rc = 0;
    try {
        const auto target = parse_dial_target(argv[2]);
        if (mode.starts_with("stun-")) {
            out["detail"] = run_stun(mode, target);
        } else {
            net::io_context io;
            std::string detail;
            std::exception_ptr err;
            net::co_spawn(io, run_derp(mode, target, args), [&](std::exception_ptr e, std::string d) {
                err = e;
                detail = std::move(d);
            });
            io.run();
            if (err) std::rethrow_exception(err);
            out["detail"] = detail;
        }
        out["ok"] = true;
    } catch (const std::invalid_argument& e) {
        std::cerr << "hs-derp-probe: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        out["ok"] = false;
        out["detail"] = e.what();
        rc = 1;
    }
    std::cout << out.dump() << "\n";
    return rc;
}
