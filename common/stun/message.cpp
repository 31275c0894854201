#include "common/stun/message.h"

#include <algorithm>

#include "common/base/prometheus.h"

namespace hs::stun {
namespace {

constexpr std::uint16_t kBindingRequest = 0x0001;
constexpr std::uint16_t kBindingSuccess = 0x0101;
constexpr std::uint16_t kAttrMappedAddress = 0x0001;
constexpr std::uint16_t kAttrXorMappedAddress = 0x0020;
constexpr std::uint16_t kAttrXorMappedAddressAlt = 0x8020;  // pre-RFC servers; clients still read it
constexpr std::uint16_t kAttrSoftware = 0x8022;
constexpr std::uint16_t kAttrFingerprint = 0x8028;
constexpr std::uint32_t kFingerprintXor = 0x5354554e;

constexpr std::array<std::uint32_t, 256> make_crc_table() {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
    return t;
}
constexpr auto kCrcTable = make_crc_table();

std::uint16_t u16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t u32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
    put16(p, static_cast<std::uint16_t>(v >> 16));
    put16(p + 2, static_cast<std::uint16_t>(v));
}

bool is_stun(std::span<const std::uint8_t> pkt) {
    return pkt.size() >= kHeaderLen && (pkt[0] & 0xc0) == 0 && u32(pkt.data() + 4) == kMagicCookie;
}

bool v4_mapped(const IpAddr& ip) {
    static constexpr std::uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return ip.v6 && std::equal(prefix, prefix + 12, ip.b.begin());
}

}  // namespace

const char* error_name(Error e) {
    switch (e) {
        case Error::None: return "none";
        case Error::TooShort: return "too_short";
        case Error::NotStun: return "not_stun";
        case Error::NotBindingRequest: return "not_binding_request";
        case Error::BadLength: return "bad_length";
        case Error::BadAttribute: return "bad_attribute";
        case Error::BadFingerprint: return "bad_fingerprint";
    }
    return "unknown";
}

std::uint32_t fingerprint(std::span<const std::uint8_t> data) {
    std::uint32_t c = 0xffffffffu;
    for (const std::uint8_t b : data) c = kCrcTable[(c ^ b) & 0xff] ^ (c >> 8);
    return (c ^ 0xffffffffu) ^ kFingerprintXor;
}

Error parse_request(std::span<const std::uint8_t> pkt, TxId& txid) {
    if (pkt.size() < kHeaderLen) return Error::TooShort;
    if (!is_stun(pkt)) return Error::NotStun;
    if (u16(pkt.data()) != kBindingRequest) return Error::NotBindingRequest;
    const std::size_t len = u16(pkt.data() + 2);
    if (len % 4 != 0 || kHeaderLen + len != pkt.size()) return Error::BadLength;
    std::size_t off = kHeaderLen;
    while (off < pkt.size()) {
        if (pkt.size() - off < 4) return Error::BadAttribute;
        const std::uint16_t type = u16(pkt.data() + off);
        const std::size_t alen = u16(pkt.data() + off + 2);
        const std::size_t padded = (alen + 3) & ~std::size_t{3};
        if (pkt.size() - off - 4 < padded) return Error::BadAttribute;
        if (type == kAttrFingerprint) {
            if (alen != 4 || off + 8 != pkt.size()) return Error::BadFingerprint;
            if (u32(pkt.data() + off + 4) != fingerprint(pkt.first(off))) return Error::BadFingerprint;
        }
        off += 4 + padded;
    }
    std::copy_n(pkt.begin() + 8, txid.size(), txid.begin());
    return Error::None;
}

std::size_t build_response(const TxId& txid, const IpAddr& ip_in, std::uint16_t port,
                           std::span<std::uint8_t, kMaxResponseLen> out) {
    IpAddr ip = ip_in;
    if (v4_mapped(ip)) {
        IpAddr v4;
        std::copy_n(ip.b.begin() + 12, 4, v4.b.begin());
        ip = v4;
    }
    const std::size_t alen = ip.v6 ? 20 : 8;
    std::uint8_t* p = out.data();
    put16(p, kBindingSuccess);
    put16(p + 2, static_cast<std::uint16_t>(4 + alen));
    put32(p + 4, kMagicCookie);
    std::copy(txid.begin(), txid.end(), p + 8);
    put16(p + 20, kAttrXorMappedAddress);
    put16(p + 22, static_cast<std::uint16_t>(alen));
    p[24] = 0;
    p[25] = ip.v6 ? 2 : 1;
    put16(p + 26, static_cast<std::uint16_t>(port ^ (kMagicCookie >> 16)));
    // The address is XORed with the cookie followed by the transaction ID (RFC 5389 15.2).
    for (std::size_t i = 0; i < ip.size(); ++i) p[28 + i] = ip.b[i] ^ out[4 + i];
    return kHeaderLen + 4 + alen;
}

