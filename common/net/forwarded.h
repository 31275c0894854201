// The client address behind a reverse proxy (config key trusted_proxies, headscale's name):
// X-Forwarded-For and X-Real-IP count only on connections from the listed proxies, since
// anyone else could write them. Strings in, string out: no sockets here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/base/netaddr.h"

namespace hs {

class TrustedProxies {
public:
    // `cidrs` as the config validated them; throws std::invalid_argument naming a bad one.
    explicit TrustedProxies(const std::vector<std::string>& cidrs);

    bool empty() const { return proxies_.empty(); }
    // True when `ip` (IPv4, IPv6 or IPv4-mapped IPv6) lies in one of the prefixes.
    bool trusts(std::string_view ip) const;

    // The client IP a request from `peer_ip` stands for. `peer_ip` itself unless it is trusted
    // and the request names an address: in X-Forwarded-For (every value joined with commas) the
    // rightmost address that is not a trusted proxy, or the leftmost when all are (each proxy
    // appends the address it saw, so entries left of an untrusted one may be forged); without
    // that header, X-Real-IP. A malformed entry where the scan stops yields `peer_ip`.
    std::string client_ip(std::string_view peer_ip, std::string_view x_forwarded_for, std::string_view x_real_ip) const;

private:
    std::vector<Prefix> proxies_;
};

}  // namespace hs
