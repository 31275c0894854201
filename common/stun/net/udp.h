// STUN on an Asio UDP socket: hs-derper's --stun and hs-control's embedded STUN.
#pragma once

#include "common/net/asio.h"
#include "common/stun/message.h"

namespace hs::stun {

// Answers Binding Requests on `sock` until it is closed, in batches (net/batch.h); on a
// socket bound to a wildcard address each reply leaves from the address its request came to.
// Malformed datagrams are counted in `counters` and dropped.
boost::asio::awaitable<void> serve_stun(boost::asio::ip::udp::socket& sock, Counters& counters);

}  // namespace hs::stun
