// STUN on an Asio UDP socket, beside the DERP listener (derper's -stun).
#pragma once

#include "common/asio.h"
#include "common/stun.h"

namespace hs::derper {

// Answers Binding Requests on `sock` until it is closed. Malformed datagrams are counted in
// `counters` and dropped.
boost::asio::awaitable<void> serve_stun(boost::asio::ip::udp::socket& sock, stun::Counters& counters);

}  // namespace hs::derper
