#include "tools/hs-control/embedded_derp.h"

#include <spdlog/spdlog.h>

#include "common/base/key_file.h"
#include "common/base/keys.h"
#include "common/base/netaddr.h"
#include "common/config/derpmap.h"
#include "common/derp/net/conn.h"
#include "common/net/listen.h"
#include "common/net/tls.h"
#include "common/stun/net/udp.h"

namespace hs::control {

namespace asio = boost::asio;
using udp = asio::ip::udp;

EmbeddedDerp::EmbeddedDerp(asio::io_context& io, const Config& cfg) : io_(io), cfg_(cfg) {
    bool created = false;
    derp::DerpServer::Options o;
    o.private_key = load_or_create_key_file(cfg.derp.private_key_path, &created);
    if (created) spdlog::info("created DERP key {}", cfg.derp.private_key_path);
    if (cfg.derp.verify_clients)
        o.admit = [this](const PublicKey& k) {
            return tailnet_ && tailnet_->admits_node_key(key_text(kNodePrefix, k.bytes), Clock::now());
        };
    if (!cfg.derp.mesh_key_path.empty()) o.mesh_key = derp::load_mesh_key(cfg.derp.mesh_key_path);
    const auto mesh_key = o.mesh_key;
    const auto server_key_hex = to_hex(o.private_key.public_key().bytes);
    derp_ = std::make_unique<derp::DerpServer>(std::move(o));
    if (!cfg.derp.mesh_with.empty()) {
        try {
            mesh_ = std::make_unique<derp::Mesh>(io, *derp_, cfg.derp.mesh_with, *mesh_key);
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error(std::string("derp.server.mesh_with: ") + e.what());
        }
    }
    if (!cfg.derp.verify_client_url.empty()) {
        webhook_pool_ = std::make_unique<asio::thread_pool>(4);
        webhook_ = std::make_unique<derp::WebhookVerifier>(
            cfg.derp.verify_client_url, cfg.derp.verify_client_url_fail_open, webhook_pool_->get_executor());
        conn_opts_.verify = [w = webhook_.get()](const PublicKey& k, const derp::ConnMeta& m) {
            return w->admit(k, m);
        };
    }
    if (!cfg.derp.tls_listen_addr.empty()) {
        if (!cfg.tls_cert_path.empty()) {
            tls_ = std::make_unique<asio::ssl::context>(tls_from_files(cfg.tls_cert_path, cfg.tls_key_path));
        } else {
            const auto host = embedded_derp_region(cfg)["Nodes"][0]["HostName"].get<std::string>();
            std::string fp;
            tls_ = std::make_unique<asio::ssl::context>(tls_self_signed(host, fp));
            cert_name_ = "sha256-raw:" + fp;
        }
        // Lets TLS 1.3 clients skip waiting for the 101 (fast start), as with hs-derper.
        add_derp_meta_cert(*tls_, server_key_hex, derp::kProtocolVersion);
    }
}

EmbeddedDerp::~EmbeddedDerp() {
    if (mesh_) mesh_->stop();
    if (webhook_pool_) webhook_pool_->join();
}

void EmbeddedDerp::listen() {
    if (stun_) return;
    const char* setting = "derp.server.stun_listen_addr";
    auto sock = std::make_unique<udp::socket>(
        bind_udp(io_.get_executor(), parse_listen_addr(cfg_.derp.stun_listen_addr, setting), setting));
    stun_ = std::move(sock);
}

void EmbeddedDerp::start(Tailnet& tailnet) {
    tailnet_ = &tailnet;
    listen();
    asio::co_spawn(io_, stun::serve_stun(*stun_, stun_counters_), asio::detached);
    spdlog::info("embedded DERP region {} ({}) at /derp{}, STUN on {}", cfg_.derp.region_id, cfg_.derp.region_code,
                 tls_ ? " and on TLS port " + cfg_.derp.tls_listen_addr : std::string(), cfg_.derp.stun_listen_addr);
    if (webhook_)
        spdlog::info("embedded DERP: verify_client_url asks {} (fail {})", cfg_.derp.verify_client_url,
                     cfg_.derp.verify_client_url_fail_open ? "open" : "closed");
    if (mesh_) {
        spdlog::info("embedded DERP: meshing with {} peer(s) of region {} (server key {})", cfg_.derp.mesh_with.size(),
                     cfg_.derp.region_id, key_text(kNodePrefix, derp_->public_key().bytes));
        mesh_->start();
    }
}

void EmbeddedDerp::enforce_admission() {
    if (!cfg_.derp.verify_clients || !tailnet_) return;
    const auto now = Clock::now();
    const auto closed = derp_->close_where_not(
        [&](const PublicKey& k) { return tailnet_->admits_node_key(key_text(kNodePrefix, k.bytes), now); });
    if (closed) spdlog::info("embedded DERP: closed {} connections of nodes no longer in the tailnet", closed);
}

std::string EmbeddedDerp::metrics_text() const {
    return derp::prometheus_text(derp_->stats()) + derp::fast_start_metric(fast_starts_.load()) +
           (mesh_ ? mesh_->prometheus_text() : std::string()) + stun_counters_.prometheus_text();
}

}  // namespace hs::control
