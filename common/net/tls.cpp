#include "common/net/tls.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <unistd.h>

#include <memory>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>

#include "common/base/files.h"

namespace hs {
namespace ssl = boost::asio::ssl;
namespace {

template <auto Free>
struct Deleter {
    template <class T>
    void operator()(T* p) const {
        Free(p);
    }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;

[[noreturn]] void ossl_fail(const std::string& what) {
    const unsigned long e = ERR_get_error();
    char buf[256] = "unknown error";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    throw std::runtime_error(what + ": " + buf);
}

ssl::context base_context() {
    ssl::context ctx(ssl::context::tls_server);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    // Most DERP connections sit idle; this frees OpenSSL's per-connection buffers meanwhile.
    SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

void add_ext(X509* x, int nid, const std::string& value) {
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str()));
    if (!ext || !X509_add_ext(x, ext.get(), -1)) ossl_fail("certificate extension " + value);
}

}  // namespace

std::string cert_path(const std::string& certdir, const std::string& hostname, const char* ext) {
    std::string safe;
    for (const char c : hostname)
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') safe += c;
    return certdir + "/" + safe + ext;
}

ssl::context tls_from_files(const std::string& cert_file, const std::string& key_file) {
    auto ctx = base_context();
    boost::system::error_code ec;
    ctx.use_certificate_chain_file(cert_file, ec);
    if (ec) throw std::runtime_error(cert_file + ": cannot load certificate: " + ec.message());
    // An unreadable file is left to OpenSSL's message; one that others may read is refused here.
    if (::access(key_file.c_str(), F_OK) == 0) check_private_file(key_file, GroupRead::Warn);
    ctx.use_private_key_file(key_file, ssl::context::pem, ec);
    if (ec) throw std::runtime_error(key_file + ": cannot load private key: " + ec.message());
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
        throw std::runtime_error(key_file + ": private key does not match " + cert_file);
    return ctx;
}

ssl::context tls_self_signed(const std::string& hostname, std::string& sha256_hex) {
    PkeyPtr key(EVP_EC_gen("P-256"));
    if (!key) ossl_fail("generating an ECDSA key");
    X509Ptr x(X509_new());
    if (!x) ossl_fail("X509_new");
    X509_set_version(x.get(), 2);
    // A random serial keeps browsers and caches from confusing certificates across restarts.
    BnPtr serial(BN_new());
    if (!serial || !BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x.get())))
        ossl_fail("certificate serial");
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 365L * 24 * 3600);
    X509_set_pubkey(x.get(), key.get());
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(hostname.c_str()), -1,
                               -1, 0);
    X509_set_issuer_name(x.get(), name);
    boost::system::error_code ec;
    boost::asio::ip::make_address(hostname, ec);
    add_ext(x.get(), NID_subject_alt_name, (ec ? "DNS:" : "IP:") + hostname);
    add_ext(x.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x.get(), NID_key_usage, "critical,digitalSignature");
    add_ext(x.get(), NID_ext_key_usage, "serverAuth");
    if (!X509_sign(x.get(), key.get(), EVP_sha256())) ossl_fail("signing the certificate");

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!X509_digest(x.get(), EVP_sha256(), md, &md_len)) ossl_fail("certificate digest");
    sha256_hex.clear();
    for (unsigned int i = 0; i < md_len; ++i) {
        sha256_hex += "0123456789abcdef"[md[i] >> 4];
        sha256_hex += "0123456789abcdef"[md[i] & 15];
    }

    auto ctx = base_context();
    if (SSL_CTX_use_certificate(ctx.native_handle(), x.get()) != 1) ossl_fail("using the certificate");
    if (SSL_CTX_use_PrivateKey(ctx.native_handle(), key.get()) != 1) ossl_fail("using the key");
    return ctx;
}

namespace {

X509Ptr make_derp_meta_cert(const std::string& server_key_hex, int protocol_version) {
    PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    if (!key) ossl_fail("generating the meta certificate key");
    X509Ptr x(X509_new());
    if (!x) ossl_fail("X509_new");
    X509_set_version(x.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), protocol_version);
    // derper's window: a month either side, so clock skew never hides it.
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -30L * 24 * 3600);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 30L * 24 * 3600);
    X509_set_pubkey(x.get(), key.get());
    const std::string cn = "derpkey" + server_key_hex;
    X509_NAME* name = X509_get_subject_name(x.get());
    // 71 characters: over X.509's 64-character CN bound, which MBSTRING_ASC would enforce, so
    // the string type is given directly (Go, the reader, does not check the bound).
    if (!X509_NAME_add_entry_by_txt(name, "CN", V_ASN1_UTF8STRING, reinterpret_cast<const unsigned char*>(cn.c_str()),
                                    static_cast<int>(cn.size()), -1, 0))
        ossl_fail("meta certificate name");
    X509_set_issuer_name(x.get(), name);
    // derper sets basic constraints because macOS rejects chains whose extra certificates lack them.
    add_ext(x.get(), NID_basic_constraints, "critical,CA:FALSE");
    if (!X509_sign(x.get(), key.get(), nullptr)) ossl_fail("signing the meta certificate");  // Ed25519: no digest
    return x;
}

}  // namespace

void add_derp_meta_cert(ssl::context& ctx, const std::string& server_key_hex, int protocol_version) {
    const X509Ptr x = make_derp_meta_cert(server_key_hex, protocol_version);
    if (SSL_CTX_add1_chain_cert(ctx.native_handle(), x.get()) != 1) ossl_fail("adding the meta certificate");
}

std::string derp_meta_cert_pem(const std::string& server_key_hex, int protocol_version) {
    const X509Ptr x = make_derp_meta_cert(server_key_hex, protocol_version);
    std::unique_ptr<BIO, Deleter<BIO_free>> bio(BIO_new(BIO_s_mem()));
    if (!bio || !PEM_write_bio_X509(bio.get(), x.get())) ossl_fail("writing the meta certificate");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace hs
