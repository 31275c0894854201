// DERP wire format: frame header, frame types, the handshake boxes, and a decoder that turns a
// byte stream into whole frames. Pure bytes in, bytes out: no sockets, no clocks.
//
// Every frame is type(1) | length(4, big-endian) | payload(length). The length counts the
// payload only. Unknown types are skipped by both ends, which is how the protocol grows.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/keys.h"
#include "common/base/netaddr.h"

namespace hs::derp {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// A frame that breaks the protocol (oversize, wrong length for its type, a box that does not
// open). The connection that sent it is closed; what() says why, for the log.
struct FrameError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline constexpr int kProtocolVersion = 2;
inline constexpr std::size_t kHeaderLen = 5;
inline constexpr std::size_t kKeyLen = 32;
inline constexpr std::size_t kNonceLen = 24;
inline constexpr std::size_t kBoxOverhead = 16;  // Poly1305 tag, ahead of the ciphertext
// "DERP" followed by the key emoji in UTF-8, at the start of the ServerKey frame.
inline constexpr std::array<std::uint8_t, 8> kMagic{0x44, 0x45, 0x52, 0x50, 0xf0, 0x9f, 0x94, 0x91};
// Data bytes in one SendPacket/RecvPacket/ForwardPacket, keys excluded.
inline constexpr std::size_t kMaxPacketSize = 64 << 10;
// The ServerInfo box; also the most a client accepts in any frame.
inline constexpr std::size_t kMaxInfoLen = 1 << 20;
// The ClientInfo frame a server accepts: key, nonce and a box of at least the tag.
inline constexpr std::size_t kMinClientInfoLen = kKeyLen + kNonceLen + kBoxOverhead;
inline constexpr std::size_t kMaxClientInfoLen = 256 << 10;
// What a server buffers for one client frame; larger announcements close the connection.
inline constexpr std::size_t kMaxServerReadFrame = kMaxClientInfoLen;
inline constexpr std::size_t kPingLen = 8;
inline constexpr std::size_t kMaxPingLen = 1000;

enum class FrameType : std::uint8_t {
    ServerKey = 0x01,      // S->C  magic(8) | server public key(32) | [future bytes]
    ClientInfo = 0x02,     // C->S  client public key(32) | nonce(24) | box(JSON ClientInfo)
    ServerInfo = 0x03,     // S->C  nonce(24) | box(JSON ServerInfo)
    SendPacket = 0x04,     // C->S  destination key(32) | data(<= 64 KiB)
    RecvPacket = 0x05,     // S->C  source key(32) | data
    KeepAlive = 0x06,      // S->C  empty; no reply expected
    NotePreferred = 0x07,  // C->S  1 byte: 0x01 this is my home DERP, 0x00 it is not
    PeerGone = 0x08,       // S->C  peer key(32) | reason(1), see PeerGoneReason
    PeerPresent = 0x09,    // S->C  peer key(32) | IP(16, v4-mapped) | port(2) | flags(1)
    ForwardPacket = 0x0a,  // C->S  source key(32) | destination key(32) | data; mesh peers only
    WatchConns = 0x10,     // C->S  empty; mesh peers only: stream PeerPresent/PeerGone for all
    ClosePeer = 0x11,      // C->S  target key(32); mesh peers only: disconnect that key
    Ping = 0x12,           // both  8 opaque bytes; answered by a Pong
    Pong = 0x13,           // both  the 8 bytes of the Ping being answered
    Health = 0x14,         // S->C  UTF-8 text of a problem; empty means healthy again
    Restarting = 0x15,     // S->C  reconnect-in ms(4) | try-for ms(4)
};

enum class PeerGoneReason : std::uint8_t {
    Disconnected = 0x00,  // a peer that sent you packets has left the region
    NotHere = 0x01,       // you sent a disco packet to a key this server does not know
};

// PeerPresent flag bits. A server sets at least one so old and new receivers agree.
inline constexpr std::uint8_t kPresentRegular = 0x01;
inline constexpr std::uint8_t kPresentMeshPeer = 0x02;
inline constexpr std::uint8_t kPresentProber = 0x04;
inline constexpr std::uint8_t kPresentNotIdeal = 0x08;

// A whole frame, header included, so a SendPacket can become a RecvPacket in place.
struct Frame {
    Bytes bytes;

