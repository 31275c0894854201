// Test helpers for the transport-free relay (common/derp/server.h): connections whose hooks are
// recorded instead of acted on, and frames built as a client would send them.
#pragma once

#include <catch2/catch.hpp>

#include "common/base/netaddr.h"
#include "common/derp/server.h"

namespace hs::derp::testing {

inline Bytes data_of(std::size_t n, std::uint8_t fill) { return Bytes(n, fill); }

// A disco-looking payload: the magic, then key and nonce room.
inline Bytes disco_payload() {
    Bytes b{0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac};
    b.resize(6 + 32 + 24 + 10, 0x11);
    return b;
}

inline Frame frame_of(const Bytes& b) {
    FrameDecoder d;
    d.feed(b);
    auto f = d.next();
    REQUIRE(f);
    return std::move(*f);
}

// A registered connection with its hooks recorded instead of acted on.
struct Fake {
    PrivateKey priv = PrivateKey::generate();
    std::shared_ptr<DerpServer::Client> c;
    int wakes = 0, closes = 0;

    explicit Fake(DerpServer& s, const ClientInfo& info = {}, std::optional<PrivateKey> key = {}) {
        if (key) priv = *key;
        connect(s, info);
    }
    void connect(DerpServer& s, const ClientInfo& info = {}) {
        ClientHello h{priv.public_key(), info};
        c = s.register_client(h, ConnMeta{*parse_ip("192.0.2.7"), 41641, false},
                              {[this] { ++wakes; }, [this] { ++closes; }});
    }
    PublicKey key() const { return priv.public_key(); }
    std::vector<Bytes> drain() {
        std::vector<Bytes> out;
        c->drain(out);
        return out;
    }
};

inline void send(DerpServer& s, Fake& from, const Fake& to, const Bytes& data) {
    s.handle_frame(from.c, frame_of(encode_send_packet(to.key(), data)));
}

}  // namespace hs::derp::testing
