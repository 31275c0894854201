// The one listen-address policy: IP:PORT, [IPv6]:PORT, :PORT; the IPv6 wildcard is dual-stack.
#include <catch2/catch.hpp>

#include "common/net/listen.h"

namespace asio = boost::asio;
using Catch::Contains;

TEST_CASE("parse_listen_addr: literal addresses and the wildcard") {
    const auto any = hs::parse_listen_addr(":8080", "x");
    CHECK(any.ip == asio::ip::address(asio::ip::address_v6::any()));
    CHECK(any.port == 8080);
    CHECK(hs::parse_listen_addr("[::]:8080", "x").ip == any.ip);
    CHECK(hs::parse_listen_addr("127.0.0.1:9", "x").ip == asio::ip::make_address("127.0.0.1"));
    CHECK(hs::parse_listen_addr("[::1]:9", "x").ip == asio::ip::make_address("::1"));
    CHECK_THROWS_WITH(hs::parse_listen_addr("nonsense", "--addr"), Contains("--addr") && Contains("nonsense"));
    CHECK_THROWS_WITH(hs::parse_listen_addr("example.com:9", "--addr"), Contains("not an IP address"));
}

TEST_CASE("listen_tcp: a wildcard listener takes IPv4 clients too; a busy port names the setting") {
    asio::io_context io;
    auto acc = hs::listen_tcp(io.get_executor(), hs::parse_listen_addr(":0", "listen_addr"), "listen_addr");
    const auto port = acc.local_endpoint().port();
    asio::ip::tcp::socket client(io);
    boost::system::error_code ec;
    client.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    CHECK_FALSE(ec);  // dual-stack (unless the kernel forces IPV6_V6ONLY)
    const hs::ListenAddr again{asio::ip::make_address("::"), port};
    CHECK_THROWS_WITH(hs::listen_tcp(io.get_executor(), again, "listen_addr"),
                      Contains("listen_addr: cannot listen on [::]:"));
}

TEST_CASE("bind_udp: a taken port is refused by name") {
    asio::io_context io;
    auto first = hs::bind_udp(io.get_executor(), hs::parse_listen_addr("127.0.0.1:0", "stun"), "stun");
    const hs::ListenAddr again{asio::ip::make_address("127.0.0.1"), first.local_endpoint().port()};
    CHECK_THROWS_WITH(hs::bind_udp(io.get_executor(), again, "derp.server.stun_listen_addr"),
                      Contains("derp.server.stun_listen_addr: cannot listen on 127.0.0.1:"));
}
