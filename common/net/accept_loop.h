// The accept loop every TCP listener runs (hs-control's ports, the embedded DERP's TLS port,
// hs-derper's DERP and metrics ports). When accept fails for want of resources (no file
// descriptors left: EMFILE, ENFILE; no kernel memory), the listening socket stays readable, so
// retrying at once spins a core and logs each failure; this loop pauses instead, doubling from
// 100 ms to 1 s, and logs one line per 10 s with the count.
#pragma once

#include <functional>
#include <string>

#include "common/net/asio.h"

namespace hs {

// True for errors that concern only the connection being accepted (the peer reset it before
// accept; Linux also reports pending network errors of the new socket there, see accept(2)):
// the next accept may well succeed, so the loop retries at once and says nothing.
bool accept_error_is_per_connection(int err);

struct AcceptOptions {
    std::string name;  // names the listener in logs, e.g. "hs-control 0.0.0.0:8080"
    // Gives each accepted socket a strand of its own, for io_contexts run by several threads.
    bool strand_per_connection = false;
};

// Accepts until `acc` is closed, handing each socket to `serve` (which must not block).
boost::asio::awaitable<void> accept_connections(boost::asio::ip::tcp::acceptor& acc, AcceptOptions opts,
                                                std::function<void(boost::asio::ip::tcp::socket)> serve);

}  // namespace hs
