#include "common/net/metrics_http.h"

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <stdexcept>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <spdlog/spdlog.h>

#include "common/base/backoff.h"
#include "common/base/log.h"
#include "common/base/netaddr.h"
#include "common/base/url.h"
#include "common/net/accept_loop.h"
#include "common/net/http_text.h"
#include "common/net/listen.h"

namespace hs {

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

MetricsEndpoint::MetricsEndpoint(const std::string& addr, std::function<std::string()> body)
    : acc_(io_), body_(std::move(body)) {
    acc_ = listen_tcp(io_.get_executor(), parse_listen_addr(addr, "metrics address"), "metrics address");
    // run() polls the acceptor so that a stop request is seen within a quarter second.
    acc_.non_blocking(true);
    thread_ = std::jthread([this](std::stop_token st) { run(st); });
}

MetricsEndpoint::~MetricsEndpoint() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
}

std::string MetricsEndpoint::local_address() const {
    const auto ep = acc_.local_endpoint();
    return host_port_text(ep.address().to_string(), ep.port());
}

namespace {

// Runs what was started on `io` for at most `limit`; on a timeout closes `sock` (cancelling the
// operation) and lets the cancelled handler run. True when `done` was set in time. Sync reads
// cannot do this: Asio retries a timed-out blocking recv by polling without a limit.
bool finish_within(boost::asio::io_context& io, tcp::socket& sock, std::chrono::milliseconds limit, const bool& done) {
    io.restart();
    io.run_for(limit);
    if (done) return true;
    boost::system::error_code ignored;
    sock.close(ignored);
    io.restart();
    io.run();
    return false;
}

}  // namespace

void MetricsEndpoint::run(std::stop_token stop) {
    using namespace std::chrono_literals;
    Backoff backoff;
    LogLimiter limiter(10s);
    while (!stop.stop_requested()) {
        // Poll with a short timeout instead of blocking in accept, so a stop is seen promptly;
        // the acceptor is non-blocking, so a connection reset before accept costs nothing.
        pollfd p{acc_.native_handle(), POLLIN, 0};
        if (::poll(&p, 1, 250) <= 0) continue;
        boost::system::error_code ec;
        tcp::socket sock(io_);
        acc_.accept(sock, ec);
        if (ec == boost::asio::error::would_block ||
            (ec && ec.category() == boost::system::system_category() && accept_error_is_per_connection(ec.value())))
            continue;
        if (ec) {
            // Out of descriptors the socket stays readable: pause (as accept_connections does)
            // rather than spin, in steps short enough to see a stop.
            const auto wait = backoff.next();
            if (const auto held = limiter.allow("accept"))
                spdlog::warn("accept on metrics {}: {} ({} time{} since the last report); pausing accepts for {} ms",
                             local_address(), ec.message(), *held + 1, *held == 0 ? "" : "s", wait.count());
            for (auto left = wait; left.count() > 0 && !stop.stop_requested(); left -= 50ms)
                std::this_thread::sleep_for(50ms);
            continue;
        }
        backoff.reset();
        // A client gets 5 s to send its request and 5 s to take the answer.
        boost::beast::flat_buffer buf;
        http::request_parser<http::empty_body> parser;
        parser.header_limit(8192);
        bool done = false;
        http::async_read(sock, buf, parser, [&](boost::system::error_code e, std::size_t) {
            ec = e;
            done = true;
        });
        if (!finish_within(io_, sock, 5s, done) || ec) continue;
        const auto& req = parser.get();
        const std::string target(req.target());
        const bool scrape = req.method() == http::verb::get && target_path(target) == "/metrics";
        auto res = scrape ? text_response(http::status::ok, body_(), req.version(), "text/plain; version=0.0.4")
                          : text_response(http::status::not_found, "not found\n", req.version(), "text/plain");
        res.keep_alive(false);
        done = false;
        http::async_write(sock, res, [&](boost::system::error_code, std::size_t) { done = true; });
        finish_within(io_, sock, 5s, done);
    }
}

}  // namespace hs
