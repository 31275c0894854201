// hs-control's certificate from an ACME CA (headscale's tls_letsencrypt_* keys, acme_url,
// acme_email): the live TLS context listen_addr serves, the HTTP-01 listener on
// tls_letsencrypt_listen, and the renewals, all on the server's event loop.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/acme/net/live_tls.h"
#include "common/acme/net/manager.h"
#include "common/config/config.h"

namespace hs::control {

// headscale's default directory (Let's Encrypt production) and cache.
inline constexpr const char* kDefaultAcmeUrl = "https://acme-v02.api.letsencrypt.org/directory";
inline constexpr const char* kDefaultAcmeCache = "/var/lib/headscale/cache";

// tls_letsencrypt_listen as a listen address: Go's service names ":http"/":https" become ports.
std::string acme_listen_addr(const std::string& value);

class AcmeTls {
public:
    // Prepares the cache (throws naming it when it cannot be written), loads a cached
    // certificate, binds the HTTP-01 listener when the challenge is HTTP-01.
    AcmeTls(boost::asio::io_context& io, const Config& cfg);
    boost::asio::ssl::context& context() { return tls_.context(); }
    // `on_fatal`: no certificate could be had and none was cached.
    void start(std::function<void(const std::string&)> on_fatal) { manager_->start(std::move(on_fatal)); }
    void stop() { manager_->stop(); }
    std::string metrics_text() const { return manager_->metrics_text(); }

private:
    acme::LiveTls tls_;
    std::unique_ptr<acme::CertManager> manager_;
};

}  // namespace hs::control
