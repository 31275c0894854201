#include "common/derp/frame.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

namespace hs::derp {
namespace {

void ensure_sodium() {
    static const bool ok = sodium_init() >= 0;
    if (!ok) throw FrameError("libsodium failed to initialise");
}

void put_u32(Bytes& out, std::uint32_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 24));
    out.push_back(static_cast<std::uint8_t>(v >> 16));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}

std::uint32_t get_u32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

void put(Bytes& out, ByteView data) { out.insert(out.end(), data.begin(), data.end()); }
void put(Bytes& out, const PublicKey& k) { out.insert(out.end(), k.bytes.begin(), k.bytes.end()); }

std::uint32_t checked_len(std::size_t n) {
    // The writer-side cap of Tailscale's library; nothing legitimate comes near it.
    if (n > (10u << 20)) throw FrameError("frame payload of " + std::to_string(n) + " bytes is too large");
    return static_cast<std::uint32_t>(n);
}

// nonce(24) | box: what both handshake frames carry after any key.
Bytes seal(const Key32& to_public, const Key32& from_private, const std::string& plain) {
    ensure_sodium();
    Bytes out(kNonceLen + kBoxOverhead + plain.size());
    randombytes_buf(out.data(), kNonceLen);
    if (crypto_box_easy(out.data() + kNonceLen, reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
                        out.data(), to_public.data(), from_private.data()) != 0)
        throw FrameError("cannot seal box (peer key is a low-order point)");
    return out;
}

std::string open_box(ByteView nonce_and_box, const Key32& from_public, const Key32& to_private, const char* what) {
    ensure_sodium();
    if (nonce_and_box.size() < kNonceLen + kBoxOverhead) throw FrameError(std::string(what) + ": box too short");
    const auto box = nonce_and_box.subspan(kNonceLen);
    std::string plain(box.size() - kBoxOverhead, '\0');
    if (crypto_box_open_easy(reinterpret_cast<unsigned char*>(plain.data()), box.data(), box.size(),
                             nonce_and_box.data(), from_public.data(), to_private.data()) != 0)
        throw FrameError(std::string(what) + ": box does not open with the announced key");
    return plain;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

nlohmann::json parse_object(const std::string& text, const char* what) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw FrameError(std::string(what) + ": not a JSON object");
    return j;
}

// Go's decoder leaves a field alone for null and fails on a value of the wrong type.
template <class T>
bool get_field(const nlohmann::json& v, T& out, const char* what, const std::string& key) {
    if (v.is_null()) return false;
    try {
        if constexpr (std::is_same_v<T, bool>) {
            if (!v.is_boolean()) throw std::invalid_argument("");
        } else if constexpr (std::is_integral_v<T>) {
            if (!v.is_number_integer()) throw std::invalid_argument("");
        } else {
            if (!v.is_string()) throw std::invalid_argument("");
        }
        out = v.get<T>();
        return true;
    } catch (const std::exception&) {
        throw FrameError(std::string(what) + ": field " + key + " has the wrong type");
    }
}

}  // namespace

bool looks_like_disco(ByteView data) {
    static constexpr std::uint8_t magic[] = {0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac};  // "TS" + speech balloon
    constexpr std::size_t min_len = sizeof magic + kKeyLen + kNonceLen;
    return data.size() >= min_len && std::memcmp(data.data(), magic, sizeof magic) == 0;
}

void append_header(Bytes& out, FrameType type, std::uint32_t payload_len) {
    out.push_back(static_cast<std::uint8_t>(type));
    put_u32(out, payload_len);
}

Bytes encode_frame(FrameType type, ByteView payload) {
    Bytes out;
    out.reserve(kHeaderLen + payload.size());
    append_header(out, type, checked_len(payload.size()));
    put(out, payload);
    return out;
}

Bytes encode_server_key(const PublicKey& server) {
    Bytes out;
    append_header(out, FrameType::ServerKey, kMagic.size() + kKeyLen);
    put(out, kMagic);
    put(out, server);
    return out;
}

Bytes encode_server_info(const PrivateKey& server, const PublicKey& client, const ServerInfo& info) {
    nlohmann::json j{{"version", info.version}};
    if (info.token_bucket_bytes_per_second) j["TokenBucketBytesPerSecond"] = info.token_bucket_bytes_per_second;
    if (info.token_bucket_bytes_burst) j["TokenBucketBytesBurst"] = info.token_bucket_bytes_burst;
    return encode_frame(FrameType::ServerInfo, seal(client.bytes, server.bytes, j.dump()));
}

Bytes encode_recv_packet(const PublicKey& src, ByteView data) {
    Bytes out;
    out.reserve(kHeaderLen + kKeyLen + data.size());
    append_header(out, FrameType::RecvPacket, checked_len(kKeyLen + data.size()));
    put(out, src);
    put(out, data);
    return out;
}

