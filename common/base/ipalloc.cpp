#include "common/base/ipalloc.h"

#include <sodium.h>

#include <algorithm>
#include <bit>

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

// `ip - base` when they differ only in their last 8 bytes; nullopt beyond that.
std::optional<std::uint64_t> distance(const IpAddr& base, const IpAddr& ip) {
    const std::size_t n = ip.size(), low = n > 8 ? n - 8 : 0;
    for (std::size_t i = 0; i < low; ++i)
        if (ip.b[i] != base.b[i]) return std::nullopt;
    std::uint64_t a = 0, b = 0;
    for (std::size_t i = low; i < n; ++i) {
        a = (a << 8) | ip.b[i];
        b = (b << 8) | base.b[i];
    }
    if (a < b) return std::nullopt;
    return a - b;
}

const std::vector<Prefix>& reserved_prefixes() {
    static const std::vector<Prefix> r = {*parse_prefix("100.100.100.100/32"), *parse_prefix("100.115.92.0/23"),
                                          *parse_prefix("fd7a:115c:a1e0::53/128")};
    return r;
}

// The lowest clear bit of `page` at or after `from`.
template <typename Page>
std::optional<std::uint64_t> first_clear(const Page& page, std::uint64_t from) {
    for (std::size_t w = from / 64; w < page.size(); ++w) {
        std::uint64_t word = page[w];
        if (w == from / 64) word |= (std::uint64_t{1} << (from % 64)) - 1;  // below `from` counts as taken
        if (~word != 0) return w * 64 + static_cast<std::uint64_t>(std::countr_zero(~word));
    }
    return std::nullopt;
}

}  // namespace

AddressPool::AddressPool(const Prefix& prefix) : prefix_(prefix) {
    const int host_bits = static_cast<int>(prefix.addr.size() * 8) - prefix.bits;
    const std::uint64_t span = host_bits >= 32 ? (std::uint64_t{1} << 32) : (std::uint64_t{1} << host_bits);
    end_ = (!prefix.addr.v6 && host_bits < 32) ? span - 1 : span;  // an IPv4 pool skips its broadcast
    for (const auto& r : reserved_prefixes()) {
        if (r.addr.v6 != prefix.addr.v6) continue;
        std::uint64_t first = 0, last = 0;
        if (prefix.covers(r)) {
            first = *distance(prefix.addr, r.addr);
            const int r_bits = static_cast<int>(r.addr.size() * 8) - r.bits;
            last = first + (std::uint64_t{1} << r_bits);
        } else if (r.covers(prefix)) {
            last = end_;
        }
        first = std::max<std::uint64_t>(first, 1);
        last = std::min(last, end_);
        if (first >= last) continue;
        reserved_.emplace_back(first, last);
        for (auto o = first; o < last; ++o) set(o, true);
    }
}

std::optional<std::uint64_t> AddressPool::offset_of(const IpAddr& ip) const {
    if (!prefix_.contains(ip)) return std::nullopt;
    const auto off = distance(prefix_.addr, ip);
    if (!off || *off == 0 || *off >= end_) return std::nullopt;
    return off;
}

IpAddr AddressPool::address_at(std::uint64_t offset) const { return add(prefix_.addr, offset); }

bool AddressPool::is_reserved(std::uint64_t offset) const {
    return std::any_of(reserved_.begin(), reserved_.end(),
                       [offset](const auto& r) { return offset >= r.first && offset < r.second; });
}

void AddressPool::set(std::uint64_t offset, bool used) {
    const auto page = offset / kPageBits;
    const auto bit = std::uint64_t{1} << (offset % 64);
    const auto word = (offset % kPageBits) / 64;
    if (used) {
        pages_[page][word] |= bit;
        return;
    }
    const auto it = pages_.find(page);
    if (it == pages_.end()) return;
    it->second[word] &= ~bit;
    if (std::all_of(it->second.begin(), it->second.end(), [](std::uint64_t w) { return w == 0; })) pages_.erase(it);
}

void AddressPool::take(const IpAddr& ip) {
    if (const auto off = offset_of(ip)) set(*off, true);
}

void AddressPool::release(const IpAddr& ip) {
    if (const auto off = offset_of(ip); off && !is_reserved(*off)) set(*off, false);
}

bool AddressPool::taken(const IpAddr& ip) const {
    const auto off = offset_of(ip);
    if (!off) return false;
    const auto it = pages_.find(*off / kPageBits);
    return it != pages_.end() && (it->second[(*off % kPageBits) / 64] >> (*off % 64)) & 1;
}

std::optional<std::uint64_t> AddressPool::next_free(std::uint64_t from) const {
    for (std::uint64_t off = from; off < end_;) {
        const auto page = off / kPageBits;
        const auto it = pages_.find(page);
        if (it == pages_.end()) return off;
        if (const auto bit = first_clear(it->second, off % kPageBits)) {
            const auto found = page * kPageBits + *bit;
            if (found < end_) return found;
            return std::nullopt;
        }
        off = (page + 1) * kPageBits;
    }
    return std::nullopt;
}

std::optional<IpAddr> AddressPool::allocate(bool random) {
    if (end_ <= 1) return std::nullopt;
    std::uint64_t start = 1;
    if (random) {
        if (sodium_init() < 0) return std::nullopt;
        start = 1 + randombytes_uniform(static_cast<std::uint32_t>(std::min<std::uint64_t>(end_ - 1, 0xffffffffu)));
    }
    auto off = next_free(start);
    if (!off && start > 1) off = next_free(1);
    if (!off) return std::nullopt;
    set(*off, true);
    return address_at(*off);
}

AddressPools::AddressPools(const std::string& prefix_v4, const std::string& prefix_v6) {
    if (const auto p = parse_prefix(prefix_v4)) v4.emplace(*p);
    if (const auto p = parse_prefix(prefix_v6)) v6.emplace(*p);
}

void AddressPools::take(const std::optional<std::string>& addr) {
    const auto ip = addr ? parse_ip(*addr) : std::nullopt;
    if (!ip) return;
    for (auto* pool : {&v4, &v6})
        if (*pool) (*pool)->take(*ip);
}

void AddressPools::release(const std::optional<std::string>& addr) {
    const auto ip = addr ? parse_ip(*addr) : std::nullopt;
    if (!ip) return;
    for (auto* pool : {&v4, &v6})
        if (*pool) (*pool)->release(*ip);
}

}  // namespace hs
