// DERP frames on hostile bytes. The input is what a client sends: it reaches a FrameDecoder in
// two reads, split at a point the input picks (its last byte), the first copied in with feed()
// and the second written through prepare()/commit(). Every frame that comes out must be the next
// piece of the stream, and goes to each payload parser of derp/frame.h under fixed keys. The
// input is also sealed as the JSON of a ClientInfo and a ServerInfo box, so the JSON readers see
// fuzzed text, and wrapped in frames by every encoder, which must decode back to themselves.
// Whatever opens must survive an encode/open round trip. Any exception other than
// derp::FrameError crashes the run.
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/base/keys.h"
#include "common/base/netaddr.h"
#include "common/derp/frame.h"

namespace {

namespace derp = hs::derp;
using derp::Bytes;
using derp::ByteView;
using derp::FrameType;

// The client seed in tests/fuzz/corpus/derp was sealed to this server key.
const hs::PrivateKey& server_key() {
    static const hs::PrivateKey k{
        hs::from_hex("58e0f2b0c4a3d7e3b1f0a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d94f", "server key")};
    return k;
}
const hs::PublicKey& server_pub() {
    static const hs::PublicKey p = server_key().public_key();
    return p;
}
// ... and comes from this client key.
const hs::PrivateKey& client_key() {
    static const hs::PrivateKey k{
        hs::from_hex("30d1c7e2a9b84f5e6d7c8b9a0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c76f", "client key")};
    return k;
}
const hs::PublicKey& client_pub() {
    static const hs::PublicKey p = client_key().public_key();
    return p;
}

void check(bool ok) {
    if (!ok) __builtin_trap();
}

std::uint32_t be32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

bool same(ByteView a, ByteView b) { return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin()); }

// Takes every whole frame out of `dec` and checks it is the next piece of `stream`, of which
// `fed` bytes have gone in and `done` have come out as frames. False once the decoder refuses a
// header (the connection would be closed).
bool drain(derp::FrameDecoder& dec, std::size_t max_payload, ByteView stream, std::size_t fed, std::size_t& done,
           std::vector<derp::Frame>& frames) {
    for (;;) {
        std::optional<derp::Frame> f;
        try {
            f = dec.next();
        } catch (const derp::FrameError&) {
            // Only a header that announces too much is refused, and only once it is all here.
            check(fed - done >= derp::kHeaderLen && be32(stream.data() + done + 1) > max_payload);
            return false;
        }
        check(dec.buffered() == fed - done - (f ? f->bytes.size() : 0));
        if (!f) {
            const std::size_t have = fed - done;
            check(have < derp::kHeaderLen || have < derp::kHeaderLen + be32(stream.data() + done + 1));
            return true;
        }
        check(f->bytes.size() >= derp::kHeaderLen && f->bytes.size() - derp::kHeaderLen <= max_payload);
        check(be32(f->bytes.data() + 1) == f->bytes.size() - derp::kHeaderLen);
        check(same(f->bytes, stream.subspan(done, f->bytes.size())));
        check(f->type() == static_cast<FrameType>(stream[done]));
        check(same(f->payload(), stream.subspan(done + derp::kHeaderLen, f->bytes.size() - derp::kHeaderLen)));
        done += f->bytes.size();
        frames.push_back(std::move(*f));
    }
}

// Runs `stream` through a decoder cut in two at `cut`; returns the frames, or nullopt when the
// decoder refused a header.
std::optional<std::vector<derp::Frame>> decode(ByteView stream, std::size_t cut,
                                               std::size_t max_payload = derp::kMaxServerReadFrame) {
    derp::FrameDecoder dec(max_payload);
    std::vector<derp::Frame> frames;
    std::size_t done = 0;
    cut = std::min(cut, stream.size());
    dec.feed(stream.first(cut));
    if (!drain(dec, max_payload, stream, cut, done, frames)) return std::nullopt;
    const auto rest = stream.subspan(cut);
    // Ask for more room than the read fills, as a socket read does.
    const auto room = dec.prepare(rest.size() + 7);
    check(room.size() == rest.size() + 7);
    std::copy(rest.begin(), rest.end(), room.begin());
    dec.commit(rest.size());
    if (!drain(dec, max_payload, stream, stream.size(), done, frames)) return std::nullopt;
    check(dec.buffered() == stream.size() - done);
    return frames;
}

