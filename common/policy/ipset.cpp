#include "common/policy/ipset.h"

#include <arpa/inet.h>
#include <algorithm>

namespace hs::policy {

u128 v4_base() { return static_cast<u128>(0xffff) << 32; }

namespace {

u128 mask_bits(int host_bits) {
    if (host_bits <= 0) return 0;
    if (host_bits >= 128) return ~static_cast<u128>(0);
    return (static_cast<u128>(1) << host_bits) - 1;
}

Range cidr_range(std::string_view text) { return parse_cidr(text)->range(); }

}  // namespace

bool is_v4(u128 v) { return (v >> 32) == 0xffff; }

Cidr host_cidr(u128 v) { return is_v4(v) ? Cidr{{v, false}, 32} : Cidr{{v, true}, 128}; }

Range Cidr::range() const {
    int host = (addr.v6 ? 128 : 32) - bits;
    u128 m = mask_bits(host);
    return {addr.v & ~m, addr.v | m};
}

std::string addr_str(u128 v) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (is_v4(v)) {
        unsigned char b[4];
        for (int k = 0; k < 4; ++k) b[k] = static_cast<unsigned char>(v >> (8 * (3 - k)));
        inet_ntop(AF_INET, b, buf, sizeof buf);
    } else {
        unsigned char b[16];
        for (int k = 0; k < 16; ++k) b[k] = static_cast<unsigned char>(v >> (8 * (15 - k)));
        inet_ntop(AF_INET6, b, buf, sizeof buf);
    }
    return buf;
}

std::string Cidr::str() const { return addr_str(addr.v) + "/" + std::to_string(bits); }

std::optional<Addr> parse_addr(std::string_view text) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    std::string t(text);
    unsigned char b[16];
    Addr a;
    if (t.find(':') == std::string::npos) {
        if (inet_pton(AF_INET, t.c_str(), b) != 1) return std::nullopt;
        a.v = v4_base();
        for (int k = 0; k < 4; ++k) a.v |= static_cast<u128>(b[k]) << (8 * (3 - k));
        return a;
    }
    if (inet_pton(AF_INET6, t.c_str(), b) != 1) return std::nullopt;
    a.v6 = true;
    for (int k = 0; k < 16; ++k) a.v = (a.v << 8) | b[k];
    return a;
}

std::optional<Cidr> parse_cidr(std::string_view text, bool allow_host_bits) {
    auto slash = text.find('/');
    auto a = parse_addr(text.substr(0, slash));
    if (!a) return std::nullopt;
    int max = a->v6 ? 128 : 32;
    int bits = max;
    if (slash != std::string_view::npos) {
        auto n = text.substr(slash + 1);
        if (n.empty() || n.size() > 3 || (n.size() > 1 && n[0] == '0')) return std::nullopt;
        bits = 0;
        for (char c : n) {
            if (c < '0' || c > '9') return std::nullopt;
            bits = bits * 10 + (c - '0');
        }
        if (bits > max) return std::nullopt;
    }
    u128 m = mask_bits(max - bits);
    if ((a->v & m) != 0) {
        if (!allow_host_bits) return std::nullopt;
        a->v &= ~m;
    }
    return Cidr{*a, bits};
}

void IpSet::add(Range r) {
    r_.push_back(r);
    dirty_ = true;
}

void IpSet::add(const Cidr& c) {
    Range r = c.range();
    Range v4 = v4_all();
    if (c.addr.v6 && r.lo <= v4.lo && r.hi >= v4.hi) {
        if (r.lo < v4.lo) add(Range{r.lo, v4.lo - 1});
        if (r.hi > v4.hi) add(Range{v4.hi + 1, r.hi});
        return;
    }
    add(r);
}

void IpSet::add(const IpSet& other) {
    r_.insert(r_.end(), other.r_.begin(), other.r_.end());
    dirty_ = true;
}

void IpSet::normalize() {
    if (!dirty_) return;
    dirty_ = false;
    std::sort(r_.begin(), r_.end(), [](const Range& a, const Range& b) { return a.lo < b.lo; });
    std::vector<Range> out;
    out.reserve(r_.size());
    for (const Range& r : r_) {
        // Adjacent intervals merge too (hi + 1 == lo), except across the v4/v6 boundary so
        // text forms never mix families.
        if (!out.empty() &&
            (r.lo <= out.back().hi || (r.lo == out.back().hi + 1 && is_v4(r.lo) == is_v4(out.back().hi)))) {
            out.back().hi = std::max(out.back().hi, r.hi);
        } else {
            out.push_back(r);
        }
    }
    r_ = std::move(out);
}

bool IpSet::contains(u128 a) const {
    auto it = std::upper_bound(r_.begin(), r_.end(), a, [](u128 x, const Range& r) { return x < r.lo; });
    return it != r_.begin() && std::prev(it)->hi >= a;
}

