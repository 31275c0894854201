// One login through the provider (OpenID Connect Core §3.1, authorization code flow; RFC 7636
// PKCE): the authorization URL, the token request, and who the tokens say the person is and
// whether the server's rules let them in.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/auth/discovery.h"

namespace hs::auth {

// application/x-www-form-urlencoded (the WHATWG URL standard's form serializer).
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);

// RFC 7636 §4.2: "S256" gives base64url(SHA-256(verifier)), "plain" the verifier itself.
std::string pkce_challenge(const std::string& verifier, const std::string& method);

struct AuthorizationRequest {
    std::string client_id, redirect_uri;
    std::vector<std::string> scope;
    std::string state, nonce;
    std::string code_challenge, code_challenge_method;  // empty: no PKCE
    std::map<std::string, std::string> extra_params;    // oidc.extra_params, after ours
};
// The authorization endpoint URL with the request in its query.
std::string authorization_url(const ProviderMetadata& provider, const AuthorizationRequest& r);

// RFC 6749 §2.3.1: client_secret_basic, each part form-encoded before base64.
std::string basic_authorization(const std::string& client_id, const std::string& client_secret);
// The token request body of §4.1.3 (the secret travels in the Authorization header).
std::string token_request_body(const std::string& code, const std::string& redirect_uri, const std::string& client_id,
                               const std::string& code_verifier);

struct Tokens {
    std::string id_token, access_token;
};
// The token endpoint's answer. Throws AuthError with the provider's error and description
// (RFC 6749 §5.2) for a refusal, or naming what is missing.
Tokens parse_token_response(int status, std::string_view body);

// Who signed in, from the ID token's claims and, when the provider has a UserInfo endpoint,
// its answer (preferred when it names the same subject, as headscale does).
struct Identity {
    std::string subject;
    std::string provider_identifier;  // <issuer>/<sub>, headscale's users.provider_identifier
    std::string email;
    bool email_verified = false;
    std::string preferred_username, name, picture;
    std::vector<std::string> groups;
};
Identity identity_from(const std::string& issuer, const nlohmann::json& id_claims, const nlohmann::json* userinfo);

// Claim readers shared with plain OAuth2 (common/auth/oauth2); an empty `name` is a claim that
// is not mapped. True for true or the string "true" (Cognito, older Keycloak mappers send
// that); false when missing.
bool claim_true(const nlohmann::json& j, const std::string& name);
// An array of names, or one name as a string; other members are skipped.
std::vector<std::string> claim_names(const nlohmann::json& j, const std::string& name);

// oidc.allowed_* and oidc.email_verified_required.
struct LoginRules {
    std::vector<std::string> allowed_domains, allowed_users, allowed_groups;
    bool email_verified_required = true;
};
// Why `who` may not log in, or nullopt when every configured rule passes (headscale §5.3:
// groups by membership; domains and users by e-mail, which must then be verified).
std::optional<std::string> refusal(const Identity& who, const LoginRules& rules);

}  // namespace hs::auth
