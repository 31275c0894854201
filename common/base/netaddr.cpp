#include "common/base/netaddr.h"

#include <arpa/inet.h>

#include <charconv>

namespace hs {

std::string IpAddr::str() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(v6 ? AF_INET6 : AF_INET, b.data(), buf, sizeof buf);
    return buf;
}

std::string Prefix::str() const { return addr.str() + "/" + std::to_string(bits); }

bool Prefix::contains(const IpAddr& ip) const {
    if (ip.v6 != addr.v6) return false;
    int left = bits;
    for (std::size_t i = 0; i < addr.size() && left > 0; ++i, left -= 8) {
        const std::uint8_t mask = left >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - left));
        if ((ip.b[i] & mask) != addr.b[i]) return false;
    }
    return true;
}

bool Prefix::covers(const Prefix& inner) const { return inner.bits >= bits && contains(inner.addr); }

std::optional<IpAddr> parse_ip(std::string_view text) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    const std::string s(text);
    IpAddr ip;
    if (inet_pton(AF_INET, s.c_str(), ip.b.data()) == 1) return ip;
    ip.v6 = true;
    if (inet_pton(AF_INET6, s.c_str(), ip.b.data()) == 1) return ip;
    return std::nullopt;
}

std::optional<Prefix> parse_prefix(std::string_view text, bool allow_host_bits) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto ip = parse_ip(text.substr(0, slash));
    if (!ip) return std::nullopt;
    const auto bits_text = text.substr(slash + 1);
    int bits = -1;
    const auto [end, ec] = std::from_chars(bits_text.data(), bits_text.data() + bits_text.size(), bits);
    if (ec != std::errc{} || end != bits_text.data() + bits_text.size() || bits_text.empty() ||
        (bits_text.size() > 1 && bits_text[0] == '0'))
        return std::nullopt;
    if (bits < 0 || bits > static_cast<int>(ip->size() * 8)) return std::nullopt;
    Prefix p{*ip, bits};
    int left = bits;
    bool host_bits = false;
    for (std::size_t i = 0; i < ip->size(); ++i, left -= 8) {
        const std::uint8_t mask = left >= 8 ? 0xff : left <= 0 ? 0 : static_cast<std::uint8_t>(0xff << (8 - left));
        if (p.addr.b[i] & ~mask) host_bits = true;
        p.addr.b[i] &= mask;
    }
    if (host_bits && !allow_host_bits) return std::nullopt;
    return p;
}

std::optional<HostPort> parse_host_port(std::string_view text) {
    HostPort hp;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
        hp.host = std::string(text.substr(1, close - 1));
        if (!parse_ip(hp.host) || !parse_ip(hp.host)->v6) return std::nullopt;
        port_text = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        hp.host = std::string(text.substr(0, colon));
        if (hp.host.find(':') != std::string::npos) return std::nullopt;  // bare IPv6 needs brackets
        port_text = text.substr(colon + 1);
    }
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535)
        return std::nullopt;
    hp.port = static_cast<std::uint16_t>(port);
    return hp;
}

std::string host_port_text(std::string_view ip, std::uint16_t port) {
    const bool v6 = ip.find(':') != std::string_view::npos;
    return (v6 ? "[" + std::string(ip) + "]" : std::string(ip)) + ":" + std::to_string(port);
}

}  // namespace hs
