#include "tools/hs-control/acme_tls.h"

#include <spdlog/spdlog.h>

namespace hs::control {

std::string acme_listen_addr(const std::string& value) {
    const auto colon = value.rfind(':');
    if (colon == std::string::npos) return value;
    const std::string port = value.substr(colon + 1);
    if (port == "http") return value.substr(0, colon + 1) + "80";
    if (port == "https") return value.substr(0, colon + 1) + "443";
    return value;
}

AcmeTls::AcmeTls(boost::asio::io_context& io, const Config& cfg) {
    acme::ManagerSettings s;
    s.hostname = cfg.tls_letsencrypt_hostname;
    s.directory_url = cfg.acme_url.empty() ? kDefaultAcmeUrl : cfg.acme_url;
    s.email = cfg.acme_email;
    s.cache_dir = cfg.tls_letsencrypt_cache_dir.empty() ? kDefaultAcmeCache : cfg.tls_letsencrypt_cache_dir;
    s.challenge = acme::parse_challenge_type(cfg.tls_letsencrypt_challenge_type);
    if (s.challenge == acme::ChallengeType::Http01) {
        s.http_listen = acme_listen_addr(cfg.tls_letsencrypt_listen);
        s.http_listen_setting = "tls_letsencrypt_listen";
        std::string base = cfg.server_url;
        while (!base.empty() && base.back() == '/') base.pop_back();
        s.redirect_base = base;
    } else if (const auto colon = cfg.listen_addr.rfind(':'); cfg.listen_addr.substr(colon + 1) != "443") {
        // The CA connects to port 443 (RFC 8737 §3): only a redirect or a test CA reaches others.
        spdlog::warn("tls_letsencrypt_challenge_type TLS-ALPN-01: listen_addr {} is not port 443, where CAs validate",
                     cfg.listen_addr);
    }
    manager_ = std::make_unique<acme::CertManager>(io.get_executor(), std::move(s), tls_);
    manager_->prepare();
}

}  // namespace hs::control
