#include "common/net/listen.h"

#include <stdexcept>

#include "common/base/netaddr.h"

namespace hs {
namespace {

namespace asio = boost::asio;

std::string text_of(const ListenAddr& a) { return host_port_text(a.ip.to_string(), a.port); }

[[noreturn]] void fail(const std::string& what, const ListenAddr& a, const boost::system::error_code& ec) {
    throw std::runtime_error(what + ": cannot listen on " + text_of(a) + ": " + ec.message());
}

// Dual-stack is best effort: a kernel without IPv4-mapped sockets (or net.ipv6.bindv6only
// forced) still gets an IPv6 listener rather than an error.
template <class Socket>
void open_for(Socket& s, const ListenAddr& a, boost::system::error_code& ec) {
    const auto ep = typename Socket::protocol_type::endpoint(a.ip, a.port);
    s.open(ep.protocol(), ec);
    if (ec) return;
    if (a.ip.is_v6() && a.ip.is_unspecified()) {
        boost::system::error_code ignored;
        s.set_option(asio::ip::v6_only(false), ignored);
    }
}

}  // namespace

ListenAddr parse_listen_addr(const std::string& text, const std::string& what) {
    const auto hp = parse_host_port(text);
    if (!hp) throw std::runtime_error(what + ": expected IP:PORT, [IPv6]:PORT or :PORT, got \"" + text + "\"");
    if (hp->host.empty()) return {asio::ip::address_v6::any(), hp->port};
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(hp->host, ec);
    if (ec) throw std::runtime_error(what + ": \"" + hp->host + "\" is not an IP address");
    return {ip, hp->port};
}

asio::ip::tcp::acceptor listen_tcp(const asio::any_io_executor& ex, const ListenAddr& addr, const std::string& what) {
    asio::ip::tcp::acceptor acc(ex);
    boost::system::error_code ec;
    open_for(acc, addr, ec);
    if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acc.bind({addr.ip, addr.port}, ec);
    if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) fail(what, addr, ec);
    return acc;
}

asio::ip::udp::socket bind_udp(const asio::any_io_executor& ex, const ListenAddr& addr, const std::string& what) {
    asio::ip::udp::socket sock(ex);
    boost::system::error_code ec;
    open_for(sock, addr, ec);
    if (!ec) sock.bind({addr.ip, addr.port}, ec);
    if (ec) fail(what, addr, ec);
    return sock;
}

}  // namespace hs
