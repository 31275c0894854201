// Picks tailnet addresses from the configured prefixes.
#pragma once

#include <optional>
#include <set>

#include "common/netaddr.h"

namespace hs {

// The lowest free address of `pool` (sequential) or a uniformly random free one, skipping the
// network address, the all-ones address of an IPv4 pool, and the addresses Tailscale reserves
// (100.100.100.100, 100.115.92.0/23, fd7a:115c:a1e0::53). nullopt when the pool is full.
std::optional<IpAddr> allocate_ip(const Prefix& pool, const std::set<IpAddr>& used, bool random);

}  // namespace hs
