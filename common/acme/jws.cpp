#include "common/acme/jws.h"

#include "common/base/base64url.h"

#include "common/acme/ossl.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <cstring>

namespace hs::acme {
namespace {

constexpr std::size_t kCoord = 32;  // P-256 field size in bytes (RFC 7518 §6.2.1.2)

using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using SigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;

std::string bn_param(EVP_PKEY* k, const char* name) {
    BIGNUM* raw = nullptr;
    if (!EVP_PKEY_get_bn_param(k, name, &raw)) ossl_fail("reading the EC key");
    BnPtr bn(raw);
    std::string out(kCoord, '\0');
    if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), kCoord) != kCoord)
        ossl_fail("EC coordinate");
    return out;
}

void require_p256(EVP_PKEY* k) {
    char group[64] = "";
    std::size_t len = 0;
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
        !EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) ||
        std::string(group) != "prime256v1")
        throw AcmeError("the key is not an ECDSA P-256 key");
}

}  // namespace

void ossl_fail(const std::string& what) {
    char buf[256] = "";
    if (const unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    throw AcmeError(what + (buf[0] ? std::string(": ") + buf : std::string()));
}

std::string b64url(std::string_view bytes) { return base64url_encode(bytes); }

std::string b64url_decode(std::string_view text) {
    try {
        return base64url_decode(text);
    } catch (const std::invalid_argument& e) {
        throw AcmeError(std::string("invalid base64url: ") + e.what());
    }
}

EcKey::EcKey(EVP_PKEY* k) : key_(k, EVP_PKEY_free) {}

EcKey EcKey::generate() {
    EVP_PKEY* k = EVP_EC_gen("P-256");
    if (!k) ossl_fail("generating an ECDSA P-256 key");
    return EcKey(k);
}

EcKey EcKey::from_pem(const std::string& pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    EVP_PKEY* k = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (!k) ossl_fail("not a PEM private key");
    EcKey key(k);
    require_p256(k);
    return key;
}

EcKey EcKey::from_jwk(const std::string& x, const std::string& y, const std::string& d) {
    const std::string point = "\x04" + b64url_decode(x) + b64url_decode(y), priv = b64url_decode(d);
    if (point.size() != 1 + 2 * kCoord || priv.size() != kCoord) throw AcmeError("JWK coordinates are not P-256 sized");
    BnPtr dn(BN_bin2bn(reinterpret_cast<const unsigned char*>(priv.data()), kCoord, nullptr));
    std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>> bld(OSSL_PARAM_BLD_new());
    if (!dn || !bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, dn.get()))
        ossl_fail("building the JWK key");
    std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>> params(OSSL_PARAM_BLD_to_param(bld.get()));
    std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EVP_PKEY* k = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
        EVP_PKEY_fromdata(ctx.get(), &k, EVP_PKEY_KEYPAIR, params.get()) <= 0)
        ossl_fail("loading the JWK key");
    return EcKey(k);
}

std::string EcKey::private_pem() const {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || !PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr))
        ossl_fail("writing the key");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

nlohmann::json EcKey::jwk() const {
    return {{"crv", "P-256"},
            {"kty", "EC"},
            {"x", b64url(bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X))},
            {"y", b64url(bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y))}};
}

std::string EcKey::thumbprint() const {
    // nlohmann::json keeps object keys sorted and dump() adds no whitespace: exactly RFC 7638 §3.
    const std::string canonical = jwk().dump();
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), md);
    return b64url(std::string_view(reinterpret_cast<const char*>(md), sizeof md));
}

std::string EcKey::sign(std::string_view data) const {
    MdCtxPtr md(EVP_MD_CTX_new());
    std::size_t len = 0;
    if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(md.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
        ossl_fail("ES256 signing");
    std::string der(len, '\0');
    if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
        ossl_fail("ES256 signing");
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    SigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
    if (!sig) ossl_fail("ES256 signature");
    std::string out(2 * kCoord, '\0');
    auto* o = reinterpret_cast<unsigned char*>(out.data());
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), o, kCoord) != kCoord ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), o + kCoord, kCoord) != kCoord)
        ossl_fail("ES256 signature");
    return out;
}

bool EcKey::verify(std::string_view data, std::string_view signature) const {
    if (signature.size() != 2 * kCoord) return false;
    const auto* s = reinterpret_cast<const unsigned char*>(signature.data());
    SigPtr sig(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(s, kCoord, nullptr);
    BIGNUM* ss = BN_bin2bn(s + kCoord, kCoord, nullptr);
    if (!sig || !r || !ss || !ECDSA_SIG_set0(sig.get(), r, ss)) {
        BN_free(r);
        BN_free(ss);
        ossl_fail("ES256 signature");
    }
    unsigned char* der = nullptr;
    const int der_len = i2d_ECDSA_SIG(sig.get(), &der);
    if (der_len <= 0) ossl_fail("ES256 signature");
    std::unique_ptr<unsigned char, OsslFree> der_owner(der);
    MdCtxPtr md(EVP_MD_CTX_new());
    const bool ok = md && EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key_.get()) == 1 &&
                    EVP_DigestVerify(md.get(), der, static_cast<std::size_t>(der_len),
                                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    ERR_clear_error();
    return ok;
}

std::string sign_request(const EcKey& key, const std::string& url, const std::string& nonce, const std::string& kid,
                         const std::string& payload) {
    nlohmann::json header{{"alg", "ES256"}, {"nonce", nonce}, {"url", url}};
    if (kid.empty()) header["jwk"] = key.jwk();
    else header["kid"] = kid;
    // Nonce and kid come from response headers: bytes that are not UTF-8 are replaced, not thrown on.
    const std::string protected_b64 = b64url(header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    const std::string payload_b64 = b64url(payload);
    const std::string signature = key.sign(protected_b64 + "." + payload_b64);
    return nlohmann::json{{"protected", protected_b64}, {"payload", payload_b64}, {"signature", b64url(signature)}}
        .dump();
}

}  // namespace hs::acme
