#include <catch2/catch.hpp>

#include <sodium.h>

#include "common/derp/net/conn.h"
#include "tests/unit/derp_net/relay_fakes.h"

using namespace hs;
using namespace hs::derp;
using namespace hs::derp::testing;

namespace {

Bytes hexbytes(std::string s) {
    std::erase(s, ' ');
    Bytes out;
    for (std::size_t i = 0; i + 1 < s.size(); i += 2)
        out.push_back(static_cast<std::uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
    return out;
}

std::uint64_t dropped(const DerpServer& s, DropReason r) {
    return s.stats().packets_dropped[static_cast<std::size_t>(r)];
}

}  // namespace

TEST_CASE("DERP frames encode as Tailscale's test vectors") {
    CHECK(encode_keepalive() == hexbytes("0600000000"));
    CHECK(encode_note_preferred(true) == hexbytes("070000000101"));
    CHECK(encode_ping({1, 2, 3, 4, 5, 6, 7, 8}) == hexbytes("12000000080102030405060708"));
    CHECK(encode_pong({1, 2, 3, 4, 5, 6, 7, 8}) == hexbytes("13000000080102030405060708"));
    CHECK(encode_restarting(1, 2) == hexbytes("15000000080000000100000002"));
    CHECK(encode_health("BAD") == hexbytes("1400000003424144"));
    const PublicKey k{from_hex(std::string(64, 'a'), "k")};
    const Bytes sk = encode_server_key(k);
    CHECK(Bytes(sk.begin(), sk.begin() + 13) == hexbytes("01000000284445525 0f09f9491"));
    CHECK(parse_server_key(frame_of(sk).payload()) == k);
    const Bytes gone = encode_peer_gone(k, PeerGoneReason::NotHere);
    CHECK(gone.size() == 5 + 33);
    CHECK(gone[4] == 0x21);
    CHECK(gone.back() == 0x01);
    const Bytes present = encode_peer_present(k, *parse_ip("10.0.0.1"), 443, kPresentRegular);
    CHECK(present.size() == 5 + 51);
    CHECK(Bytes(present.begin() + 37, present.end()) == hexbytes("00000000000000000000ffff0a00000101bb01"));
}

TEST_CASE("DERP decoder yields whole frames from any chunking") {
    const PublicKey k{from_hex(std::string(64, 'b'), "k")};
    Bytes stream = encode_keepalive();
    const Bytes pkt = encode_recv_packet(k, data_of(1000, 7));
    stream.insert(stream.end(), pkt.begin(), pkt.end());
    const Bytes ping = encode_ping({9, 9, 9, 9, 9, 9, 9, 9});
    stream.insert(stream.end(), ping.begin(), ping.end());

    for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{512}, stream.size()}) {
        FrameDecoder d;
        std::vector<Frame> got;
        for (std::size_t i = 0; i < stream.size(); i += chunk) {
            d.feed(ByteView(stream).subspan(i, std::min(chunk, stream.size() - i)));
            while (auto f = d.next()) got.push_back(std::move(*f));
        }
        REQUIRE(got.size() == 3);
        CHECK(got[0].type() == FrameType::KeepAlive);
        CHECK(got[1].type() == FrameType::RecvPacket);
        CHECK(key_at(got[1].payload()) == k);
        CHECK(got[1].payload().size() == 1032);
        CHECK(got[2].bytes == ping);
        CHECK(d.buffered() == 0);
    }
}

TEST_CASE("DERP decoder rejects oversize frames and waits on truncated ones") {
    FrameDecoder d(100);
    SECTION("a header announcing too much fails before the payload arrives") {
        d.feed(hexbytes("0400000065"));  // 101 bytes
        CHECK_THROWS_AS(d.next(), FrameError);
    }
    SECTION("truncated: nothing until the rest arrives") {
        const Bytes f = encode_health("hello");
        d.feed(ByteView(f).first(f.size() - 1));
        CHECK_FALSE(d.next());
        d.feed(ByteView(f).last(1));
        auto got = d.next();
        REQUIRE(got);
        CHECK(got->type() == FrameType::Health);
    }
}

