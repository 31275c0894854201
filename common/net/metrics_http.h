// A Prometheus scrape endpoint for daemons without an HTTP server of their own (hs-stun):
// GET /metrics answers with what `body` returns, anything else 404. One thread, one request
// per connection, 5 s to send a request: a scrape endpoint, not a web server.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "common/net/asio.h"

namespace hs {

class MetricsEndpoint {
public:
    // Listens on `addr` (IP:PORT, [IPv6]:PORT or :PORT for every address) and serves from a
    // thread of its own; `body` is called on that thread. Throws std::runtime_error naming the
    // address when it is malformed or cannot be bound.
    MetricsEndpoint(const std::string& addr, std::function<std::string()> body);
    // Stops serving (within a quarter second, or the 5 s a client has when one is connected)
    // and closes the socket.
    ~MetricsEndpoint();
    MetricsEndpoint(const MetricsEndpoint&) = delete;
    MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

    // The bound address as IP:PORT (the port chosen by the kernel when :0 was asked).
    std::string local_address() const;

private:
    void run(std::stop_token stop);

    boost::asio::io_context io_;
    boost::asio::ip::tcp::acceptor acc_;
    std::function<std::string()> body_;
    std::jthread thread_;  // last: stopped and joined before the rest goes
};

}  // namespace hs
