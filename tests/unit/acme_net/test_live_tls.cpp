// The live TLS context over in-memory handshakes: the current certificate for ordinary
// ClientHellos, the validation certificate and acme-tls/1 for a TLS-ALPN-01 one (RFC 8737 §3),
// a swapped certificate for the next connection, a refusal while there is none. And the
// HTTP-01 answers.
#include <catch2/catch.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/acme/certs.h"
#include "common/acme/net/http01.h"
#include "common/acme/net/live_tls.h"

using namespace hs::acme;

namespace {

struct Handshake {
    bool ok = false;
    std::string serial, alpn;
    bool validation = false;
};

// One client handshake against `server` through memory BIOs, offering `alpn` (may be empty).
Handshake handshake(SSL_CTX* server, const std::string& sni, const std::string& alpn) {
    SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
    SSL* c = SSL_new(cctx);
    SSL* s = SSL_new(server);
    BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
    BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
    SSL_set_bio(c, c_in, c_out);
    SSL_set_bio(s, s_in, s_out);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    SSL_set_tlsext_host_name(c, sni.c_str());
    if (!alpn.empty()) {
        std::string wire = std::string(1, static_cast<char>(alpn.size())) + alpn;
        SSL_set_alpn_protos(c, reinterpret_cast<const unsigned char*>(wire.data()), static_cast<unsigned>(wire.size()));
    }
    auto pump = [](BIO* from, BIO* to) {
        char buf[16384];
        int n;
        while ((n = BIO_read(from, buf, sizeof buf)) > 0) BIO_write(to, buf, n);
    };
    int rc_c = 0, rc_s = 0;
    for (int i = 0; i < 20 && (rc_c != 1 || rc_s != 1); ++i) {
        rc_c = SSL_do_handshake(c);
        pump(c_out, s_in);
        rc_s = SSL_do_handshake(s);
        pump(s_out, c_in);
        if (rc_s <= 0 && SSL_get_error(s, rc_s) == SSL_ERROR_SSL) break;
    }
    Handshake h;
    h.ok = rc_c == 1 && rc_s == 1;
    if (X509* peer = SSL_get1_peer_certificate(c)) {
        BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(peer), nullptr);
        char* hex = BN_bn2hex(bn);
        h.serial = hex;
        OPENSSL_free(hex);
        BN_free(bn);
        X509_free(peer);
    }
    const unsigned char* p = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(c, &p, &len);
    h.alpn.assign(reinterpret_cast<const char*>(p), len);
    h.validation = LiveTls::is_validation(s);
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cctx);
    ERR_clear_error();
    return h;
}

struct Cert {
    std::string pem, key, serial;
};
Cert make(const std::string& host) {
    const EcKey k = EcKey::generate();
    Cert c{tls_alpn_certificate(k, host, "unused"), k.private_pem(), ""};
    c.serial = inspect_certificate(c.pem).serial_hex;
    return c;
}

}  // namespace

TEST_CASE("LiveTls: refuses without a certificate, then serves the current one and swaps it live") {
    LiveTls tls;
    SSL_CTX* ctx = tls.context().native_handle();
    CHECK_FALSE(handshake(ctx, "hs.example", "").ok);

    const Cert first = make("hs.example"), second = make("hs.example");
    tls.set_certificate(first.pem, first.key);
    const auto h1 = handshake(ctx, "hs.example", "");
    CHECK(h1.ok);
    CHECK(h1.serial == first.serial);
    CHECK(h1.alpn.empty());
    CHECK_FALSE(h1.validation);

    tls.set_certificate(second.pem, second.key);
    CHECK(handshake(ctx, "hs.example", "").serial == second.serial);
    CHECK_THROWS_WITH(tls.set_certificate(first.pem, second.key), Catch::Contains("does not match"));
    CHECK(handshake(ctx, "hs.example", "").serial == second.serial);  // a bad pair changes nothing
}

TEST_CASE("LiveTls: acme-tls/1 for a pending name gets the validation certificate and the protocol") {
    LiveTls tls;
    SSL_CTX* ctx = tls.context().native_handle();
    const Cert site = make("hs.example"), challenge = make("hs.example");
    tls.set_certificate(site.pem, site.key);
    tls.set_challenge("HS.example", challenge.pem, challenge.key);

    const auto v = handshake(ctx, "hs.example", "acme-tls/1");
    CHECK(v.ok);
    CHECK(v.serial == challenge.serial);
    CHECK(v.alpn == "acme-tls/1");
    CHECK(v.validation);
    // Other names, and ordinary clients of the pending name, get the site's certificate.
    CHECK(handshake(ctx, "other.example", "acme-tls/1").serial == site.serial);
    const auto plain = handshake(ctx, "hs.example", "http/1.1");
    CHECK(plain.serial == site.serial);
    CHECK(plain.alpn.empty());
    CHECK_FALSE(plain.validation);

    tls.clear_challenges();
    const auto after = handshake(ctx, "hs.example", "acme-tls/1");
    CHECK(after.serial == site.serial);
    CHECK(after.alpn.empty());
}

TEST_CASE("LiveTls: trailing certificates follow the chain (derper's meta certificate)") {
    LiveTls tls;
    const Cert site = make("hs.example"), extra = make("derpkey");
    tls.add_trailing_certificate(extra.pem);
    tls.set_certificate(site.pem, site.key);
    CHECK(handshake(tls.context().native_handle(), "hs.example", "").ok);
}

TEST_CASE("Http01Responder: tokens answered, others 404, the rest redirected to HTTPS") {
    Http01Responder r("https://hs.example:8443");
    r.publish("tok", "tok.thumb");
    const auto a = r.answer("/.well-known/acme-challenge/tok");
    CHECK(a.status == 200);
    CHECK(a.body == "tok.thumb");
    CHECK(r.answer("/.well-known/acme-challenge/other").status == 404);
    const auto red = r.answer("/key?v=88");
    CHECK(red.status == 308);
    CHECK(red.location == "https://hs.example:8443/key?v=88");
    r.clear();
    CHECK(r.answer("/.well-known/acme-challenge/tok").status == 404);
    CHECK(Http01Responder("").answer("/x").status == 404);
}
