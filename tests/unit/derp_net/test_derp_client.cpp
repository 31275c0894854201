// The client end of DERP: -mesh-with targets, the watcher's view of PeerPresent/PeerGone,
// ClientConn against the real server code over TLS on loopback, and the admission webhook.
#include <catch2/catch.hpp>

#include <boost/beast/websocket/ssl.hpp>

#include <nlohmann/json.hpp>

#include "common/derp/net/client.h"
#include "common/derp/net/webhook.h"
#include "common/net/tls.h"

using namespace hs;
using namespace hs::derp;

TEST_CASE("DERP dial targets are written like derper's -mesh-with entries") {
    auto t = parse_dial_target("derp1.example.com");
    CHECK(t.host == "derp1.example.com");
    CHECK(t.port == 443);
    CHECK(t.dial_host.empty());
    CHECK(t.text() == "derp1.example.com");

    t = parse_dial_target("10.0.0.1:8443/10.9.9.9");
    CHECK(t.host == "10.0.0.1");
    CHECK(t.port == 8443);
    CHECK(t.dial_host == "10.9.9.9");
    CHECK(t.text() == "10.0.0.1:8443/10.9.9.9");

    t = parse_dial_target("[fd00::1]:444");
    CHECK(t.host == "fd00::1");
    CHECK(t.port == 444);
    CHECK(t.text() == "[fd00::1]:444");
    CHECK(parse_dial_target("fd00::2").host == "fd00::2");  // bare IPv6: no port in it

    for (const char* bad : {"", ":443", "host:0", "host:65536", "host:x", "[fd00::1", "[fd00::1]x", "a/b/c", "a/"})
        CHECK_THROWS_AS(parse_dial_target(bad), std::invalid_argument);
}

TEST_CASE("PeerPresent and PeerGone as a mesh watcher reads them") {
    PublicKey k = PrivateKey::generate().public_key();
    IpAddr v4;
    v4.b = {10, 1, 2, 3};
    auto f = encode_peer_present(k, v4, 41641, kPresentMeshPeer);
    auto m = parse_peer_present(ByteView(f).subspan(kHeaderLen));
    CHECK(m.key == k);
    REQUIRE(m.ip);
    CHECK(m.ip->str() == "10.1.2.3");  // unmapped from ::ffff:10.1.2.3
    CHECK(m.port == 41641);
    CHECK(m.flags == kPresentMeshPeer);

    const auto v6 = *parse_ip("fd7a:115c:a1e0::1");
    f = encode_peer_present(k, v6, 1, kPresentRegular);
    m = parse_peer_present(ByteView(f).subspan(kHeaderLen));
    CHECK(m.ip == v6);

    // Old servers: key only, or key, IP and port without flags.
    m = parse_peer_present(k.bytes);
    CHECK(m.key == k);
    CHECK_FALSE(m.ip);
    CHECK(m.flags == 0);
    Bytes old(f.begin() + kHeaderLen, f.end() - 1);
    m = parse_peer_present(old);
    CHECK(m.port == 1);
    CHECK(m.flags == 0);
    CHECK_THROWS_AS(parse_peer_present(ByteView(k.bytes).first(31)), FrameError);

    f = encode_peer_gone(k, PeerGoneReason::NotHere);
    auto g = parse_peer_gone(ByteView(f).subspan(kHeaderLen));
    CHECK(g.key == k);
    CHECK(g.reason == PeerGoneReason::NotHere);
    g = parse_peer_gone(k.bytes);  // no reason byte: Disconnected
    CHECK(g.reason == PeerGoneReason::Disconnected);
    CHECK_THROWS_AS(parse_peer_gone(ByteView(k.bytes).first(5)), FrameError);
}

namespace {

using tcp = net::ip::tcp;

// A one-thread DERP server on 127.0.0.1 with a self-signed certificate, using the same
// accept_derp as hs-derper.
struct TlsServer {
    net::io_context io;
    DerpServer derp;
    std::string fp;
    ssl::context tls = tls_self_signed("127.0.0.1", fp);
    tcp::acceptor acc{io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};

    explicit TlsServer(DerpServer::Options o) : derp(std::move(o)) { net::co_spawn(io, accept_loop(), net::detached); }
    std::uint16_t port() const { return acc.local_endpoint().port(); }

    net::awaitable<void> serve(tcp::socket s) {
        try {
            ssl::stream<tcp::socket> ts(std::move(s), tls);
            co_await ts.async_handshake(ssl::stream_base::server, net::use_awaitable);
            beast::flat_buffer buf;
            http::request<http::string_body> req;
            co_await http::async_read(ts, buf, req, net::use_awaitable);
            const auto meta = conn_meta(beast::get_lowest_layer(ts).remote_endpoint(), req);
            co_await accept_derp(std::move(ts), buf, std::move(req), derp, meta, "test");
        } catch (const std::exception&) {}
    }
    net::awaitable<void> accept_loop() {
        for (;;) {
            auto s = co_await acc.async_accept(net::use_awaitable);
            net::co_spawn(io, serve(std::move(s)), net::detached);
        }
    }
};

// Runs `body` as a coroutine on the server's io_context until it finishes.
template <class F>
void run_client(TlsServer& srv, F body) {
    std::exception_ptr err;
    bool done = false;
    net::co_spawn(srv.io, body(), [&](std::exception_ptr e) {
        err = e;
        done = true;
        srv.io.stop();
    });
    srv.io.run_for(std::chrono::seconds(20));
    REQUIRE(done);
    if (err) std::rethrow_exception(err);
}

}  // namespace