TEST_CASE("DERP ClientInfo and ServerInfo boxes") {
    const PrivateKey server = PrivateKey::generate();
    const PrivateKey client = PrivateKey::generate();
    ClientInfo info;
    info.version = 2;
    info.can_ack_pings = true;

    SECTION("round trip") {
        const Frame f = frame_of(encode_client_info(client, server.public_key(), info));
        CHECK(f.type() == FrameType::ClientInfo);
        const ClientHello h = open_client_info(f.payload(), server);
        CHECK(h.key == client.public_key());
        CHECK(h.info.version == 2);
        CHECK(h.info.can_ack_pings);
        CHECK_FALSE(h.info.mesh_key);
        const Frame si = frame_of(encode_server_info(server, client.public_key()));
        CHECK(open_server_info(si.payload(), client, server.public_key()).version == 2);
    }
    SECTION("a flipped byte, a wrong server key or a short frame fail") {
        Frame f = frame_of(encode_client_info(client, server.public_key(), info));
        f.bytes.back() ^= 1;
        CHECK_THROWS_AS(open_client_info(f.payload(), server), FrameError);
        const Frame g = frame_of(encode_client_info(client, PrivateKey::generate().public_key(), info));
        CHECK_THROWS_AS(open_client_info(g.payload(), server), FrameError);
        CHECK_THROWS_AS(open_client_info(g.payload().first(70), server), FrameError);
    }
    SECTION("JSON keys match case-insensitively; a bad meshKey fails") {
        auto boxed = [&](const std::string& json) {
            Bytes p(32 + 24 + 16 + json.size());
            const PublicKey pub = client.public_key();
            std::copy(pub.bytes.begin(), pub.bytes.end(), p.begin());
            randombytes_buf(p.data() + 32, 24);
            REQUIRE(crypto_box_easy(p.data() + 56, reinterpret_cast<const unsigned char*>(json.data()), json.size(),
                                    p.data() + 32, server.public_key().bytes.data(), client.bytes.data()) == 0);
            return p;
        };
        const auto h = open_client_info(boxed(R"({"VERSION":2,"canackpings":true,"isProber":true,"x":1})"), server);
        CHECK(h.info.version == 2);
        CHECK(h.info.can_ack_pings);
        CHECK(h.info.is_prober);
        const auto m = open_client_info(boxed(R"({"meshKey":")" + std::string(64, 'c') + R"("})"), server);
        REQUIRE(m.info.mesh_key);
        CHECK_THROWS_AS(open_client_info(boxed(R"({"meshKey":"abc"})"), server), FrameError);
        CHECK_THROWS_AS(open_client_info(boxed(R"({"version":"2"})"), server), FrameError);
        CHECK_THROWS_AS(open_client_info(boxed("not json"), server), FrameError);
    }
}

TEST_CASE("DERP relay routes between two clients") {
    DerpServer s({PrivateKey::generate()});
    Fake a(s), b(s);
    const Bytes data = data_of(100, 0x42);
    send(s, a, b, data);
    CHECK(b.wakes == 1);
    auto got = b.drain();
    REQUIRE(got.size() == 1);
    CHECK(got[0] == encode_recv_packet(a.key(), data));
    CHECK(s.stats().packets_relayed == 1);
    CHECK(s.stats().bytes_relayed == 100);

    SECTION("unknown destination: counted; disco gets PeerGone(NotHere), at most a burst of 3") {
        Fake gone(s);
        const PublicKey unknown = gone.key();
        s.unregister_client(gone.c);
        send(s, a, gone, data);
        CHECK(dropped(s, DropReason::UnknownDest) == 1);
        CHECK(a.drain().empty());
        for (int i = 0; i < 5; ++i) send(s, a, gone, disco_payload());
        auto notes = a.drain();
        CHECK(notes.size() == 3);
        CHECK(notes[0] == encode_peer_gone(unknown, PeerGoneReason::NotHere));
    }
    SECTION("protocol violations throw") {
        CHECK_THROWS_AS(s.handle_frame(a.c, frame_of(hexbytes("0700000002 0101"))), FrameError);
        CHECK_THROWS_AS(s.handle_frame(a.c, frame_of(hexbytes("0400000001 00"))), FrameError);
        CHECK_THROWS_AS(s.handle_frame(a.c, frame_of(encode_send_packet(b.key(), data_of(kMaxPacketSize + 1, 0)))),
                        FrameError);
        CHECK_THROWS_AS(s.handle_frame(a.c, frame_of(encode_watch_conns())), FrameError);
    }
    SECTION("unknown frame types are skipped; Ping gets one Pong") {
        s.handle_frame(a.c, frame_of(hexbytes("3000000002 abcd")));
        s.handle_frame(a.c, frame_of(encode_ping({1, 2, 3, 4, 5, 6, 7, 8})));
        s.handle_frame(a.c, frame_of(encode_ping({8, 8, 8, 8, 8, 8, 8, 8})));
        auto out = a.drain();
        REQUIRE(out.size() == 1);
        CHECK(out[0] == encode_pong({1, 2, 3, 4, 5, 6, 7, 8}));
    }
}

