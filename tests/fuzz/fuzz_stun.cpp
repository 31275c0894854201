// STUN on hostile datagrams. Nothing in stun/message.h throws, so the checks are invariants: parse_request
// and handle_packet agree and count every drop by its reason; a request that parses is a
// well-formed Binding Request whose answer, for IPv4, IPv6 and v4-mapped sources taken from the
// input, parse_response reads back to the same address and port (and to nothing under another
// transaction ID); the client parser survives any bytes; and the request tailscaled sends for the
// input's transaction ID parses, while flipping any bit the fingerprint covers makes it fail.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/base/netaddr.h"
#include "common/stun/message.h"

namespace {

namespace stun = hs::stun;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

// What a client should read back for a source address: v4-mapped IPv6 comes back as IPv4.
hs::IpAddr unmapped(const hs::IpAddr& ip) {
    static constexpr std::array<std::uint8_t, 12> prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!ip.v6 || !std::equal(prefix.begin(), prefix.end(), ip.b.begin())) return ip;
    hs::IpAddr v4;
    std::copy_n(ip.b.begin() + 12, 4, v4.b.begin());
    return v4;
}

void answer(std::span<const std::uint8_t> pkt, stun::Error e, const stun::TxId& txid, const hs::IpAddr& ip,
            std::uint16_t port) {
    stun::Counters c;
    std::array<std::uint8_t, stun::kMaxResponseLen> out{};
    const std::size_t n = stun::handle_packet(pkt, ip, port, out, c);
    check(c.prometheus_text().find("stun_requests_total ") != std::string::npos);
    if (e != stun::Error::None) {
        check(n == 0 && c.requests == 0 && c.malformed_total() == 1);
        check(c.malformed[static_cast<std::size_t>(e)] == 1);
        return;
    }
    check(c.requests == 1 && c.malformed_total() == 0);
    const auto want = unmapped(ip);
    check(n == (want.v6 ? 44u : 32u));
    const auto resp = std::span<const std::uint8_t>(out).first(n);
    const auto m = stun::parse_response(resp, txid);
    check(m && m->ip == want && m->port == port);
    stun::TxId other = txid;
    other[11] ^= 0x80;
    check(!stun::parse_response(resp, other));
    stun::TxId again{};
    check(stun::parse_request(resp, again) == stun::Error::NotBindingRequest);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> pkt(data, size);

    stun::TxId txid{};
    const auto e = stun::parse_request(pkt, txid);
    check(static_cast<std::size_t>(e) < stun::kErrorKinds && std::string_view(stun::error_name(e)) != "unknown");
    check((size < stun::kHeaderLen) == (e == stun::Error::TooShort));
    if (e == stun::Error::None) {
        // A Binding Request: method 1, the cookie, a length that is the rest of the datagram.
        check(be16(data) == 0x0001 && be16(data + 4) == 0x2112 && be16(data + 6) == 0xa442);
        check(stun::kHeaderLen + be16(data + 2) == size && size % 4 == 0);
        check(std::equal(txid.begin(), txid.end(), data + 8));
    }

    // Sources made of the input's bytes: IPv4, IPv6 and v4-mapped IPv6.
    std::array<std::uint8_t, 18> b{};
    for (std::size_t i = 0; i < b.size() && size > 0; ++i) b[i] = data[(i * 7 + 3) % size];
    const auto port = static_cast<std::uint16_t>(b[16] << 8 | b[17]);
    hs::IpAddr v4, v6, mapped;
    std::copy_n(b.begin(), 4, v4.b.begin());
    v6.v6 = true;
    std::copy_n(b.begin(), 16, v6.b.begin());
    mapped.v6 = true;
    mapped.b[10] = mapped.b[11] = 0xff;
    std::copy_n(b.begin() + 4, 4, mapped.b.begin() + 12);
    answer(pkt, e, txid, v4, port);
    answer(pkt, e, txid, v6, static_cast<std::uint16_t>(port ^ 0x5a5a));
    answer(pkt, e, txid, mapped, 0);

    // The client side on any bytes, under the input's own transaction ID when it has one.
    stun::TxId id{};
    if (size >= stun::kHeaderLen) std::copy_n(data + 8, id.size(), id.begin());
    if (const auto m = stun::parse_response(pkt, id)) {
        check(size >= stun::kHeaderLen && be16(data) == 0x0101);
        check(unmapped(m->ip) == m->ip);
    }

    // tailscaled's request for this transaction ID, and one bit flipped where the input says.
    const auto req = stun::tailscale_request(id);
    stun::TxId got{};
    check(stun::parse_request(req, got) == stun::Error::None && got == id);
    static constexpr std::array<std::size_t, 24> covered{8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                                         24, 25, 26, 27, 28, 29, 30, 31, 36, 37, 38, 39};
    auto bad = req;
    const std::uint8_t pick = size > 0 ? data[0] : 0;
    bad[covered[pick % covered.size()]] ^= static_cast<std::uint8_t>(1u << (pick % 8));
    check(stun::parse_request(bad, got) == stun::Error::BadFingerprint);
    return 0;
}
