// Sets of IP addresses as sorted, merged intervals. IPv4 lives in the IPv4-mapped range
// ::ffff:0:0/96 of one 128-bit space, so one interval list holds both families and every
// policy question (contains, overlaps, covers) is a binary search instead of a loop over rules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hs::policy {

__extension__ typedef unsigned __int128 u128;

struct Addr {
    u128 v = 0;
    bool v6 = false;
    auto operator<=>(const Addr&) const = default;
};

struct Range {
    u128 lo = 0;
    u128 hi = 0;  // inclusive
    bool operator==(const Range&) const = default;
};

// A prefix as written: its address family, first address and length (in its own family).
struct Cidr {
    Addr addr;
    int bits = 0;
    Range range() const;
    bool is_v6() const { return addr.v6; }
    std::string str() const;
    bool operator==(const Cidr&) const = default;
};

std::optional<Addr> parse_addr(std::string_view text);
// "10.0.0.0/8", "fd7a::/48" or a single address (as /32 or /128). Host bits must be zero
// unless `allow_host_bits`, in which case they are cleared.
std::optional<Cidr> parse_cidr(std::string_view text, bool allow_host_bits = false);
std::string addr_str(u128 v);  // the address at v, v4 when inside the mapped range
bool is_v4(u128 v);            // inside ::ffff:0:0/96, i.e. an IPv4 address here
Cidr host_cidr(u128 v);        // the address as a /32 or /128

class IpSet {
public:
    IpSet() = default;
    void add(Range r);
    // A v6 prefix short enough to contain ::ffff:0:0/96 skips that part: those addresses
    // stand for IPv4 here, and ::/0 must not match an IPv4 address.
    void add(const Cidr& c);
    void add(const IpSet& other);
    // Sorts and merges after a batch of add(); the queries below need it.
    void normalize();

    bool empty() const { return r_.empty(); }
    bool contains(u128 a) const;
    bool overlaps(Range r) const;
    bool overlaps(const IpSet& other) const;
    bool covers(Range r) const;  // every address of r is in the set
    IpSet intersect(const IpSet& other) const;
    IpSet subtract(const IpSet& other) const;
    const std::vector<Range>& ranges() const { return r_; }
    bool operator==(const IpSet&) const = default;

    // Tailscale's text forms, sorted: one address, a CIDR when a range is exactly one prefix,
    // else "first-last" (never crossing families).
    std::vector<std::string> strings() const;
    // Minimal CIDR cover (for AllowedIPs-like uses).
    std::vector<Cidr> cidrs() const;

private:
    std::vector<Range> r_;
    bool dirty_ = false;
};

// Well-known ranges.
u128 v4_base();                     // ::ffff:0.0.0.0
Range v4_all();                     // 0.0.0.0/0
Range v6_all();                     // ::/0 (excluding nothing; the mapped v4 range sits inside)
IpSet tailscale_ranges();           // 100.64.0.0/10 minus 100.115.92.0/23, and fd7a:115c:a1e0::/48
IpSet internet_set();               // autogroup:internet
bool is_exit_route(const Cidr& c);  // 0.0.0.0/0 or ::/0

}  // namespace hs::policy