TEST_CASE("DERP send queue drops the oldest packet and never blocks") {
    DerpServer::Options o{PrivateKey::generate()};
    o.queue_depth = 4;
    DerpServer s(o);
    Fake a(s), b(s);
    for (std::uint8_t i = 0; i < 6; ++i) send(s, a, b, data_of(10, i));
    CHECK(b.wakes == 1);  // one wake per burst, not per packet
    auto got = b.drain();
    REQUIRE(got.size() == 4);
    for (std::uint8_t i = 0; i < 4; ++i) CHECK(got[i].back() == i + 2);
    CHECK(dropped(s, DropReason::QueueHead) == 2);
    // Disco has its own queue, so path discovery survives a full data queue.
    for (std::uint8_t i = 0; i < 6; ++i) send(s, a, b, data_of(10, i));
    send(s, a, b, disco_payload());
    got = b.drain();
    REQUIRE(got.size() == 5);
    CHECK(looks_like_disco(frame_of(got[0]).payload().subspan(32)));
}

TEST_CASE("DERP duplicate keys: newest gets packets, a sender wins them back") {
    DerpServer s({PrivateKey::generate()});
    Fake a(s), b1(s);
    Fake b2(s, {}, b1.priv);
    CHECK(s.connections_of(b1.key()) == 2);
    CHECK(s.stats().dup_accepts == 1);
    send(s, a, b1, data_of(5, 1));
    CHECK(b1.drain().empty());
    CHECK(b2.drain().size() == 1);

    s.handle_frame(b1.c, frame_of(encode_note_preferred(true)));  // any frame makes it active
    send(s, a, b1, data_of(5, 2));
    CHECK(b1.drain().size() == 1);
    CHECK(b2.drain().empty());

    // Losing one of two connections is not "gone".
    s.unregister_client(b1.c);
    CHECK(a.drain().empty());
    send(s, a, b2, data_of(5, 3));
    CHECK(b2.drain().size() == 1);
}

TEST_CASE("DERP PeerGone tells receivers when a sender leaves") {
    DerpServer s({PrivateKey::generate()});
    Fake a(s), b(s), c(s);
    send(s, a, b, data_of(5, 1));
    CHECK(b.drain().size() == 1);  // b now wants to hear when a leaves
    s.unregister_client(a.c);
    auto got = b.drain();
    REQUIRE(got.size() == 1);
    CHECK(got[0] == encode_peer_gone(a.key(), PeerGoneReason::Disconnected));
    CHECK(c.drain().empty());
    CHECK(s.stats().peer_gone_disconnected == 1);
    // Packets still queued for a leaving client are drops, not leaks.
    send(s, b, c, data_of(5, 1));
    s.unregister_client(c.c);
    CHECK(dropped(s, DropReason::GoneDisconnected) == 1);
}

TEST_CASE("DERP admission hook and mesh peers") {
    const Key32 mesh = from_hex(std::string(64, 'd'), "mesh");
    DerpServer::Options o{PrivateKey::generate()};
    o.mesh_key = mesh;
    const PrivateKey allowed_priv = PrivateKey::generate();
    const PublicKey allowed = allowed_priv.public_key();
    o.admit = [allowed](const PublicKey& k) { return k == allowed; };
    DerpServer s(o);

    Fake stranger(s);
    CHECK_FALSE(stranger.c);
    CHECK(s.stats().refused == 1);
    Fake ok(s, {}, allowed_priv);
    REQUIRE(ok.c);

    ClientInfo mi;
    mi.mesh_key = mesh;
    Fake peer(s, mi);
    REQUIRE(peer.c);  // the mesh key bypasses the hook
    CHECK(peer.c->is_mesh());

    s.handle_frame(peer.c, frame_of(encode_watch_conns()));
    auto present = peer.drain();
    REQUIRE(present.size() == 1);
    CHECK(frame_of(present[0]).type() == FrameType::PeerPresent);
    CHECK(key_at(frame_of(present[0]).payload()) == allowed);

    // A mesh peer forwards a packet from a client of its own to our client.
    const PublicKey remote_src{from_hex(std::string(64, 'e'), "k")};
    s.handle_frame(peer.c, frame_of(encode_forward_packet(remote_src, ok.key(), data_of(20, 9))));
    auto got = ok.drain();
    REQUIRE(got.size() == 1);
    CHECK(got[0] == encode_recv_packet(remote_src, data_of(20, 9)));

    s.handle_frame(peer.c, frame_of(encode_close_peer(ok.key())));
    CHECK(ok.closes == 1);
    s.unregister_client(ok.c);
    auto gone = peer.drain();
    REQUIRE(gone.size() == 1);
    CHECK(gone[0] == encode_peer_gone(allowed, PeerGoneReason::Disconnected));

    CHECK(s.close_where_not([](const PublicKey&) { return false; }) == 0);  // mesh peers stay
    CHECK(prometheus_text(s.stats()).find("derp_refused_total 1") != std::string::npos);
}

