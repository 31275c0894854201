// CSRs, the TLS-ALPN-01 validation certificate (RFC 8737 §3) and reading issued certificates.
#include <catch2/catch.hpp>

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/acme/certs.h"

using namespace hs::acme;

namespace {
X509* read_pem(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return x;
}
}  // namespace

TEST_CASE("make_csr: signed by the key, every name a dNSName SAN") {
    const EcKey key = EcKey::generate();
    const std::string der = make_csr(key, {"hs.example.com", "alt.example.com"});
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size()));
    REQUIRE(req);
    CHECK(X509_REQ_verify(req, key.get()) == 1);
    STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
    REQUIRE(exts);
    auto* names = static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts, NID_subject_alt_name, nullptr, nullptr));
    REQUIRE(names);
    REQUIRE(sk_GENERAL_NAME_num(names) == 2);
    CHECK(std::string(reinterpret_cast<const char*>(
              ASN1_STRING_get0_data(sk_GENERAL_NAME_value(names, 1)->d.dNSName))) == "alt.example.com");
    GENERAL_NAMES_free(names);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    CHECK_THROWS_AS(make_csr(key, {}), AcmeError);
}

TEST_CASE("tls_alpn_certificate: critical acmeIdentifier holding SHA-256 of the key authorization") {
    const EcKey key = EcKey::generate();
    const std::string ka = "token123.thumb456";
    const std::string pem = tls_alpn_certificate(key, "hs.example.com", ka);
    X509* x = read_pem(pem);
    REQUIRE(x);
    ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    const int idx = X509_get_ext_by_OBJ(x, oid, -1);
    REQUIRE(idx >= 0);
    X509_EXTENSION* ext = X509_get_ext(x, idx);
    CHECK(X509_EXTENSION_get_critical(ext) == 1);
    const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(ext);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(ka.data()), ka.size(), digest);
    const std::string expected = std::string("\x04\x20", 2) + std::string(reinterpret_cast<char*>(digest), 32);
    CHECK(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)), ASN1_STRING_length(v)) == expected);
    CHECK(inspect_certificate(pem).dns_names == std::vector<std::string>{"hs.example.com"});
    CHECK(certificate_matches_key(pem, key));
    CHECK_FALSE(certificate_matches_key(pem, EcKey::generate()));
    ASN1_OBJECT_free(oid);
    X509_free(x);
}

TEST_CASE("inspect_certificate and renewal_time: two thirds into the validity") {
    const EcKey key = EcKey::generate();
    const CertInfo c = inspect_certificate(tls_alpn_certificate(key, "a.example", "k"));
    // tls_alpn_certificate: from an hour ago to seven days ahead.
    CHECK(c.not_after - c.not_before == std::chrono::hours(7 * 24 + 1));
    CHECK(renewal_time(c) == c.not_before + std::chrono::hours(112) + std::chrono::minutes(40));
    CHECK_FALSE(c.serial_hex.empty());
    CHECK_THROWS_AS(inspect_certificate("no certificate here"), AcmeError);
}
