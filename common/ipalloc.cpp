#include "common/ipalloc.h"

#include <sodium.h>

#include <algorithm>

namespace hs {
namespace {

// Adds `n` to the address as a big-endian integer (wrapping inside the address width).
IpAddr add(IpAddr ip, std::uint64_t n) {
    for (int i = static_cast<int>(ip.size()) - 1; i >= 0 && n > 0; --i) {
        const std::uint64_t sum = std::uint64_t{ip.b[static_cast<std::size_t>(i)]} + (n & 0xff);
        ip.b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(sum);
        n = (n >> 8) + (sum >> 8);
    }
    return ip;
}

bool reserved(const IpAddr& ip) {
    static const auto quad100 = *parse_ip("100.100.100.100");
    static const auto chromeos = *parse_prefix("100.115.92.0/23");
    static const auto quad100v6 = *parse_ip("fd7a:115c:a1e0::53");
    return ip == quad100 || chromeos.contains(ip) || ip == quad100v6;
}

}  // namespace

std::optional<IpAddr> allocate_ip(const Prefix& pool, const std::set<IpAddr>& used, bool random) {
    const int host_bits = static_cast<int>(pool.addr.size() * 8) - pool.bits;
    // Large IPv6 pools are searched in their first 2^32 addresses; nobody runs more nodes.
    const std::uint64_t span = host_bits >= 32 ? (std::uint64_t{1} << 32)
                                                   : (std::uint64_t{1} << host_bits);
    const std::uint64_t last = (!pool.addr.v6 && host_bits < 32) ? span - 1 : span;  // skip broadcast
    if (last <= 1) return std::nullopt;
    std::uint64_t start = 1;
    if (random) {
        if (sodium_init() < 0) return std::nullopt;
        start = 1 + randombytes_uniform(static_cast<std::uint32_t>(std::min<std::uint64_t>(last - 1, 0xffffffffu)));
    }
    for (std::uint64_t i = 0; i < last - 1; ++i) {
        const std::uint64_t off = 1 + (start - 1 + i) % (last - 1);
        const auto ip = add(pool.addr, off);
        if (!reserved(ip) && !used.count(ip)) return ip;
    }
    return std::nullopt;
}

}  // namespace hs