TEST_CASE("DERP HTTP helpers") {
    http::request<http::string_body> req{http::verb::get, "/derp", 11};
    CHECK(upgrade_kind(req) == Upgrade::None);
    CHECK(derp_http_response(req).result() == http::status::upgrade_required);
    req.set(http::field::upgrade, "DeRp");
    CHECK(upgrade_kind(req) == Upgrade::Derp);
    req.set(http::field::upgrade, "websocket");
    CHECK(upgrade_kind(req) == Upgrade::Derp);
    req.set(http::field::sec_websocket_protocol, "derp");
    CHECK(upgrade_kind(req) == Upgrade::WebSocket);

    http::request<http::string_body> g{http::verb::get, "/generate_204", 11};
    g.set("X-Tailscale-Challenge", "ts_10.0.0.1");
    auto r = derp_http_response(g);
    CHECK(r.result() == http::status::no_content);
    CHECK(r["X-Tailscale-Response"] == "response ts_10.0.0.1");
    g.set("X-Tailscale-Challenge", "bad challenge!");
    CHECK(derp_http_response(g)["X-Tailscale-Response"].empty());

    CHECK(derp_http_response(http::request<http::string_body>{http::verb::head, "/derp/probe", 11}).result() ==
          http::status::ok);
    CHECK(derp_http_response(http::request<http::string_body>{http::verb::post, "/derp/latency-check", 11}).result() ==
          http::status::method_not_allowed);
    CHECK(is_derp_path("/derp?x=1"));
    CHECK_FALSE(is_derp_path("/derpx"));
    const PublicKey k{from_hex(std::string(64, 'f'), "k")};
    CHECK(switching_protocols(k) ==
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
          "Derp-Version: 2\r\nDerp-Public-Key: " +
              std::string(64, 'f') + "\r\n\r\n");
}

namespace {

using Local = net::local::stream_protocol::socket;

// The client half of a connection, as tailscaled's slow path does it.
net::awaitable<Frame> read_one(Local& s, FrameDecoder& d) {
    for (;;) {
        if (auto f = d.next()) co_return std::move(*f);
        std::array<std::uint8_t, 4096> buf;
        const std::size_t n = co_await s.async_read_some(net::buffer(buf), net::use_awaitable);
        d.feed(ByteView(buf).first(n));
    }
}

net::awaitable<void> handshake(Local& s, FrameDecoder& d, const PrivateKey& me, const PublicKey& server) {
    const Frame sk = co_await read_one(s, d);
    REQUIRE(sk.type() == FrameType::ServerKey);
    REQUIRE(parse_server_key(sk.payload()) == server);
    ClientInfo info;
    info.version = 2;
    info.can_ack_pings = true;
    const Bytes ci = encode_client_info(me, server, info);
    co_await net::async_write(s, net::buffer(ci), net::use_awaitable);
    const Frame si = co_await read_one(s, d);
    REQUIRE(si.type() == FrameType::ServerInfo);
    REQUIRE(open_server_info(si.payload(), me, server).version == 2);
}

}  // namespace

