// ECDSA P-256 keys and the JSON Web Signatures ACME requests carry (RFC 7515, RFC 7518 §3.4,
// RFC 7638, RFC 8555 §6.2). Pure computation over OpenSSL: no I/O.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

typedef struct evp_pkey_st EVP_PKEY;

namespace hs::acme {

struct AcmeError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// base64url without padding (RFC 7515 §2); decoding rejects characters outside the alphabet.
std::string b64url(std::string_view bytes);
std::string b64url_decode(std::string_view text);

// An ECDSA P-256 key: the ACME account key and the certificate keys. ES256 is the one JWS
// algorithm every ACME server must accept (RFC 8555 §6.2).
class EcKey {
public:
    static EcKey generate();
    // PEM "PRIVATE KEY" or "EC PRIVATE KEY"; throws AcmeError for anything but a P-256 key.
    static EcKey from_pem(const std::string& pem);
    // A private key from its JWK coordinates (base64url x, y, d), as RFC 7515 prints them.
    static EcKey from_jwk(const std::string& x, const std::string& y, const std::string& d);
    std::string private_pem() const;
    // The public JWK {"crv","kty","x","y"}.
    nlohmann::json jwk() const;
    // RFC 7638 thumbprint: base64url(SHA-256(the JWK's required members, sorted, no spaces)).
    std::string thumbprint() const;
    // ES256: the signature as R || S, 32 bytes each (RFC 7518 §3.4), not DER.
    std::string sign(std::string_view data) const;
    bool verify(std::string_view data, std::string_view signature) const;
    EVP_PKEY* get() const { return key_.get(); }

private:
    explicit EcKey(EVP_PKEY* k);
    std::shared_ptr<EVP_PKEY> key_;
};

// A request body for RFC 8555 §6.2: the flattened JWS JSON of `payload` (an empty payload is a
// POST-as-GET) with a protected header of alg, nonce and url, plus "kid" = the account URL,
// or the account's "jwk" when `kid` is empty (only newAccount).
std::string sign_request(const EcKey& key, const std::string& url, const std::string& nonce, const std::string& kid,
                         const std::string& payload);

}  // namespace hs::acme
