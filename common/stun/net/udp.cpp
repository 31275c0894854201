#include "common/stun/net/udp.h"

#include "common/base/log.h"
#include "common/stun/net/batch.h"

namespace hs::stun {
namespace net = boost::asio;

net::awaitable<void> serve_stun(net::ip::udp::socket& sock, Counters& counters) {
    boost::system::error_code ec;
    const auto local = sock.local_endpoint(ec);
    const bool wildcard = !ec && local.address().is_unspecified();
    if (wildcard) enable_pktinfo(sock.native_handle());
    Batch batch(wildcard);
    for (;;) {
        // Wait for readability, then take every waiting datagram in batches; a few batches per
        // wake-up so a flood cannot hold the thread the DERP connections share.
        co_await sock.async_wait(net::ip::udp::socket::wait_read, net::redirect_error(net::use_awaitable, ec));
        if (ec == net::error::operation_aborted || ec == net::error::bad_descriptor) co_return;
        if (ec) continue;
        try {
            for (int i = 0; i < 4 && batch.serve_once(sock.native_handle(), counters) == Batch::kMax; ++i) {}
        } catch (const std::exception& e) {
            spdlog::warn("{}; STUN stops", e.what());
            co_return;
        }
    }
}

}  // namespace hs::stun
