// Picks tailnet addresses from the configured prefixes.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/base/netaddr.h"

namespace hs {

// Which addresses of one prefix are taken, kept as a sparse bitmap so that picking one costs a
// few word operations instead of a walk over every node (issue 19, finding 8: building a
// std::set of every address on each registration made registration O(N)).
//
// Never handed out: the network address, the all-ones address of an IPv4 pool, and the
// addresses Tailscale reserves (100.100.100.100, 100.115.92.0/23, fd7a:115c:a1e0::53). Large
// IPv6 pools are searched in their first 2^32 addresses; nobody runs more nodes.
class AddressPool {
public:
    explicit AddressPool(const Prefix& prefix);

    const Prefix& prefix() const { return prefix_; }
    // An address in use (a node loaded, or given one elsewhere). Addresses outside the pool or
    // its searched span are ignored: they cannot collide with one we hand out.
    void take(const IpAddr& ip);
    // The address is free again (its node was deleted or given another). Reserved ones stay taken.
    void release(const IpAddr& ip);
    bool taken(const IpAddr& ip) const;
    // Sequential: the lowest free address. Random: a uniformly random start, then the first
    // free one at or after it, wrapping around. The address is taken; nullopt when the pool is full.
    std::optional<IpAddr> allocate(bool random);

private:
    static constexpr std::uint64_t kPageBits = 1024;  // 128 bytes a page: sparse pools stay small
    using Page = std::array<std::uint64_t, kPageBits / 64>;

    std::optional<std::uint64_t> offset_of(const IpAddr& ip) const;
    IpAddr address_at(std::uint64_t offset) const;
    bool is_reserved(std::uint64_t offset) const;
    void set(std::uint64_t offset, bool used);
    // The lowest free offset in [from, end_), if any.
    std::optional<std::uint64_t> next_free(std::uint64_t from) const;

    Prefix prefix_;
    std::uint64_t end_ = 0;                                          // host offsets are 1 .. end_-1
    std::vector<std::pair<std::uint64_t, std::uint64_t>> reserved_;  // [first, last) offsets
    std::map<std::uint64_t, Page> pages_;                            // a missing page is all free
};

// A tailnet's pools, one per configured family ("" for none), fed with addresses as text.
struct AddressPools {
    std::optional<AddressPool> v4, v6;

    AddressPools() = default;
    AddressPools(const std::string& prefix_v4, const std::string& prefix_v6);
    // To whichever pool holds the address; unparsable or foreign addresses are ignored.
    void take(const std::optional<std::string>& addr);
    void release(const std::optional<std::string>& addr);
};

}  // namespace hs
