// STUN on an Asio UDP socket: hs-derper's --stun and hs-control's embedded STUN.
#pragma once

#include "common/asio.h"
#include "common/stun.h"

namespace hs::stun {

// Answers Binding Requests on `sock` until it is closed. Malformed datagrams are counted in
// `counters` and dropped.
boost::asio::awaitable<void> serve_stun(boost::asio::ip::udp::socket& sock, Counters& counters);

}  // namespace hs::stun
