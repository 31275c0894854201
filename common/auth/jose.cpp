#include "common/auth/jose.h"
#include "common/auth/json_text.h"

#include "common/base/base64url.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

namespace hs::auth {
namespace {

using nlohmann::json;

struct BnFree {
    void operator()(BIGNUM* b) const { BN_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

Bn bignum(std::string_view bytes) {
    Bn b(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()), nullptr));
    if (!b) throw AuthError("out of memory reading a key");
    return b;
}

std::shared_ptr<EVP_PKEY> from_params(const char* type, OSSL_PARAM_BLD* bld) {
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    OSSL_PARAM_BLD_free(bld);
    if (!params) throw AuthError("out of memory reading a key");
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
    EVP_PKEY* key = nullptr;
    const bool ok =
        ctx && EVP_PKEY_fromdata_init(ctx) == 1 && EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    if (!ok) throw AuthError(std::string("malformed ") + type + " key");
    return {key, EVP_PKEY_free};
}

std::shared_ptr<EVP_PKEY> rsa_key(const json& j) {
    const auto n = bignum(base64url_decode(auth::json_text(j, "n")));
    const auto e = bignum(base64url_decode(auth::json_text(j, "e")));
    // RFC 7518 §3.3: keys of 2048 bits or more.
    if (BN_num_bits(n.get()) < 2048) throw AuthError("RSA key shorter than 2048 bits");
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n.get()) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e.get())) {
        OSSL_PARAM_BLD_free(bld);
        throw AuthError("out of memory reading a key");
    }
    return from_params("RSA", bld);
}

std::shared_ptr<EVP_PKEY> ec_key(const json& j) {
    const auto x = base64url_decode(auth::json_text(j, "x"));
    const auto y = base64url_decode(auth::json_text(j, "y"));
    if (x.size() != 32 || y.size() != 32) throw AuthError("P-256 coordinates must be 32 bytes");
    std::string point = "\x04" + x + y;  // SEC 1 §2.3.3 uncompressed point
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size())) {
        OSSL_PARAM_BLD_free(bld);
        throw AuthError("out of memory reading a key");
    }
    return from_params("EC", bld);
}

std::shared_ptr<EVP_PKEY> ed25519_key(const json& j) {
    const auto x = base64url_decode(auth::json_text(j, "x"));
    if (x.size() != 32) throw AuthError("Ed25519 public key must be 32 bytes");
    EVP_PKEY* k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                              reinterpret_cast<const unsigned char*>(x.data()), x.size());
    if (!k) throw AuthError("malformed Ed25519 key");
    return {k, EVP_PKEY_free};
}

// JOSE's r||s (RFC 7518 §3.4) as the DER ECDSA-Sig-Value OpenSSL checks.
std::optional<std::string> ecdsa_der(std::string_view sig) {
    if (sig.size() != 64) return std::nullopt;
    ECDSA_SIG* s = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr);
    BIGNUM* ss = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr);
    if (!s || !r || !ss || ECDSA_SIG_set0(s, r, ss) != 1) {
        BN_free(r);
        BN_free(ss);
        ECDSA_SIG_free(s);
        throw AuthError("out of memory checking a signature");
    }
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(s, &der);
    ECDSA_SIG_free(s);
    if (len <= 0) throw AuthError("out of memory checking a signature");
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return out;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) { return hs::base64url_encode(bytes); }

std::string base64url_decode(std::string_view text) {
    try {
        return hs::base64url_decode(text);
    } catch (const std::invalid_argument& e) {
        throw AuthError(e.what());
    }
}

bool supported_alg(std::string_view alg) { return alg == "RS256" || alg == "ES256" || alg == "EdDSA"; }

std::vector<Jwk> parse_jwks(std::string_view json_text) {
    const auto doc = json::parse(json_text, nullptr, false);
    if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array())
        throw AuthError("the JWKS has no \"keys\" array");
    std::vector<Jwk> out;
    for (const auto& j : doc["keys"]) {
        if (!j.is_object()) continue;
        const auto use = auth::json_text(j, "use");
        if (!use.empty() && use != "sig") continue;
        Jwk k{auth::json_text(j, "kid"), auth::json_text(j, "kty"), auth::json_text(j, "alg"),
              auth::json_text(j, "crv"), nullptr};
        try {
            if (k.kty == "RSA") k.key = rsa_key(j);
            else if (k.kty == "EC" && k.crv == "P-256") k.key = ec_key(j);
            else if (k.kty == "OKP" && k.crv == "Ed25519") k.key = ed25519_key(j);
            else continue;
        } catch (const AuthError&) {
            continue;  // one broken key must not hide the good ones
        }
        out.push_back(std::move(k));
    }
    return out;
}

bool key_fits(const Jwk& key, std::string_view alg) {
    if (!key.alg.empty() && key.alg != alg) return false;
    if (alg == "RS256") return key.kty == "RSA";
    if (alg == "ES256") return key.kty == "EC" && key.crv == "P-256";
    if (alg == "EdDSA") return key.kty == "OKP" && key.crv == "Ed25519";
    return false;
}

bool verify_signature(std::string_view alg, const Jwk& key, std::string_view signing_input,
                      std::string_view signature) {
    if (!supported_alg(alg)) throw AuthError("signature algorithm \"" + std::string(alg) + "\" is not accepted");
    if (!key_fits(key, alg) || !key.key) return false;
    std::string sig(signature);
    if (alg == "ES256") {
        const auto der = ecdsa_der(signature);
        if (!der) return false;
        sig = *der;
    }
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (!ctx) throw AuthError("out of memory checking a signature");
    // EdDSA hashes inside the algorithm: no digest is named (OpenSSL's one-shot interface).
    const EVP_MD* md = alg == "EdDSA" ? nullptr : EVP_sha256();
    bool ok = EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, key.key.get()) == 1 &&
              EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                               reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

}  // namespace hs::auth
