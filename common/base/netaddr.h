// IP addresses and prefixes (CIDR) as plain values, for config validation and IP allocation.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hs {

struct IpAddr {
    bool v6 = false;
    std::array<std::uint8_t, 16> b{};  // IPv4 uses the first 4 bytes.

    std::size_t size() const { return v6 ? 16 : 4; }
    std::string str() const;
    bool operator==(const IpAddr&) const = default;
    auto operator<=>(const IpAddr&) const = default;
};

struct Prefix {
    IpAddr addr;  // masked: host bits are zero
    int bits = 0;

    std::string str() const;
    bool contains(const IpAddr& ip) const;
    // True when every address of `inner` lies inside this prefix.
    bool covers(const Prefix& inner) const;
    bool operator==(const Prefix&) const = default;
};

// Strict parsers: no surrounding spaces, no zone, no port. nullopt on any error.
std::optional<IpAddr> parse_ip(std::string_view text);
// "10.0.0.0/8", "fd7a::/48". A prefix whose host bits are set is rejected unless `allow_host_bits`.
std::optional<Prefix> parse_prefix(std::string_view text, bool allow_host_bits = false);

// "host:port", "[v6]:port", ":port". Host is returned without brackets; it may be empty or a name.
struct HostPort {
    std::string host;
    std::uint16_t port = 0;
};
std::optional<HostPort> parse_host_port(std::string_view text);
// The inverse for a literal IP: "IP:PORT", or "[IPv6]:PORT" when `ip` has a colon.
std::string host_port_text(std::string_view ip, std::uint16_t port);

}  // namespace hs