// The one frame an encoder made: it must say its own length and decode to itself, also under a
// limit of exactly its payload, and a limit one byte lower must refuse it from the header alone.
derp::Frame one_frame(const Bytes& bytes, FrameType type) {
    check(bytes.size() >= derp::kHeaderLen && be32(bytes.data() + 1) == bytes.size() - derp::kHeaderLen);
    check(bytes[0] == static_cast<std::uint8_t>(type));
    const std::size_t len = bytes.size() - derp::kHeaderLen;
    derp::FrameDecoder exact(len);
    exact.feed(bytes);
    auto f = exact.next();
    check(f && f->bytes == bytes && exact.buffered() == 0 && !exact.next());
    if (len > 0) {
        derp::FrameDecoder tight(len - 1);
        tight.feed(ByteView(bytes).first(derp::kHeaderLen));
        bool refused = false;
        try {
            (void)tight.next();
        } catch (const derp::FrameError&) {
            refused = true;
        }
        check(refused);
    }
    return std::move(*f);
}

bool same_info(const derp::ClientInfo& a, const derp::ClientInfo& b) {
    return a.version == b.version && a.mesh_key == b.mesh_key && a.can_ack_pings == b.can_ack_pings &&
           a.is_prober == b.is_prober && a.app_name == b.app_name;
}

// A ClientInfo that opened must come back the same when our client sends it.
// A FrameError here is a failure, not a refusal: it must not reach the caller's catch.
void client_info_round_trip(const derp::ClientInfo& info) try {
    const auto f = one_frame(derp::encode_client_info(client_key(), server_pub(), info), FrameType::ClientInfo);
    const auto hello = derp::open_client_info(f.payload(), server_key());
    check(hello.key == client_pub() && same_info(hello.info, info));
} catch (const derp::FrameError&) {
    __builtin_trap();
}

void server_info_round_trip(const derp::ServerInfo& info) try {
    const auto f = one_frame(derp::encode_server_info(server_key(), client_pub(), info), FrameType::ServerInfo);
    const auto back = derp::open_server_info(f.payload(), client_key(), server_pub());
    check(back.version == info.version && back.token_bucket_bytes_per_second == info.token_bucket_bytes_per_second &&
          back.token_bucket_bytes_burst == info.token_bucket_bytes_burst);
} catch (const derp::FrameError&) {
    __builtin_trap();
}

// Every payload parser on one received frame, whatever its type says.
void parse_payloads(const derp::Frame& f) {
    const auto p = f.payload();
    const bool disco = derp::looks_like_disco(p);
    check(!disco || p.size() >= 6 + derp::kKeyLen + derp::kNonceLen);
    if (p.size() >= derp::kKeyLen) check(same(derp::key_at(p).bytes, p.first(derp::kKeyLen)));
    try {
        const auto hello = derp::open_client_info(p, server_key());
        check(p.size() >= derp::kMinClientInfoLen && p.size() <= derp::kMaxClientInfoLen);
        check(same(hello.key.bytes, p.first(derp::kKeyLen)));
        client_info_round_trip(hello.info);
    } catch (const derp::FrameError&) {}
    try {
        const auto key = derp::parse_server_key(p);
        check(p.size() >= derp::kMagic.size() + derp::kKeyLen && same(p.first(derp::kMagic.size()), derp::kMagic));
        check(same(key.bytes, p.subspan(derp::kMagic.size(), derp::kKeyLen)));
    } catch (const derp::FrameError&) {}
    try {
        server_info_round_trip(derp::open_server_info(p, client_key(), server_pub()));
    } catch (const derp::FrameError&) {}
    // What a mesh watcher reads: any payload of a key or more parses; what has IP and port
    // encodes back to the same bytes when it carried the current 51-byte layout.
    try {
        const auto m = derp::parse_peer_present(p);
        check(p.size() >= derp::kKeyLen && same(m.key.bytes, p.first(derp::kKeyLen)));
        if (p.size() == derp::kKeyLen + 19 && m.ip) {
            const auto again = derp::encode_peer_present(m.key, *m.ip, m.port, m.flags);
            check(same(ByteView(again).subspan(derp::kHeaderLen), p));
        }
    } catch (const derp::FrameError&) {
        check(p.size() < derp::kKeyLen);
    }
    try {
        const auto g = derp::parse_peer_gone(p);
        check(same(g.key.bytes, p.first(derp::kKeyLen)));
    } catch (const derp::FrameError&) {
        check(p.size() < derp::kKeyLen);
    }
}