TEST_CASE("DERP ClientConn: TLS, upgrade, handshake, mesh watch and forwarding against the server") {
    DerpServer::Options o{PrivateKey::generate()};
    Key32 mesh_key{};
    mesh_key.fill(7);
    o.mesh_key = mesh_key;
    TlsServer srv(std::move(o));
    DialTarget t{"127.0.0.1", srv.port(), ""};

    SECTION("the certificate is checked: a self-signed one fails unless the context is insecure") {
        auto verify = client_tls_context(false);
        run_client(srv, [&]() -> net::awaitable<void> {
            CHECK_THROWS_WITH(co_await ClientConn::dial(srv.io.get_executor(), verify, t),
                              Catch::Contains("DERP dial 127.0.0.1:") && Catch::Contains("certificate verify failed"));
        });
    }

    SECTION("a mesh watcher hears about a client, forwards to it, and hears it leave") {
        auto insecure = client_tls_context(true);
        const PrivateKey mesh_priv = PrivateKey::generate(), client_priv = PrivateKey::generate();
        const PrivateKey other = PrivateKey::generate();
        run_client(srv, [&]() -> net::awaitable<void> {
            auto ex = srv.io.get_executor();
            auto watcher = co_await ClientConn::dial(ex, insecure, t);
            ClientInfo mi;
            mi.version = 2;
            mi.mesh_key = mesh_key;
            const auto si = co_await watcher->handshake(mesh_priv, mi);
            CHECK(si.version == 2);
            CHECK(watcher->server_key() == srv.derp.public_key());
            co_await watcher->write(encode_watch_conns());

            auto client = co_await ClientConn::dial(ex, insecure, t);
            ClientInfo ci;
            ci.version = 2;
            co_await client->handshake(client_priv, ci);

            // The watcher sees the client arrive (possibly after itself).
            PeerPresentMsg pm;
            do {
                auto f = co_await watcher->read_frame();
                REQUIRE(f.type() == FrameType::PeerPresent);
                pm = parse_peer_present(f.payload());
            } while (pm.key != client_priv.public_key());
            REQUIRE(pm.ip);
            CHECK(pm.ip->str() == "127.0.0.1");
            CHECK(pm.flags == kPresentRegular);

            // A packet forwarded by the mesh peer reaches the client with the original source.
            const Bytes data{1, 2, 3, 4};
            co_await watcher->write(encode_forward_packet(other.public_key(), client_priv.public_key(), data));
            auto r = co_await client->read_frame();
            REQUIRE(r.type() == FrameType::RecvPacket);
            CHECK(key_at(r.payload()) == other.public_key());
            CHECK(Bytes(r.payload().begin() + kKeyLen, r.payload().end()) == data);

            client->close();
            PeerGoneMsg gm;
            do {
                auto f = co_await watcher->read_frame();
                if (f.type() != FrameType::PeerGone) continue;
                gm = parse_peer_gone(f.payload());
            } while (gm.key != client_priv.public_key());
            CHECK(gm.reason == PeerGoneReason::Disconnected);
        });
    }
}

TEST_CASE("DERP admission webhook: derper's request body and what counts as allowed") {
    const PublicKey k = PrivateKey::generate().public_key();
    const auto body = nlohmann::json::parse(webhook_body(k, *parse_ip("10.1.2.3")));
    CHECK(body["NodePublic"] == key_text(kNodePrefix, k.bytes));
    CHECK(body["Source"] == "10.1.2.3");

    CHECK(webhook_allows(200, R"({"Allow":true})"));
    CHECK(webhook_allows(200, R"({"allow":true,"Other":1})"));  // Go matches keys without case
    CHECK_FALSE(webhook_allows(200, R"({"Allow":false})"));
    CHECK_FALSE(webhook_allows(200, R"({"Allow":"true"})"));
    CHECK_FALSE(webhook_allows(200, R"({})"));
    CHECK_FALSE(webhook_allows(200, "not json"));
    CHECK_FALSE(webhook_allows(200, "[true]"));
    CHECK_FALSE(webhook_allows(403, R"({"Allow":true})"));
    CHECK_FALSE(webhook_allows(500, ""));
}

TEST_CASE("DERP admission webhook: an unreachable URL admits only when failing open") {
    net::io_context io;
    net::thread_pool pool(1);
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    WebhookVerifier open_hook("http://127.0.0.1:1/verify", true, pool.get_executor(), std::chrono::seconds(2));
    WebhookVerifier closed_hook("http://127.0.0.1:1/verify", false, pool.get_executor(), std::chrono::seconds(2));
    std::optional<bool> a, b;
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            ConnMeta m;
            a = co_await open_hook.admit(PrivateKey::generate().public_key(), m);
            b = co_await closed_hook.admit(PrivateKey::generate().public_key(), m);
        },
        net::detached);
    io.run_for(std::chrono::seconds(10));
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a);
    CHECK_FALSE(*b);
}
