// STUN (RFC 5389) as Tailscale uses it: a Binding Request in, a Binding Success Response with
// XOR-MAPPED-ADDRESS out. Pure bytes; nothing here throws, so a server can count what it drops.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "common/base/netaddr.h"

namespace hs::stun {

inline constexpr std::uint16_t kDefaultPort = 3478;
inline constexpr std::size_t kHeaderLen = 20;
inline constexpr std::uint32_t kMagicCookie = 0x2112a442;
// The largest response build_response writes (IPv6).
inline constexpr std::size_t kMaxResponseLen = 44;

using TxId = std::array<std::uint8_t, 12>;

enum class Error : std::uint8_t {
    None,
    TooShort,           // under the 20-byte header
    NotStun,            // top bits of the type set, or no magic cookie
    NotBindingRequest,  // STUN, but another method or class
    BadLength,          // header length not a multiple of 4 or not the datagram's size
    BadAttribute,       // an attribute runs past the message
    BadFingerprint,     // FINGERPRINT present but wrong, or not the last attribute
};
inline constexpr std::size_t kErrorKinds = 7;
const char* error_name(Error e);

// Checks a Binding Request and yields its transaction ID. SOFTWARE is not required (any
// client may ask); FINGERPRINT is verified when present.
Error parse_request(std::span<const std::uint8_t> pkt, TxId& txid);

// Writes the Binding Success Response for a request from ip:port into `out` and returns its
// length (32 for IPv4, 44 for IPv6). An IPv4-mapped IPv6 source is answered as IPv4.
std::size_t build_response(const TxId& txid, const IpAddr& ip, std::uint16_t port,
                           std::span<std::uint8_t, kMaxResponseLen> out);

// The 40-byte request tailscaled sends: SOFTWARE "tailnode" and FINGERPRINT.
std::array<std::uint8_t, 40> tailscale_request(const TxId& txid);

// The client side: the mapped address in a Binding Success Response for `txid` (XOR-MAPPED-
// ADDRESS, its 0x8020 variant or MAPPED-ADDRESS), or nullopt.
struct Mapped {
    IpAddr ip;
    std::uint16_t port = 0;
};
std::optional<Mapped> parse_response(std::span<const std::uint8_t> pkt, const TxId& txid);

// RFC 5389 FINGERPRINT: CRC-32 (IEEE) XOR 0x5354554e.
std::uint32_t fingerprint(std::span<const std::uint8_t> data);

// Counters a STUN server keeps; safe to bump from several threads.
struct Counters {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> responses{0};
    std::atomic<std::uint64_t> send_errors{0};
    std::array<std::atomic<std::uint64_t>, kErrorKinds> malformed{};

    // Prometheus text, metric names starting with "stun_".
    std::string prometheus_text() const;
    std::uint64_t malformed_total() const;
};

// Parses a datagram and builds the answer. Returns the response length, or 0 when the packet
// must be dropped (counted in `c.malformed` by reason).
std::size_t handle_packet(std::span<const std::uint8_t> pkt, const IpAddr& from_ip, std::uint16_t from_port,
                          std::span<std::uint8_t, kMaxResponseLen> out, Counters& c);

}  // namespace hs::stun