// nonce(24) | box of `plain`, the nonce taken from the input so runs repeat.
Bytes seal(ByteView plain, const hs::PublicKey& to, const hs::PrivateKey& from, std::uint8_t nonce_byte) {
    static const bool ok = sodium_init() >= 0;
    check(ok);
    Bytes out(derp::kNonceLen + derp::kBoxOverhead + plain.size());
    std::fill_n(out.begin(), derp::kNonceLen, nonce_byte);
    check(crypto_box_easy(out.data() + derp::kNonceLen, plain.data(), plain.size(), out.data(), to.bytes.data(),
                          from.bytes.data()) == 0);
    return out;
}

// True when `in` is a JSON object none of whose keys (in any case) is in `known`: such a box
// must open, since unknown keys are ignored.
bool object_without(ByteView in, std::initializer_list<std::string_view> known, bool& object) {
    const auto j = nlohmann::json::parse(in.begin(), in.end(), nullptr, false);
    object = !j.is_discarded() && j.is_object();
    if (!object) return false;
    for (const auto& [name, v] : j.items()) {
        std::string key = name;
        for (auto& c : key) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        if (std::find(known.begin(), known.end(), key) != known.end()) return false;
    }
    return true;
}

// The input as the JSON a client and a server put in their boxes.
void sealed_json(ByteView in) {
    const std::uint8_t nonce_byte = in.empty() ? 0 : in[0];
    bool object = false;

    const bool plain_client = object_without(in, {"version", "meshkey", "canackpings", "isprober", "appname"}, object);
    Bytes payload(client_pub().bytes.begin(), client_pub().bytes.end());
    const auto box = seal(in, server_pub(), client_key(), nonce_byte);
    payload.insert(payload.end(), box.begin(), box.end());
    const auto cf = one_frame(derp::encode_frame(FrameType::ClientInfo, payload), FrameType::ClientInfo);
    try {
        const auto h = derp::open_client_info(cf.payload(), server_key());
        check(object && h.key == client_pub());
        client_info_round_trip(h.info);
    } catch (const derp::FrameError&) {
        check(!plain_client || payload.size() > derp::kMaxClientInfoLen);
    }

    const bool plain_server =
        object_without(in, {"version", "tokenbucketbytespersecond", "tokenbucketbytesburst"}, object);
    const auto sf =
        one_frame(derp::encode_frame(FrameType::ServerInfo, seal(in, client_pub(), server_key(), nonce_byte)),
                  FrameType::ServerInfo);
    try {
        const auto info = derp::open_server_info(sf.payload(), client_key(), server_pub());
        check(object);
        server_info_round_trip(info);
    } catch (const derp::FrameError&) {
        check(!plain_server || sf.payload().size() > derp::kMaxInfoLen);
    }
}

hs::PublicKey key_from(ByteView in, std::size_t skip) {
    hs::PublicKey k;
    for (std::size_t i = 0; i < k.bytes.size() && skip + i < in.size(); ++i) k.bytes[i] = in[skip + i];
    return k;
}

std::uint32_t u32_from(ByteView in, std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = v << 8 | (at + i < in.size() ? in[at + i] : 0);
    return v;
}