bool IpSet::overlaps(Range q) const {
    auto it = std::upper_bound(r_.begin(), r_.end(), q.hi, [](u128 x, const Range& r) { return x < r.lo; });
    return it != r_.begin() && std::prev(it)->hi >= q.lo;
}

bool IpSet::covers(Range q) const {
    auto it = std::upper_bound(r_.begin(), r_.end(), q.lo, [](u128 x, const Range& r) { return x < r.lo; });
    return it != r_.begin() && std::prev(it)->hi >= q.hi;
}

bool IpSet::overlaps(const IpSet& o) const {
    std::size_t i = 0, j = 0;
    while (i < r_.size() && j < o.r_.size()) {
        if (r_[i].hi < o.r_[j].lo) {
            ++i;
        } else if (o.r_[j].hi < r_[i].lo) {
            ++j;
        } else {
            return true;
        }
    }
    return false;
}

IpSet IpSet::intersect(const IpSet& o) const {
    IpSet out;
    std::size_t i = 0, j = 0;
    while (i < r_.size() && j < o.r_.size()) {
        u128 lo = std::max(r_[i].lo, o.r_[j].lo);
        u128 hi = std::min(r_[i].hi, o.r_[j].hi);
        if (lo <= hi) out.r_.push_back({lo, hi});
        if (r_[i].hi < o.r_[j].hi) {
            ++i;
        } else {
            ++j;
        }
    }
    return out;
}

IpSet IpSet::subtract(const IpSet& o) const {
    IpSet out;
    std::size_t j = 0;
    for (Range r : r_) {
        while (j < o.r_.size() && o.r_[j].hi < r.lo) ++j;
        std::size_t k = j;
        bool alive = true;
        while (k < o.r_.size() && o.r_[k].lo <= r.hi) {
            if (o.r_[k].lo > r.lo) out.r_.push_back({r.lo, o.r_[k].lo - 1});
            if (o.r_[k].hi >= r.hi) {
                alive = false;
                break;
            }
            r.lo = o.r_[k].hi + 1;
            ++k;
        }
        if (alive) out.r_.push_back(r);
    }
    return out;
}

namespace {

// The largest prefix starting at lo that stays within hi; returns its host-bit count.
int largest_block(u128 lo, u128 hi, int max_host) {
    int host = 0;
    while (host < max_host) {
        u128 m = mask_bits(host + 1);
        if ((lo & m) != 0 || (lo | m) > hi) break;
        ++host;
    }
    return host;
}

}  // namespace

std::vector<Cidr> IpSet::cidrs() const {
    std::vector<Cidr> out;
    for (Range r : r_) {
        bool v4 = is_v4(r.lo);
        int max_host = v4 ? 32 : 128;
        for (;;) {
            int host = largest_block(r.lo, r.hi, max_host);
            out.push_back({{r.lo, !v4}, max_host - host});
            u128 end = r.lo | mask_bits(host);
            if (end >= r.hi) break;
            r.lo = end + 1;
        }
    }
    return out;
}

std::vector<std::string> IpSet::strings() const {
    std::vector<std::string> out;
    for (const Range& r : r_) {
        bool v4 = is_v4(r.lo);
        int max_host = v4 ? 32 : 128;
        int host = largest_block(r.lo, r.hi, max_host);
        if (r.lo == r.hi) {
            out.push_back(addr_str(r.lo));
        } else if ((r.lo | mask_bits(host)) == r.hi) {
            out.push_back(addr_str(r.lo) + "/" + std::to_string(max_host - host));
        } else {
            out.push_back(addr_str(r.lo) + "-" + addr_str(r.hi));
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

Range v4_all() { return {v4_base(), v4_base() | 0xffffffffu}; }
Range v6_all() { return {0, ~static_cast<u128>(0)}; }

IpSet tailscale_ranges() {
    IpSet s;
    s.add(cidr_range("100.64.0.0/10"));
    s.add(cidr_range("fd7a:115c:a1e0::/48"));
    s.normalize();
    IpSet chromeos;
    chromeos.add(cidr_range("100.115.92.0/23"));
    chromeos.normalize();
    return s.subtract(chromeos);
}

IpSet internet_set() {
    IpSet s;
    s.add(v4_all());
    s.add(cidr_range("2000::/3"));
    s.normalize();
    IpSet priv;
    // Exactly what Tailscale sends exit nodes: private, CGNAT and link-local IPv4 removed;
    // IPv6 is the global unicast 2000::/3 alone.
    for (const char* p : {"10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"}) {
        priv.add(cidr_range(p));
    }
    priv.normalize();
    return s.subtract(priv);
}

bool is_exit_route(const Cidr& c) { return c.bits == 0; }

}  // namespace hs::policy
