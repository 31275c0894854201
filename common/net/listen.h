// Binding listen addresses: the one parser and wildcard policy every listener uses (hs-control's
// ports, its embedded DERP's TLS and STUN ports, hs-derper, hs-stun, the metrics endpoint).
#pragma once

#include <cstdint>
#include <string>

#include "common/net/asio.h"

namespace hs {

// Where to listen: "IP:PORT", "[IPv6]:PORT" or ":PORT". An empty host, "[::]" or "0.0.0.0"
// is a wildcard; the IPv6 wildcard (empty host included) takes both families where the kernel
// allows, so ":8080" and "[::]:8080" mean the same and reach IPv4 clients too.
struct ListenAddr {
    boost::asio::ip::address ip;
    std::uint16_t port = 0;
};

// `what` names the setting in error messages ("--addr", "listen_addr").
// Throws std::runtime_error on text that is not an IP literal with a port.
ListenAddr parse_listen_addr(const std::string& text, const std::string& what);

// Opens, binds (SO_REUSEADDR) and listens; throws naming `what` and the address on failure.
boost::asio::ip::tcp::acceptor listen_tcp(const boost::asio::any_io_executor& ex, const ListenAddr& addr,
                                          const std::string& what);
boost::asio::ip::udp::socket bind_udp(const boost::asio::any_io_executor& ex, const ListenAddr& addr,
                                      const std::string& what);

}  // namespace hs