// Frames built from the input by every encoder: each decodes to itself and its fields read back,
// and the lot sent as one stream (cut where the input says) comes out frame by frame.
void encoders(ByteView in, std::size_t cut) {
    const auto k1 = key_from(in, 0), k2 = key_from(in, 32);
    const auto data = in.subspan(std::min<std::size_t>(in.size(), 1));
    const std::uint8_t b0 = in.empty() ? 0 : in[0];
    std::array<std::uint8_t, derp::kPingLen> ping{};
    for (std::size_t i = 0; i < ping.size() && i < in.size(); ++i) ping[i] = in[in.size() - 1 - i];
    hs::IpAddr ip;
    ip.v6 = (b0 & 1) != 0;
    for (std::size_t i = 0; i < ip.size() && i < in.size(); ++i) ip.b[i] = in[i];
    const auto port = static_cast<std::uint16_t>(u32_from(in, 2));

    std::vector<Bytes> sent;
    auto add = [&](Bytes b, FrameType t) {
        const auto f = one_frame(b, t);
        sent.push_back(std::move(b));
        return f;
    };

    // Whatever type byte the input starts with, an unknown type included.
    {
        const auto t = static_cast<FrameType>(b0);
        const auto f = add(derp::encode_frame(t, data), t);
        check(same(f.payload(), data));
    }
    {
        const auto f = add(derp::encode_send_packet(k1, data), FrameType::SendPacket);
        check(derp::key_at(f.payload()) == k1 && same(f.payload().subspan(derp::kKeyLen), data));
    }
    {
        const auto f = add(derp::encode_recv_packet(k2, in), FrameType::RecvPacket);
        check(derp::key_at(f.payload()) == k2 && same(f.payload().subspan(derp::kKeyLen), in));
    }
    {
        const auto f = add(derp::encode_forward_packet(k1, k2, data), FrameType::ForwardPacket);
        check(derp::key_at(f.payload()) == k1 && derp::key_at(f.payload().subspan(derp::kKeyLen)) == k2);
        check(same(f.payload().subspan(2 * derp::kKeyLen), data));
    }
    {
        const auto reason = static_cast<derp::PeerGoneReason>(b0 & 1);
        const auto f = add(derp::encode_peer_gone(k2, reason), FrameType::PeerGone);
        check(f.payload().size() == derp::kKeyLen + 1 && derp::key_at(f.payload()) == k2);
        check(f.payload()[derp::kKeyLen] == static_cast<std::uint8_t>(reason));
    }
    {
        const auto f = add(derp::encode_peer_present(k1, ip, port, b0), FrameType::PeerPresent);
        const auto p = f.payload();
        check(p.size() == derp::kKeyLen + 16 + 2 + 1 && derp::key_at(p) == k1);
        std::array<std::uint8_t, 16> want{};
        if (ip.v6) {
            want = ip.b;
        } else {
            want[10] = want[11] = 0xff;
            std::copy_n(ip.b.begin(), 4, want.begin() + 12);
        }
        check(same(p.subspan(derp::kKeyLen, 16), want));
        check((p[48] << 8 | p[49]) == port && p[50] == b0);
    }
    check(same(add(derp::encode_ping(ping), FrameType::Ping).payload(), ping));
    check(same(add(derp::encode_pong(ping), FrameType::Pong).payload(), ping));
    {
        const std::string text(in.begin(), in.end());
        check(same(add(derp::encode_health(text), FrameType::Health).payload(), in));
    }
    {
        const auto f = add(derp::encode_restarting(u32_from(in, 0), u32_from(in, 4)), FrameType::Restarting);
        check(f.payload().size() == 8 && be32(f.payload().data()) == u32_from(in, 0) &&
              be32(f.payload().data() + 4) == u32_from(in, 4));
    }
    {
        const auto f = add(derp::encode_note_preferred((b0 & 1) != 0), FrameType::NotePreferred);
        check(f.payload().size() == 1 && f.payload()[0] == (b0 & 1));
    }
    check(add(derp::encode_keepalive(), FrameType::KeepAlive).payload().empty());
    check(add(derp::encode_watch_conns(), FrameType::WatchConns).payload().empty());
    check(same(add(derp::encode_close_peer(k2), FrameType::ClosePeer).payload(), k2.bytes));
    check(derp::parse_server_key(add(derp::encode_server_key(k1), FrameType::ServerKey).payload()) == k1);

    Bytes stream;
    for (const auto& b : sent) stream.insert(stream.end(), b.begin(), b.end());
    const auto frames = decode(stream, cut % (stream.size() + 1));
    check(frames && frames->size() == sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) check((*frames)[i].bytes == sent[i]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView in(data, size);
    const std::size_t cut = size == 0 ? 0 : std::size_t{data[size - 1]} * size / 255;

    if (const auto frames = decode(in, cut)) {
        for (const auto& f : *frames) parse_payloads(f);
    }
    // The same bytes under the limit a client uses for what a server sends.
    if (const auto frames = decode(in, size - cut, derp::kMaxInfoLen)) {
        std::size_t total = 0;
        for (const auto& f : *frames) total += f.bytes.size();
        check(total <= size);
    }

    sealed_json(in);
    encoders(in, cut);
    return 0;
}
