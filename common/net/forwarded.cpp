#include "common/net/forwarded.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace hs {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// A socket on an IPv6 listener reports IPv4 clients as ::ffff:a.b.c.d; prefixes are written as IPv4.
std::optional<IpAddr> unmapped_ip(std::string_view text) {
    auto ip = parse_ip(text);
    if (!ip || !ip->v6) return ip;
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!std::equal(kMapped, kMapped + 12, ip->b.begin())) return ip;
    IpAddr v4;
    std::copy(ip->b.begin() + 12, ip->b.end(), v4.b.begin());
    return v4;
}

}  // namespace

TrustedProxies::TrustedProxies(const std::vector<std::string>& cidrs) {
    for (const auto& c : cidrs) {
        const auto p = parse_prefix(c);
        if (!p) throw std::invalid_argument("trusted_proxies: \"" + c + "\" is not a CIDR prefix");
        proxies_.push_back(*p);
    }
}

bool TrustedProxies::trusts(std::string_view ip) const {
    const auto a = unmapped_ip(ip);
    return a && std::any_of(proxies_.begin(), proxies_.end(), [&](const Prefix& p) { return p.contains(*a); });
}

std::string TrustedProxies::client_ip(std::string_view peer_ip, std::string_view x_forwarded_for,
                                      std::string_view x_real_ip) const {
    const std::string peer(peer_ip);
    if (!trusts(peer_ip)) return peer;
    if (trim(x_forwarded_for).empty()) {
        const auto real = unmapped_ip(trim(x_real_ip));
        return real ? real->str() : peer;
    }
    std::optional<IpAddr> leftmost;
    std::string_view rest = x_forwarded_for;
    while (!rest.empty()) {
        const auto comma = rest.rfind(',');
        const auto entry = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
        const auto ip = unmapped_ip(entry);
        if (!ip) return peer;
        const auto text = ip->str();
        if (!trusts(text)) return text;
        leftmost = ip;
    }
    return leftmost ? leftmost->str() : peer;
}

}  // namespace hs
