// Test keys made fresh per run and the tokens they sign: the units need a provider's private
// side, which hs itself never has.
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "common/auth/jose.h"

namespace hs::auth::test {

struct TestKey {
    std::string alg, kid;
    std::shared_ptr<EVP_PKEY> pkey;

    static TestKey make(const std::string& alg, const std::string& kid) {
        EVP_PKEY* k = nullptr;
        if (alg == "RS256") k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
        else if (alg == "ES256") k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
        else k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
        if (!k) throw std::runtime_error("keygen failed");
        return {alg, kid, {k, EVP_PKEY_free}};
    }

    static std::string bn_param(EVP_PKEY* k, const char* name) {
        BIGNUM* b = nullptr;
        EVP_PKEY_get_bn_param(k, name, &b);
        std::string out(static_cast<std::size_t>(BN_num_bytes(b)), '\0');
        BN_bn2bin(b, reinterpret_cast<unsigned char*>(out.data()));
        BN_free(b);
        return out;
    }

    nlohmann::json jwk() const {
        nlohmann::json j{{"kid", kid}, {"use", "sig"}, {"alg", alg}};
        if (alg == "RS256") {
            j["kty"] = "RSA";
            j["n"] = base64url_encode(bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_N));
            j["e"] = base64url_encode(bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_E));
        } else if (alg == "ES256") {
            j["kty"] = "EC";
            j["crv"] = "P-256";
            auto pad = [](std::string s) { return std::string(32 - s.size(), '\0') + s; };
            j["x"] = base64url_encode(pad(bn_param(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X)));
            j["y"] = base64url_encode(pad(bn_param(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y)));
        } else {
            j["kty"] = "OKP";
            j["crv"] = "Ed25519";
            std::string raw(32, '\0');
            std::size_t len = raw.size();
            EVP_PKEY_get_raw_public_key(pkey.get(), reinterpret_cast<unsigned char*>(raw.data()), &len);
            j["x"] = base64url_encode(raw);
        }
        return j;
    }

    std::string sign(const std::string& input) const {
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        EVP_DigestSignInit(ctx, nullptr, alg == "EdDSA" ? nullptr : EVP_sha256(), nullptr, pkey.get());
        std::size_t len = 0;
        EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
        std::string sig(len, '\0');
        EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size());
        EVP_MD_CTX_free(ctx);
        sig.resize(len);
        if (alg != "ES256") return sig;
        // DER to the 64-byte r||s of RFC 7518 §3.4.
        const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
        ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
        std::string out(64, '\0');
        BN_bn2binpad(ECDSA_SIG_get0_r(s), reinterpret_cast<unsigned char*>(out.data()), 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(s), reinterpret_cast<unsigned char*>(out.data()) + 32, 32);
        ECDSA_SIG_free(s);
        return out;
    }

    // A compact JWS of `claims` with this key's alg and kid in the header.
    std::string token(const nlohmann::json& claims, nlohmann::json header = nullptr) const {
        if (header.is_null()) header = {{"alg", alg}, {"kid", kid}, {"typ", "JWT"}};
        const auto input = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
        return input + "." + base64url_encode(sign(input));
    }
};

inline std::string jwks(std::initializer_list<const TestKey*> keys) {
    nlohmann::json doc{{"keys", nlohmann::json::array()}};
    for (const auto* k : keys) doc["keys"].push_back(k->jwk());
    return doc.dump();
}

}  // namespace hs::auth::test