    FrameType type() const { return static_cast<FrameType>(bytes[0]); }
    ByteView payload() const { return ByteView(bytes).subspan(kHeaderLen); }
};

// The JSON inside the ClientInfo box. Keys are matched case-insensitively and unknown keys
// ignored, as Go's decoder does.
struct ClientInfo {
    int version = 0;
    std::optional<Key32> mesh_key;
    bool can_ack_pings = false;
    bool is_prober = false;
    std::string app_name;
};

struct ServerInfo {
    int version = kProtocolVersion;
    // Non-zero values make the client rate-limit its own sends.
    std::uint64_t token_bucket_bytes_per_second = 0;
    std::uint64_t token_bucket_bytes_burst = 0;
};

// The opened ClientInfo frame: the key the client proved it holds, and what it said.
struct ClientHello {
    PublicKey key;
    ClientInfo info;
};

// True when a packet's data starts like a disco message (the magic and room for its key and
// nonce); such packets get their own queue and a NotHere answer when undeliverable.
bool looks_like_disco(ByteView data);

// --- encoders: each returns one complete frame -----------------------------------------------
void append_header(Bytes& out, FrameType type, std::uint32_t payload_len);
Bytes encode_frame(FrameType type, ByteView payload);

Bytes encode_server_key(const PublicKey& server);
// Seals `info` from the server key to the client key with a fresh random nonce.
Bytes encode_server_info(const PrivateKey& server, const PublicKey& client, const ServerInfo& info = {});
Bytes encode_recv_packet(const PublicKey& src, ByteView data);
Bytes encode_keepalive();
Bytes encode_ping(const std::array<std::uint8_t, kPingLen>& data);
Bytes encode_pong(const std::array<std::uint8_t, kPingLen>& data);
Bytes encode_peer_gone(const PublicKey& peer, PeerGoneReason reason);
// `ip` is sent as 16 bytes (IPv4 mapped into IPv6).
Bytes encode_peer_present(const PublicKey& peer, const IpAddr& ip, std::uint16_t port, std::uint8_t flags);
Bytes encode_health(std::string_view problem);
Bytes encode_restarting(std::uint32_t reconnect_in_ms, std::uint32_t try_for_ms);

// Client->server frames: used by tests and by a derper that dials its mesh peers.
Bytes encode_client_info(const PrivateKey& client, const PublicKey& server, const ClientInfo& info);
Bytes encode_send_packet(const PublicKey& dst, ByteView data);
Bytes encode_forward_packet(const PublicKey& src, const PublicKey& dst, ByteView data);
Bytes encode_note_preferred(bool preferred);
Bytes encode_watch_conns();
Bytes encode_close_peer(const PublicKey& peer);

// --- handshake payloads ------------------------------------------------------------------------
// Opens a ClientInfo payload with the server's private key and the key in the frame, then
// parses the JSON. Throws FrameError on a bad size, a box that does not open (the client
// does not hold that key), invalid JSON or a meshKey that is not 64 hex digits.
ClientHello open_client_info(ByteView payload, const PrivateKey& server);
// The client side of the same: opens a ServerInfo payload. Throws FrameError.
ServerInfo open_server_info(ByteView payload, const PrivateKey& client, const PublicKey& server);
// Checks the magic of a ServerKey payload and returns the key. Throws FrameError.
PublicKey parse_server_key(ByteView payload);

// PeerPresent and PeerGone as a watcher reads them. Older servers sent shorter PeerPresent
// frames (key only, or key+IP+port) and PeerGone without a reason; both are accepted.
struct PeerPresentMsg {
    PublicKey key;
    std::optional<IpAddr> ip;
    std::uint16_t port = 0;
    std::uint8_t flags = 0;
};
struct PeerGoneMsg {
    PublicKey key;
    PeerGoneReason reason = PeerGoneReason::Disconnected;
};
// Throw FrameError when the payload is shorter than a key.
PeerPresentMsg parse_peer_present(ByteView payload);
PeerGoneMsg parse_peer_gone(ByteView payload);

// Reads a 32-byte key at the start of `p` (which must be long enough).
PublicKey key_at(ByteView p);

// --- decoding ----------------------------------------------------------------------------------
// Collects bytes as they arrive and yields whole frames. Reads can go straight into its
// buffer (prepare/commit) or be copied in (feed).
class FrameDecoder {
public:
    explicit FrameDecoder(std::size_t max_payload = kMaxServerReadFrame) : max_payload_(max_payload) {}

    void set_max_payload(std::size_t n) { max_payload_ = n; }
    // Space for at least `n` more bytes; commit(k) then makes k of them part of the stream.
    std::span<std::uint8_t> prepare(std::size_t n);
    void commit(std::size_t n) { end_ += n; }
    void feed(ByteView data);

    // The next whole frame, or nullopt until more bytes arrive. Throws FrameError as soon as
    // a header announces a payload over the limit (before the payload is buffered).
    std::optional<Frame> next();
    std::size_t buffered() const { return end_ - start_; }

private:
    std::size_t max_payload_;
    Bytes buf_;
    std::size_t start_ = 0, end_ = 0;
};

}  // namespace hs::derp
