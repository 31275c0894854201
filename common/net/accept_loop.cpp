#include "common/net/accept_loop.h"

#include <cerrno>

#include <spdlog/spdlog.h>

#include "common/base/backoff.h"
#include "common/base/log.h"

namespace hs {

namespace net = boost::asio;
using tcp = net::ip::tcp;

bool accept_error_is_per_connection(int err) {
    switch (err) {
        case ECONNABORTED:
        case EPROTO:
        case EPERM:
        case EINTR:
        case EAGAIN:
        case ENETDOWN:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case EOPNOTSUPP:
        case ENETUNREACH: return true;
        default: return false;
    }
}

net::awaitable<void> accept_connections(tcp::acceptor& acc, AcceptOptions opts,
                                        std::function<void(tcp::socket)> serve) {
    using namespace std::chrono_literals;
    Backoff backoff;
    LogLimiter limiter(10s);
    net::steady_timer pause(acc.get_executor());
    while (acc.is_open()) {
        tcp::socket sock(opts.strand_per_connection ? net::any_io_executor(net::make_strand(acc.get_executor()))
                                                    : acc.get_executor());
        boost::system::error_code ec;
        co_await acc.async_accept(sock, net::redirect_error(net::use_awaitable, ec));
        if (!ec) {
            backoff.reset();
            serve(std::move(sock));
            continue;
        }
        if (ec == net::error::operation_aborted || !acc.is_open()) co_return;
        if (ec.category() == boost::system::system_category() && accept_error_is_per_connection(ec.value())) continue;
        const auto wait = backoff.next();
        if (const auto held = limiter.allow("accept"))
            spdlog::warn("accept on {}: {} ({} time{} since the last report); pausing accepts for {} ms", opts.name,
                         ec.message(), *held + 1, *held == 0 ? "" : "s", wait.count());
        pause.expires_after(wait);
        co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
}

}  // namespace hs
