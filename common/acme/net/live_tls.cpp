#include "common/acme/net/live_tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

#include "common/acme/jws.h"
#include "common/acme/ossl.h"

namespace hs::acme {
namespace {

namespace ssl = boost::asio::ssl;
constexpr unsigned char kAcmeAlpn[] = "acme-tls/1";  // RFC 8737 §6.2
constexpr std::size_t kAcmeAlpnLen = sizeof kAcmeAlpn - 1;

int validation_index() {
    static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

// Big-endian 16-bit length prefix, then the body; false if the prefix overruns.
bool take16(const unsigned char*& p, std::size_t& len, const unsigned char*& body, std::size_t& body_len) {
    if (len < 2) return false;
    body_len = static_cast<std::size_t>(p[0]) << 8 | p[1];
    if (body_len > len - 2) return false;
    body = p + 2;
    p += 2 + body_len;
    len -= 2 + body_len;
    return true;
}

// The host_name of the server_name extension (RFC 6066 §3), "" when absent or malformed.
std::string client_sni(SSL* s) {
    const unsigned char* p = nullptr;
    std::size_t len = 0;
    if (!SSL_client_hello_get0_ext(s, TLSEXT_TYPE_server_name, &p, &len)) return {};
    const unsigned char* list = nullptr;
    std::size_t list_len = 0;
    if (!take16(p, len, list, list_len) || list_len < 3 || list[0] != 0) return {};
    ++list;
    --list_len;
    const unsigned char* name = nullptr;
    std::size_t name_len = 0;
    if (!take16(list, list_len, name, name_len)) return {};
    std::string out(reinterpret_cast<const char*>(name), name_len);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// Whether the ALPN extension (RFC 7301 §3.1) lists "acme-tls/1".
bool offers_acme(const unsigned char* p, std::size_t len) {
    while (len > 0) {
        const std::size_t n = p[0];
        if (n + 1 > len) return false;
        if (n == kAcmeAlpnLen && std::memcmp(p + 1, kAcmeAlpn, n) == 0) return true;
        p += n + 1;
        len -= n + 1;
    }
    return false;
}

bool client_offers_acme(SSL* s) {
    const unsigned char* p = nullptr;
    std::size_t len = 0;
    if (!SSL_client_hello_get0_ext(s, TLSEXT_TYPE_application_layer_protocol_negotiation, &p, &len)) return false;
    const unsigned char* list = nullptr;
    std::size_t list_len = 0;
    return take16(p, len, list, list_len) && offers_acme(list, list_len);
}

int select_alpn(SSL* s, const unsigned char** out, unsigned char* out_len, const unsigned char* in, unsigned int in_len,
                void*) {
    // Only a validation handshake speaks acme-tls/1; the others carry HTTP/1.1 without ALPN.
    if (!LiveTls::is_validation(s) || !offers_acme(in, in_len)) return SSL_TLSEXT_ERR_NOACK;
    *out = kAcmeAlpn;
    *out_len = static_cast<unsigned char>(kAcmeAlpnLen);
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace

struct LiveTls::Material {
    X509* leaf = nullptr;
    STACK_OF(X509) * chain = nullptr;
    EVP_PKEY* key = nullptr;
    ~Material() {
        X509_free(leaf);
        sk_X509_pop_free(chain, X509_free);
        EVP_PKEY_free(key);
    }
};

namespace {

std::shared_ptr<LiveTls::Material> load(const std::string& chain_pem, const std::string& key_pem,
                                        const std::vector<std::string>& trailing) {
    auto m = std::make_shared<LiveTls::Material>();
    m->chain = sk_X509_new_null();
    auto read_all = [&](const std::string& pem, bool leaf_first) {
        BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
        while (X509* x = bio ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr) {
            if (leaf_first && !m->leaf) m->leaf = x;
            else sk_X509_push(m->chain, x);
        }
        ERR_clear_error();  // the read that ends the loop reports "no start line"
        BIO_free(bio);
    };
    read_all(chain_pem, true);
    for (const auto& t : trailing) read_all(t, false);
    if (!m->leaf) ossl_fail("the certificate file holds no PEM certificate");
    BIO* kb = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
    m->key = kb ? PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr) : nullptr;
    BIO_free(kb);
    if (!m->key) ossl_fail("the key file holds no PEM private key");
    if (X509_check_private_key(m->leaf, m->key) != 1) ossl_fail("the private key does not match the certificate");
    return m;
}

}  // namespace

LiveTls::LiveTls() : ctx_(ssl::context::tls_server) {
    ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    SSL_CTX_set_min_proto_version(ctx_.native_handle(), TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx_.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_client_hello_cb(ctx_.native_handle(), &LiveTls::on_client_hello, this);
    SSL_CTX_set_alpn_select_cb(ctx_.native_handle(), &select_alpn, nullptr);
}

LiveTls::~LiveTls() = default;

void LiveTls::set_certificate(const std::string& chain_pem, const std::string& key_pem) {
    std::vector<std::string> trailing;
    {
        std::lock_guard lk(mu_);
        trailing = trailing_;
    }
    auto m = load(chain_pem, key_pem, trailing);
    std::lock_guard lk(mu_);
    current_ = std::move(m);
}

bool LiveTls::has_certificate() const {
    std::lock_guard lk(mu_);
    return current_ != nullptr;
}

void LiveTls::add_trailing_certificate(const std::string& pem) {
    std::lock_guard lk(mu_);
    trailing_.push_back(pem);
}

void LiveTls::set_challenge(const std::string& hostname, const std::string& cert_pem, const std::string& key_pem) {
    auto m = load(cert_pem, key_pem, {});
    std::string host = hostname;
    std::transform(host.begin(), host.end(), host.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::lock_guard lk(mu_);
    challenges_[host] = std::move(m);
}

void LiveTls::clear_challenges() {
    std::lock_guard lk(mu_);
    challenges_.clear();
}

bool LiveTls::is_validation(const SSL* ssl) { return SSL_get_ex_data(ssl, validation_index()) != nullptr; }

std::shared_ptr<const LiveTls::Material> LiveTls::pick(const std::string& sni, bool acme, bool& challenge) const {
    std::lock_guard lk(mu_);
    challenge = false;
    if (acme)
        if (const auto it = challenges_.find(sni); it != challenges_.end()) {
            challenge = true;
            return it->second;
        }
    return current_;
}

int LiveTls::on_client_hello(SSL* s, int* alert, void* self) {
    auto* tls = static_cast<LiveTls*>(self);
    bool validation = false;
    const auto m = tls->pick(client_sni(s), client_offers_acme(s), validation);
    if (!m) {
        // No certificate yet (the first ACME order is still running): refuse, never serve plain.
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    SSL_set_ex_data(s, validation_index(), validation ? tls : nullptr);
    // The SSL holds its own references, so a renewal that replaces `m` meanwhile is harmless.
    if (SSL_use_cert_and_key(s, m->leaf, m->key, m->chain, 1) != 1) {
        ERR_clear_error();
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

}  // namespace hs::acme
