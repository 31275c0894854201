// The ID token check of OpenID Connect Core 1.0 §3.1.3.7: signature against the provider's
// JWKS, then issuer, audience, authorized party, expiry, issue time and nonce.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/auth/jose.h"
#include "common/base/timeutil.h"

namespace hs::auth {

// No key of the JWKS matches the token's "kid" (or, without one, its algorithm): the provider
// may have rotated its keys, so the caller fetches the JWKS once more and tries again.
struct UnknownKeyError : AuthError {
    using AuthError::AuthError;
};

struct IdTokenExpectations {
    std::string issuer;     // exactly the discovery document's "issuer"
    std::string client_id;  // must be in "aud"
    std::string nonce;      // the one sent with this login's authorization request
    TimePoint now{};
    // Clock difference tolerated between the provider and this server, as go-oidc and most
    // relying parties allow for exp and iat.
    std::chrono::seconds leeway{60};
};

struct IdToken {
    nlohmann::json header;
    nlohmann::json claims;
    TimePoint expires_at{};
};

// Returns the token's header and claims once every check passed. Throws UnknownKeyError when
// no key can check it, AuthError naming the first check that failed otherwise.
IdToken verify_id_token(std::string_view token, const std::vector<Jwk>& keys, const IdTokenExpectations& expect);

}  // namespace hs::auth