Bytes encode_keepalive() { return encode_frame(FrameType::KeepAlive, {}); }
Bytes encode_ping(const std::array<std::uint8_t, kPingLen>& data) { return encode_frame(FrameType::Ping, data); }
Bytes encode_pong(const std::array<std::uint8_t, kPingLen>& data) { return encode_frame(FrameType::Pong, data); }

Bytes encode_peer_gone(const PublicKey& peer, PeerGoneReason reason) {
    Bytes out;
    append_header(out, FrameType::PeerGone, kKeyLen + 1);
    put(out, peer);
    out.push_back(static_cast<std::uint8_t>(reason));
    return out;
}

Bytes encode_peer_present(const PublicKey& peer, const IpAddr& ip, std::uint16_t port, std::uint8_t flags) {
    Bytes out;
    append_header(out, FrameType::PeerPresent, kKeyLen + 16 + 2 + 1);
    put(out, peer);
    std::array<std::uint8_t, 16> a{};
    if (ip.v6) {
        a = ip.b;
    } else {
        a[10] = a[11] = 0xff;
        std::copy_n(ip.b.begin(), 4, a.begin() + 12);
    }
    put(out, a);
    out.push_back(static_cast<std::uint8_t>(port >> 8));
    out.push_back(static_cast<std::uint8_t>(port));
    out.push_back(flags);
    return out;
}

Bytes encode_health(std::string_view problem) {
    return encode_frame(FrameType::Health,
                        ByteView(reinterpret_cast<const std::uint8_t*>(problem.data()), problem.size()));
}

Bytes encode_restarting(std::uint32_t reconnect_in_ms, std::uint32_t try_for_ms) {
    Bytes out;
    append_header(out, FrameType::Restarting, 8);
    put_u32(out, reconnect_in_ms);
    put_u32(out, try_for_ms);
    return out;
}

Bytes encode_client_info(const PrivateKey& client, const PublicKey& server, const ClientInfo& info) {
    // Field names and order as Tailscale's client emits them.
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    if (info.mesh_key) j["meshKey"] = to_hex(*info.mesh_key);
    if (info.version) j["version"] = info.version;
    j["CanAckPings"] = info.can_ack_pings;
    if (info.is_prober) j["IsProber"] = true;
    if (!info.app_name.empty()) j["AppName"] = info.app_name;
    Bytes payload;
    put(payload, client.public_key());
    put(payload, seal(server.bytes, client.bytes, j.dump()));
    return encode_frame(FrameType::ClientInfo, payload);
}

Bytes encode_send_packet(const PublicKey& dst, ByteView data) {
    Bytes out = encode_recv_packet(dst, data);
    out[0] = static_cast<std::uint8_t>(FrameType::SendPacket);
    return out;
}

Bytes encode_forward_packet(const PublicKey& src, const PublicKey& dst, ByteView data) {
    Bytes out;
    append_header(out, FrameType::ForwardPacket, checked_len(2 * kKeyLen + data.size()));
    put(out, src);
    put(out, dst);
    put(out, data);
    return out;
}

Bytes encode_note_preferred(bool preferred) {
    const std::uint8_t b = preferred ? 1 : 0;
    return encode_frame(FrameType::NotePreferred, ByteView(&b, 1));
}

Bytes encode_watch_conns() { return encode_frame(FrameType::WatchConns, {}); }
Bytes encode_close_peer(const PublicKey& peer) { return encode_frame(FrameType::ClosePeer, peer.bytes); }

PublicKey key_at(ByteView p) {
    PublicKey k;
    std::memcpy(k.bytes.data(), p.data(), kKeyLen);
    return k;
}

PeerPresentMsg parse_peer_present(ByteView p) {
    if (p.size() < kKeyLen) throw FrameError("PeerPresent: shorter than a key");
    PeerPresentMsg m;
    m.key = key_at(p);
    if (p.size() >= kKeyLen + 18) {
        IpAddr ip;
        const auto a = p.subspan(kKeyLen, 16);
        static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::equal(a.begin(), a.begin() + 12, mapped)) {
            std::copy_n(a.begin() + 12, 4, ip.b.begin());
        } else {
            ip.v6 = true;
            std::copy(a.begin(), a.end(), ip.b.begin());
        }
        m.ip = ip;
        m.port = static_cast<std::uint16_t>(p[kKeyLen + 16] << 8 | p[kKeyLen + 17]);
    }
    if (p.size() >= kKeyLen + 19) m.flags = p[kKeyLen + 18];
    return m;
}