std::array<std::uint8_t, 40> tailscale_request(const TxId& txid) {
    std::array<std::uint8_t, 40> r{};
    put16(r.data(), kBindingRequest);
    put16(r.data() + 2, 20);
    put32(r.data() + 4, kMagicCookie);
    std::copy(txid.begin(), txid.end(), r.begin() + 8);
    put16(r.data() + 20, kAttrSoftware);
    put16(r.data() + 22, 8);
    const char sw[] = "tailnode";
    std::copy(sw, sw + 8, r.begin() + 24);
    put16(r.data() + 32, kAttrFingerprint);
    put16(r.data() + 34, 4);
    put32(r.data() + 36, fingerprint(std::span(r).first(32)));
    return r;
}

std::optional<Mapped> parse_response(std::span<const std::uint8_t> pkt, const TxId& txid) {
    if (!is_stun(pkt) || u16(pkt.data()) != kBindingSuccess) return std::nullopt;
    if (!std::equal(txid.begin(), txid.end(), pkt.begin() + 8)) return std::nullopt;
    const std::size_t end = kHeaderLen + u16(pkt.data() + 2);
    if (end > pkt.size()) return std::nullopt;
    std::optional<Mapped> xored, plain;
    for (std::size_t off = kHeaderLen; end - off >= 4;) {
        const std::uint16_t type = u16(pkt.data() + off);
        const std::size_t alen = u16(pkt.data() + off + 2);
        const std::uint8_t* v = pkt.data() + off + 4;
        if (end - off - 4 < alen) return std::nullopt;
        const bool is_xor = type == kAttrXorMappedAddress || type == kAttrXorMappedAddressAlt;
        if ((is_xor || type == kAttrMappedAddress) && alen >= 8) {
            Mapped m;
            m.ip.v6 = v[1] == 2;
            if ((m.ip.v6 && alen < 20) || (!m.ip.v6 && v[1] != 1)) return std::nullopt;
            m.port = u16(v + 2);
            for (std::size_t i = 0; i < m.ip.size(); ++i) m.ip.b[i] = v[4 + i];
            if (is_xor) {
                m.port ^= static_cast<std::uint16_t>(kMagicCookie >> 16);
                for (std::size_t i = 0; i < m.ip.size(); ++i) m.ip.b[i] ^= pkt[4 + i];
            }
            (is_xor ? xored : plain) = m;
        }
        off += 4 + ((alen + 3) & ~std::size_t{3});
        if (off > end) break;
    }
    auto r = xored ? xored : plain;
    if (r && v4_mapped(r->ip)) {
        IpAddr v4;
        std::copy_n(r->ip.b.begin() + 12, 4, v4.b.begin());
        r->ip = v4;
    }
    return r;
}

std::size_t handle_packet(std::span<const std::uint8_t> pkt, const IpAddr& from_ip, std::uint16_t from_port,
                          std::span<std::uint8_t, kMaxResponseLen> out, Counters& c) {
    TxId txid;
    const Error e = parse_request(pkt, txid);
    if (e != Error::None) {
        c.malformed[static_cast<std::size_t>(e)] += 1;
        return 0;
    }
    c.requests += 1;
    return build_response(txid, from_ip, from_port, out);
}

std::uint64_t Counters::malformed_total() const {
    std::uint64_t n = 0;
    for (const auto& m : malformed) n += m;
    return n;
}

std::string Counters::prometheus_text() const {
    prometheus::Writer w;
    w.counter("stun_requests_total", "Binding requests answered.", requests.load());
    w.counter("stun_responses_total", "Responses sent.", responses.load());
    w.counter("stun_send_errors_total", "Responses the socket refused.", send_errors.load());
    w.family("stun_malformed_total", "counter", "Datagrams dropped, by reason.");
    for (std::size_t i = 1; i < kErrorKinds; ++i)
        w.sample("stun_malformed_total", malformed[i].load(), {{"reason", error_name(static_cast<Error>(i))}});
    return w.take();
}

}  // namespace hs::stun
