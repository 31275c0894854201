// OpenID Connect Discovery 1.0: where the provider's metadata lives and what of it a login needs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hs::auth {

struct ProviderMetadata {
    std::string issuer;
    std::string authorization_endpoint;
    std::string token_endpoint;
    std::string jwks_uri;
    std::string userinfo_endpoint;                         // optional in the standard; empty when absent
    std::vector<std::string> code_challenge_methods;       // empty: the provider does not say
    std::vector<std::string> token_endpoint_auth_methods;  // empty: client_secret_basic (§3)
};

// <issuer>/.well-known/openid-configuration (Discovery §4; one trailing '/' of the issuer dropped).
std::string discovery_url(std::string_view issuer);

// True for https URLs, and for http ones whose host is a loopback address or "localhost" (a
// provider on the same machine; nothing leaves it).
bool acceptable_endpoint(std::string_view url);

// Parses the metadata document. Throws AuthError when it is not JSON, when its "issuer" differs
// from `expected_issuer` (Discovery §4.3: exactly), or when a required endpoint is missing or is
// plain http to another machine.
ProviderMetadata parse_discovery(std::string_view json_text, std::string_view expected_issuer);

}  // namespace hs::auth
