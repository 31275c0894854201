#include "common/stun_udp.h"

#include "common/derp_conn.h"
#include "common/log.h"

namespace hs::stun {
namespace net = boost::asio;

net::awaitable<void> serve_stun(net::ip::udp::socket& sock, Counters& counters) {
    // Larger than any request, so an oversize datagram arrives whole and fails the length check.
    std::array<std::uint8_t, 2048> in;
    std::array<std::uint8_t, kMaxResponseLen> out;
    net::ip::udp::endpoint from;
    for (;;) {
        boost::system::error_code ec;
        const std::size_t n =
            co_await sock.async_receive_from(net::buffer(in), from, net::redirect_error(net::use_awaitable, ec));
        if (ec == net::error::operation_aborted || ec == net::error::bad_descriptor) co_return;
        if (ec) continue;  // e.g. ICMP port unreachable reported for an earlier reply
        const std::size_t len = handle_packet(std::span(in).first(n), derp::to_ipaddr(from.address()),
                                                    from.port(), out, counters);
        if (len == 0) continue;
        co_await sock.async_send_to(net::buffer(out.data(), len), from, net::redirect_error(net::use_awaitable, ec));
        if (ec) {
            counters.send_errors += 1;
            spdlog::debug("stun: reply to {} failed: {}", from.address().to_string(), ec.message());
        } else {
            counters.responses += 1;
        }
    }
}

}  // namespace hs::stun
