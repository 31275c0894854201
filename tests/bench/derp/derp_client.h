// The client side of one DERP connection for the benchmark: TCP, TLS (the server's certificate
// is not verified: both servers under test use self-signed ones), the HTTP upgrade and the DERP
// handshake, done blocking. After it, the caller drives the socket non-blocking.
#pragma once

#include <openssl/ssl.h>

#include <string>

#include "common/base/keys.h"

namespace hs::bench {

struct DerpConn {
    int fd = -1;
    SSL* ssl = nullptr;
    PrivateKey key;
    PublicKey public_key;
    std::string leftover;  // bytes read past ServerInfo (frames the server sent already)

    DerpConn() = default;
    DerpConn(const DerpConn&) = delete;
    DerpConn& operator=(const DerpConn&) = delete;
    DerpConn(DerpConn&& o) noexcept;
    DerpConn& operator=(DerpConn&& o) noexcept;
    ~DerpConn();
};

// One client context for every connection (TLS 1.2 and 1.3, no verification).
SSL_CTX* make_client_ctx();

// Connects to host:port (numeric host), sends "GET /derp" with Upgrade: DERP and `sni` as SNI and
// Host, and completes the handshake with a fresh node key. Throws std::runtime_error saying
// which step failed.
DerpConn derp_connect(SSL_CTX* ctx, const std::string& host, int port, const std::string& sni);

// The OpenSSL error queue as text, for messages.
std::string ssl_errors();

}  // namespace hs::bench
