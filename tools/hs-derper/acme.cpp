#include "tools/hs-derper/acme.h"

#include "common/base/netaddr.h"
#include "common/net/listen.h"

namespace hs::derper {

void check_acme_options(const Options& o) {
    if (o.certmode != "letsencrypt") return;
    if (o.hostname.empty()) throw std::runtime_error("--certmode letsencrypt needs --hostname");
    if (o.plain_http || o.self_signed)
        throw std::runtime_error("--certmode letsencrypt cannot be combined with --http or --self-signed");
    try {
        if (acme::parse_challenge_type(o.acme_challenge) == acme::ChallengeType::Http01 && o.http_port <= 0)
            throw std::runtime_error("--acme-challenge HTTP-01 needs --http-port (the CA asks on port 80)");
    } catch (const acme::AcmeError& e) {
        throw std::runtime_error(std::string("--acme-challenge: ") + e.what());
    }
    if (o.http_port > 65535) throw std::runtime_error("--http-port: out of range");
}

std::unique_ptr<acme::CertManager> make_cert_manager(const Options& o, const boost::asio::any_io_executor& ex,
                                                     acme::LiveTls& tls) {
    const ListenAddr addr = parse_listen_addr(o.addr, "--addr");
    acme::ManagerSettings s;
    s.hostname = o.hostname;
    s.directory_url = o.acme_url;
    s.email = o.acme_email;
    s.cache_dir = o.certdir;
    s.challenge = acme::parse_challenge_type(o.acme_challenge);
    if (o.http_port > 0) {
        // derper binds the HTTP port on --addr's IP, or on every address when --addr has none.
        const std::string ip = addr.ip.is_unspecified() ? "" : addr.ip.to_string();
        s.http_listen = host_port_text(ip, static_cast<std::uint16_t>(o.http_port));
        s.http_listen_setting = "--http-port";
        s.redirect_base = "https://" + (addr.port == 443 ? o.hostname : host_port_text(o.hostname, addr.port));
    }
    auto m = std::make_unique<acme::CertManager>(ex, std::move(s), tls);
    m->prepare();
    return m;
}

}  // namespace hs::derper
