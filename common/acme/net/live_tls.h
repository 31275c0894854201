// A TLS server context whose certificate is replaced while it serves (ACME renewals reach new
// connections at once, no restart), and which answers TLS-ALPN-01 validation handshakes
// (RFC 8737): a ClientHello offering "acme-tls/1" for a name with a pending challenge gets
// that challenge's certificate and the protocol, every other one the current certificate.
// Thread-safe: hs-derper's worker threads handshake in parallel.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/ssl/context.hpp>

namespace hs::acme {

class LiveTls {
public:
    LiveTls();
    ~LiveTls();
    LiveTls(const LiveTls&) = delete;
    LiveTls& operator=(const LiveTls&) = delete;

    boost::asio::ssl::context& context() { return ctx_; }

    // The chain (leaf first) and its key, as PEM. Throws AcmeError when either does not parse
    // or the key is not the leaf's; the certificate in use then stays.
    void set_certificate(const std::string& chain_pem, const std::string& key_pem);
    bool has_certificate() const;
    // Certificates sent after the chain on every connection (hs-derper's "derpkey" meta certificate).
    void add_trailing_certificate(const std::string& pem);

    void set_challenge(const std::string& hostname, const std::string& cert_pem, const std::string& key_pem);
    void clear_challenges();

    // Whether the handshake on `ssl` was a TLS-ALPN-01 validation (the server closes it then).
    static bool is_validation(const SSL* ssl);

    struct Material;

private:
    static int on_client_hello(SSL* ssl, int* alert, void* self);
    std::shared_ptr<const Material> pick(const std::string& sni, bool acme, bool& challenge) const;

    boost::asio::ssl::context ctx_;
    mutable std::mutex mu_;
    std::shared_ptr<const Material> current_;
    std::map<std::string, std::shared_ptr<const Material>> challenges_;
    std::vector<std::string> trailing_;
};

}  // namespace hs::acme
