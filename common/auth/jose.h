// JSON Web Signatures as OpenID Connect uses them (RFC 7515, 7517, 7518, 8037): base64url, JSON
// Web Keys and the check of one signature. Only asymmetric algorithms are accepted: "none" and
// the HMAC family (whose "key" a forger could take from the public JWKS) are refused.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

typedef struct evp_pkey_st EVP_PKEY;

namespace hs::auth {

// Any token, key or document that fails a check; the message says which check, for logs and
// for the page the person sees.
struct AuthError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// RFC 4648 §5 without padding. decode throws AuthError on characters outside the alphabet.
std::string base64url_encode(std::string_view bytes);
std::string base64url_decode(std::string_view text);

// The signature algorithms accepted: RS256 (RFC 7518 §3.3), ES256 (§3.4) and EdDSA with Ed25519
// (RFC 8037). RS256 is the one every provider must offer (OpenID Connect Core §15.1).
bool supported_alg(std::string_view alg);

// One public key of a provider's JWKS.
struct Jwk {
    std::string kid;  // may be empty
    std::string kty;  // RSA, EC, OKP
    std::string alg;  // the key's own "alg" restriction, may be empty
    std::string crv;  // P-256 or Ed25519 for EC and OKP
    std::shared_ptr<EVP_PKEY> key;
};

// The usable signing keys of a JWKS document: keys with "use" other than "sig", unknown types
// and curves, and malformed members are skipped (a provider may publish encryption keys too).
// Throws AuthError when the document is not a JWKS at all.
std::vector<Jwk> parse_jwks(std::string_view json_text);

// Whether `key` may check a signature made with `alg` (type and curve match, and the key's own
// alg restriction if it has one).
bool key_fits(const Jwk& key, std::string_view alg);

// Checks `signature` (the raw JWS signature bytes) over `signing_input` with `key` for `alg`.
// ES256 signatures are the 64-byte r||s of RFC 7518 §3.4. Returns false on a bad signature;
// throws AuthError for an algorithm outside supported_alg.
bool verify_signature(std::string_view alg, const Jwk& key, std::string_view signing_input, std::string_view signature);

}  // namespace hs::auth
