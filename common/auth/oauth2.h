// Plain OAuth 2.0 providers (RFC 6749 §4.1, authorization code grant) that are not OpenID
// providers, GitHub the common one: no discovery, no JWKS, no ID token. Who signed in is read
// from the provider's userinfo endpoint, whose JSON has no standard shape, through a claim
// mapping from the config (oidc.oauth2.claims). Bytes and records in and out, no sockets.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/auth/login.h"

namespace hs::auth {

// Which member of the userinfo JSON holds what. Defaults: GitHub's GET /user. An empty name
// means the provider has no such claim.
struct ClaimMap {
    std::string subject = "id";
    std::string email = "email";
    std::string email_verified = "email_verified";
    std::string name = "name";
    std::string username = "login";
    std::string picture = "avatar_url";
    std::string groups = "groups";
};

// The base of the users' provider identifiers (<base>/<subject>): `issuer_name` when set,
// else the authorization endpoint's origin (scheme://host[:port]), e.g. https://github.com.
std::string oauth2_issuer(std::string_view authorization_endpoint, std::string_view issuer_name);

// The token endpoint's answer in OAuth2 mode: the access token alone. An id_token in it is not
// read. Throws AuthError on a refusal (RFC 6749 §5.2; GitHub sends its errors with HTTP 200, so
// an "error" member refuses whatever the status), on a body that is not JSON, on a missing
// access token or on a token_type other than Bearer (the only kind hs can present).
std::string parse_oauth2_token_response(int status, std::string_view body);

// The userinfo endpoint's answer: a JSON object. Throws AuthError naming the HTTP status, or
// saying the body is not a JSON object.
nlohmann::json parse_userinfo_response(int status, std::string_view body);

// The identity the userinfo JSON describes under `claims`. The subject may be a string or an
// integer (GitHub's numeric id, turned into its decimal text); throws AuthError when it is
// missing, empty or of another type. email_verified is true only when the mapped claim says
// so (true or "true"): a provider without one (GitHub) gives unverified addresses.
Identity identity_from_userinfo(const std::string& issuer, const ClaimMap& claims, const nlohmann::json& userinfo);

}  // namespace hs::auth
