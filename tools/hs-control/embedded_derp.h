// derp.server.enabled: the same DERP relay and STUN server as hs-derper and hs-stun, inside
// hs-control. DERP shares the control listener (/derp and its probes); STUN has its own UDP
// socket. Admission comes from the tailnet in memory, so a node is admitted the moment it
// registers and refused the moment it is deleted or expires.
#pragma once

#include <memory>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/asio.h"
#include "common/config.h"
#include "common/derp_server.h"
#include "common/stun.h"
#include "tools/hs-control/tailnet.h"

namespace hs::control {

class EmbeddedDerp {
public:
    EmbeddedDerp(boost::asio::io_context& io, const Config& cfg, Tailnet& tailnet);

    // Binds the STUN socket (throws naming the address) and starts answering.
    void start();
    // Closes DERP connections of nodes no longer admitted (after deletes and expiries).
    void enforce_admission();

    // A /derp request: an upgrade is served until the client leaves; anything else gets the
    // probe, latency-check or 426 answer.
    boost::asio::awaitable<void> serve(boost::beast::tcp_stream stream, boost::beast::flat_buffer& buffer,
                                       boost::beast::http::request<boost::beast::http::string_body> req,
                                       boost::asio::ip::tcp::endpoint remote, std::string peer);
    std::string metrics_text() const;

private:
    boost::asio::awaitable<void> stun_loop();

    boost::asio::io_context& io_;
    const Config& cfg_;
    Tailnet& tailnet_;
    std::unique_ptr<derp::DerpServer> derp_;
    std::unique_ptr<boost::asio::ip::udp::socket> stun_;
    stun::Counters stun_counters_;
};

}  // namespace hs::control
