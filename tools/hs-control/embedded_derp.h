// derp.server.enabled: the same DERP relay and STUN server as hs-derper and hs-stun, inside
// hs-control. DERP shares the control listener (/derp and its probes); STUN has its own UDP
// socket. Admission comes from the tailnet in memory, so a node is admitted the moment it
// registers and refused the moment it is deleted or expires (derp.server.verify_clients), and
// derp.server.verify_client_url asks an admission webhook as hs-derper's --verify-client-url
// does. With derp.server.mesh_key_path and mesh_with it meshes with the other DERP servers of
// its region (hs-control instances, hs-derper, Tailscale's derper) like hs-derper --mesh-with.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/net/asio.h"

#include <boost/asio/ssl.hpp>
#include <boost/asio/thread_pool.hpp>
#include "common/config/config.h"
#include "common/derp/net/conn.h"
#include "common/derp/net/mesh.h"
#include "common/derp/net/webhook.h"
#include "common/derp/server.h"
#include "common/stun/message.h"
#include "tools/hs-control/tailnet.h"

namespace hs::control {

class EmbeddedDerp {
public:
    // Loads or creates the DERP key and, with derp.server.tls_listen_addr, the TLS context;
    // reads the mesh key. Throws std::runtime_error naming the setting or file at fault.
    EmbeddedDerp(boost::asio::io_context& io, const Config& cfg);
    ~EmbeddedDerp();

    // Binds the STUN socket (throws naming the address) without answering yet.
    void listen();
    // Admits from `tailnet`, binds the STUN socket unless listen() did, starts answering and
    // dials the mesh peers.
    void start(Tailnet& tailnet);
    // The TLS port's context, or null when DERP is served on the control listener only.
    boost::asio::ssl::context* tls_context() { return tls_.get(); }
    // "sha256-raw:<hex>" of the self-signed certificate, for the DERP map ("" without one).
    const std::string& cert_name() const { return cert_name_; }
    // Closes DERP connections of nodes no longer admitted (after deletes and expiries).
    void enforce_admission();

    // A /derp request on plain TCP or TLS: an upgrade is served until the client leaves;
    // anything else gets the probe, latency-check or 426 answer.
    template <class Stream>
    boost::asio::awaitable<void> serve(Stream stream, boost::beast::flat_buffer& buffer,
                                       boost::beast::http::request<boost::beast::http::string_body> req,
                                       boost::asio::ip::tcp::endpoint remote, std::string peer) {
        namespace http = boost::beast::http;
        const std::string target(req.target());
        if (target.substr(0, target.find('?')) == "/derp" && derp::upgrade_kind(req) != derp::Upgrade::None) {
            if (req["Derp-Fast-Start"] == "1") ++fast_starts_;
            const auto meta = derp::conn_meta(remote, req);
            co_await derp::accept_derp(std::move(stream), buffer, std::move(req), *derp_, meta, std::move(peer),
                                       conn_opts_);
            co_return;
        }
        auto res = derp::derp_http_response(req);
        res.keep_alive(false);
        boost::system::error_code ec;
        co_await http::async_write(stream, res, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
    std::string metrics_text() const;

private:
    boost::asio::io_context& io_;
    const Config& cfg_;
    Tailnet* tailnet_ = nullptr;
    std::unique_ptr<derp::DerpServer> derp_;
    derp::ConnOptions conn_opts_;
    std::unique_ptr<derp::Mesh> mesh_;
    // Webhook calls block on the network: their own threads, never the event loop's.
    std::unique_ptr<boost::asio::thread_pool> webhook_pool_;
    std::unique_ptr<derp::WebhookVerifier> webhook_;
    std::unique_ptr<boost::asio::ssl::context> tls_;
    std::string cert_name_;
    std::unique_ptr<boost::asio::ip::udp::socket> stun_;
    stun::Counters stun_counters_;
    std::atomic<std::uint64_t> fast_starts_{0};
};

}  // namespace hs::control