TEST_CASE("DERP connection coroutine: handshake, relay, keepalive, refusal") {
    net::io_context io;
    const PrivateKey refused_key = PrivateKey::generate();
    DerpServer::Options o{PrivateKey::generate()};
    o.admit = [&](const PublicKey& k) { return k != refused_key.public_key(); };
    DerpServer server(o);
    ConnOptions copts;
    copts.keepalive = std::chrono::milliseconds(50);
    copts.keepalive_jitter = std::chrono::milliseconds(0);

    auto start = [&](Local& client_end) {
        Local server_end(io);
        net::local::connect_pair(client_end, server_end);
        auto bs = std::make_shared<AsioByteStream<Local>>(std::move(server_end));
        net::co_spawn(io, serve_conn(bs, server, ConnMeta{}, "test", "", copts), net::detached);
    };
    Local ca(io), cb(io), cr(io);
    start(ca);
    start(cb);
    start(cr);
    const PrivateKey ka = PrivateKey::generate(), kb = PrivateKey::generate();
    bool done = false, refused_closed = false;

    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            FrameDecoder da, db, dr;
            co_await handshake(ca, da, ka, server.public_key());
            co_await handshake(cb, db, kb, server.public_key());
            const Bytes sp = encode_send_packet(kb.public_key(), data_of(300, 3));
            co_await net::async_write(ca, net::buffer(sp), net::use_awaitable);
            Frame f = co_await read_one(cb, db);
            CHECK(f.bytes == encode_recv_packet(ka.public_key(), data_of(300, 3)));
            f = co_await read_one(cb, db);  // idle: a keepalive arrives
            CHECK(f.type() == FrameType::KeepAlive);

            const Frame sk = co_await read_one(cr, dr);
            CHECK(sk.type() == FrameType::ServerKey);
            ClientInfo info;
            const Bytes ci = encode_client_info(refused_key, server.public_key(), info);
            co_await net::async_write(cr, net::buffer(ci), net::use_awaitable);
            try {
                co_await read_one(cr, dr);
            } catch (const std::exception&) {
                refused_closed = true;  // closed without ServerInfo
            }
            done = true;
            ca.close();
            cb.close();
        },
        net::detached);
    io.run_for(std::chrono::seconds(5));
    CHECK(done);
    CHECK(refused_closed);
    CHECK(server.stats().refused == 1);
    CHECK(server.stats().current_connections == 0);
}

namespace {

net::awaitable<void> serve_one_request(Local sock, DerpServer& server) {
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    co_await http::async_read(sock, buf, req, net::use_awaitable);
    co_await accept_derp(std::move(sock), buf, std::move(req), server, ConnMeta{}, "test");
}

}  // namespace

TEST_CASE("DERP accept_derp: fast start keeps the bytes after the headers; WebSocket carries DERP") {
    net::io_context io;
    DerpServer server({PrivateKey::generate()});
    const PrivateKey me = PrivateKey::generate();
    Local client(io), server_end(io);
    net::local::connect_pair(client, server_end);
    net::co_spawn(io, serve_one_request(std::move(server_end), server), net::detached);
    bool done = false;

    SECTION("Derp-Fast-Start: request and ClientInfo in one write, no 101 back") {
        net::co_spawn(
            io,
            [&]() -> net::awaitable<void> {
                std::string out =
                    "GET /derp HTTP/1.1\r\nHost: x\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
                    "Derp-Fast-Start: 1\r\n\r\n";
                const Bytes ci = encode_client_info(me, server.public_key(), ClientInfo{2, {}, true, false, {}});
                out.append(ci.begin(), ci.end());
                co_await net::async_write(client, net::buffer(out), net::use_awaitable);
                FrameDecoder d;
                const Frame sk = co_await read_one(client, d);
                CHECK(sk.type() == FrameType::ServerKey);
                const Frame si = co_await read_one(client, d);
                CHECK(si.type() == FrameType::ServerInfo);
                CHECK(server.connections_of(me.public_key()) == 1);
                done = true;
                client.close();
            },
            net::detached);
    }
    SECTION("WebSocket with the derp subprotocol") {
        net::co_spawn(
            io,
            [&]() -> net::awaitable<void> {
                beast::websocket::stream<Local> ws(std::move(client));
                ws.set_option(beast::websocket::stream_base::decorator(
                    [](beast::websocket::request_type& r) { r.set(http::field::sec_websocket_protocol, "derp"); }));
                beast::websocket::response_type res;
                co_await ws.async_handshake(res, "x", "/derp", net::use_awaitable);
                CHECK(res[http::field::sec_websocket_protocol] == "derp");
                ws.binary(true);
                FrameDecoder d;
                auto next = [&]() -> net::awaitable<Frame> {
                    for (;;) {
                        if (auto f = d.next()) co_return std::move(*f);
                        beast::flat_buffer b;
                        co_await ws.async_read(b, net::use_awaitable);
                        d.feed(ByteView(static_cast<const std::uint8_t*>(b.data().data()), b.size()));
                    }
                };
                const Frame sk = co_await next();
                CHECK(sk.type() == FrameType::ServerKey);
                const Bytes ci = encode_client_info(me, server.public_key(), ClientInfo{2, {}, true, false, {}});
                co_await ws.async_write(net::buffer(ci), net::use_awaitable);
                const Frame si = co_await next();
                CHECK(si.type() == FrameType::ServerInfo);
                CHECK(server.connections_of(me.public_key()) == 1);
                done = true;
                beast::get_lowest_layer(ws).close();
            },
            net::detached);
    }
    io.run_for(std::chrono::seconds(5));
    CHECK(done);
    CHECK(server.connections_of(me.public_key()) == 0);
}