PeerGoneMsg parse_peer_gone(ByteView p) {
    if (p.size() < kKeyLen) throw FrameError("PeerGone: shorter than a key");
    PeerGoneMsg m;
    m.key = key_at(p);
    if (p.size() > kKeyLen) m.reason = static_cast<PeerGoneReason>(p[kKeyLen]);
    return m;
}

ClientHello open_client_info(ByteView payload, const PrivateKey& server) {
    if (payload.size() < kMinClientInfoLen || payload.size() > kMaxClientInfoLen)
        throw FrameError("ClientInfo: payload of " + std::to_string(payload.size()) + " bytes");
    ClientHello hello;
    hello.key = key_at(payload);
    const std::string json = open_box(payload.subspan(kKeyLen), hello.key.bytes, server.bytes, "ClientInfo");
    const auto j = parse_object(json, "ClientInfo");
    for (const auto& [name, v] : j.items()) {
        const std::string key = lower(name);
        if (key == "version") {
            get_field(v, hello.info.version, "ClientInfo", name);
        } else if (key == "meshkey") {
            std::string hex;
            if (!get_field(v, hex, "ClientInfo", name)) continue;
            try {
                hello.info.mesh_key = from_hex(hex, "meshKey");
            } catch (const KeyError& e) {
                throw FrameError(std::string("ClientInfo: ") + e.what());
            }
        } else if (key == "canackpings") {
            get_field(v, hello.info.can_ack_pings, "ClientInfo", name);
        } else if (key == "isprober") {
            get_field(v, hello.info.is_prober, "ClientInfo", name);
        } else if (key == "appname") {
            get_field(v, hello.info.app_name, "ClientInfo", name);
        }
    }
    return hello;
}

ServerInfo open_server_info(ByteView payload, const PrivateKey& client, const PublicKey& server) {
    if (payload.size() > kMaxInfoLen) throw FrameError("ServerInfo: too large");
    const auto j = parse_object(open_box(payload, server.bytes, client.bytes, "ServerInfo"), "ServerInfo");
    ServerInfo info;
    info.version = 0;
    for (const auto& [name, v] : j.items()) {
        const std::string key = lower(name);
        if (key == "version") get_field(v, info.version, "ServerInfo", name);
        if (key == "tokenbucketbytespersecond") get_field(v, info.token_bucket_bytes_per_second, "ServerInfo", name);
        if (key == "tokenbucketbytesburst") get_field(v, info.token_bucket_bytes_burst, "ServerInfo", name);
    }
    return info;
}

PublicKey parse_server_key(ByteView payload) {
    if (payload.size() < kMagic.size() + kKeyLen) throw FrameError("ServerKey: too short");
    if (!std::equal(kMagic.begin(), kMagic.end(), payload.begin())) throw FrameError("ServerKey: bad magic");
    return key_at(payload.subspan(kMagic.size()));
}

std::span<std::uint8_t> FrameDecoder::prepare(std::size_t n) {
    if (buf_.size() - end_ < n) {
        // Slide the unread bytes to the front before growing, so the buffer stays about one
        // frame plus one read in size.
        if (start_ > 0) {
            std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
            end_ -= start_;
            start_ = 0;
        }
        if (buf_.size() - end_ < n) buf_.resize(end_ + n);
    }
    return std::span<std::uint8_t>(buf_).subspan(end_, n);
}

void FrameDecoder::feed(ByteView data) {
    auto dst = prepare(data.size());
    std::copy(data.begin(), data.end(), dst.begin());
    commit(data.size());
}

std::optional<Frame> FrameDecoder::next() {
    if (end_ - start_ < kHeaderLen) {
        if (start_ == end_) {
            start_ = end_ = 0;
            // An idle connection should not keep the memory of its largest frame.
            if (buf_.size() > (64u << 10)) Bytes().swap(buf_);
        }
        return std::nullopt;
    }
    const std::size_t len = get_u32(buf_.data() + start_ + 1);
    if (len > max_payload_)
        throw FrameError("frame type 0x" + std::string(1, "0123456789abcdef"[buf_[start_] >> 4]) +
                         std::string(1, "0123456789abcdef"[buf_[start_] & 15]) + " announces " + std::to_string(len) +
                         " bytes, over the limit of " + std::to_string(max_payload_));
    if (end_ - start_ < kHeaderLen + len) return std::nullopt;
    Frame f;
    f.bytes.assign(buf_.begin() + static_cast<std::ptrdiff_t>(start_),
                   buf_.begin() + static_cast<std::ptrdiff_t>(start_ + kHeaderLen + len));
    start_ += kHeaderLen + len;
    if (start_ == end_) start_ = end_ = 0;
    return f;
}

}  // namespace hs::derp
