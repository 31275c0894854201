#include "common/acme/certs.h"

#include "common/acme/ossl.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace hs::acme {
namespace {

using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
// Named, not lambdas in decltype: the fuzz build's clang 14 lacks lambdas in unevaluated operands.
struct ExtStackFree {
    void operator()(STACK_OF(X509_EXTENSION) * s) const { sk_X509_EXTENSION_free(s); }
};

const unsigned char* bytes(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

std::string san_list(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "DNS:" : ",DNS:") + n;
    return out;
}

X509Ptr read_leaf(const std::string& pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    X509Ptr x(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!x) ossl_fail("no PEM certificate");
    return x;
}

SysTime asn1_time(const ASN1_TIME* t) {
    struct tm tm {};
    if (!ASN1_TIME_to_tm(t, &tm)) ossl_fail("certificate time");
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

std::string make_csr(const EcKey& key, const std::vector<std::string>& names) {
    if (names.empty()) throw AcmeError("a CSR needs at least one name");
    ReqPtr req(X509_REQ_new());
    if (!req || !X509_REQ_set_version(req.get(), 0)) ossl_fail("X509_REQ_new");
    X509_NAME* subject = X509_REQ_get_subject_name(req.get());
    if (!X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, bytes(names[0]), -1, -1, 0)) ossl_fail("CSR subject");
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, nullptr, nullptr, req.get(), nullptr, 0);
    ExtPtr san(X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san_list(names).c_str()));
    std::unique_ptr<STACK_OF(X509_EXTENSION), ExtStackFree> exts(sk_X509_EXTENSION_new_null());
    if (!san || !exts || !sk_X509_EXTENSION_push(exts.get(), san.get()) ||
        !X509_REQ_add_extensions(req.get(), exts.get()))
        ossl_fail("CSR names");
    if (!X509_REQ_set_pubkey(req.get(), key.get()) || !X509_REQ_sign(req.get(), key.get(), EVP_sha256()))
        ossl_fail("signing the CSR");
    const int len = i2d_X509_REQ(req.get(), nullptr);
    std::string der(static_cast<std::size_t>(len > 0 ? len : 0), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    if (len <= 0 || i2d_X509_REQ(req.get(), &p) != len) ossl_fail("encoding the CSR");
    return der;
}

std::string tls_alpn_certificate(const EcKey& key, const std::string& hostname, const std::string& key_authorization) {
    X509Ptr x(X509_new());
    if (!x || !X509_set_version(x.get(), 2)) ossl_fail("X509_new");
    std::unique_ptr<BIGNUM, Deleter<BN_free>> serial(BN_new());
    if (!serial || !BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x.get())))
        ossl_fail("certificate serial");
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 7L * 24 * 3600);
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, bytes(hostname), -1, -1, 0);
    X509_set_issuer_name(x.get(), name);
    if (!X509_set_pubkey(x.get(), key.get())) ossl_fail("certificate key");
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
    ExtPtr san(X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, ("DNS:" + hostname).c_str()));
    if (!san || !X509_add_ext(x.get(), san.get(), -1)) ossl_fail("certificate name");

    // The extension's value is the DER of an OCTET STRING holding the 32-byte digest (RFC 8737 §3).
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(bytes(key_authorization), key_authorization.size(), digest);
    std::string inner = std::string("\x04\x20", 2) + std::string(reinterpret_cast<char*>(digest), sizeof digest);
    std::unique_ptr<ASN1_OBJECT, Deleter<ASN1_OBJECT_free>> oid(OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1));
    std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>> value(ASN1_OCTET_STRING_new());
    if (!oid || !value || !ASN1_OCTET_STRING_set(value.get(), bytes(inner), static_cast<int>(inner.size())))
        ossl_fail("acmeIdentifier");
    ExtPtr id(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 1, value.get()));
    if (!id || !X509_add_ext(x.get(), id.get(), -1)) ossl_fail("acmeIdentifier");
    if (!X509_sign(x.get(), key.get(), EVP_sha256())) ossl_fail("signing the validation certificate");

    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || !PEM_write_bio_X509(bio.get(), x.get())) ossl_fail("writing the validation certificate");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

CertInfo inspect_certificate(const std::string& chain_pem) {
    const X509Ptr x = read_leaf(chain_pem);
    CertInfo info;
    info.not_before = asn1_time(X509_get0_notBefore(x.get()));
    info.not_after = asn1_time(X509_get0_notAfter(x.get()));
    if (auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x.get(), NID_subject_alt_name, nullptr, nullptr))) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
            const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
            if (g->type != GEN_DNS) continue;
            const ASN1_IA5STRING* s = g->d.dNSName;
            info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                        static_cast<std::size_t>(ASN1_STRING_length(s)));
        }
        GENERAL_NAMES_free(names);
    }
    std::unique_ptr<BIGNUM, Deleter<BN_free>> serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x.get()), nullptr));
    if (serial) {
        std::unique_ptr<char, OsslFree> hex(BN_bn2hex(serial.get()));
        if (hex) info.serial_hex = hex.get();
    }
    return info;
}

bool certificate_matches_key(const std::string& chain_pem, const EcKey& key) {
    const X509Ptr x = read_leaf(chain_pem);
    const bool ok = X509_check_private_key(x.get(), key.get()) == 1;
    ERR_clear_error();
    return ok;
}

SysTime renewal_time(const CertInfo& c) { return c.not_before + (c.not_after - c.not_before) * 2 / 3; }

}  // namespace hs::acme
