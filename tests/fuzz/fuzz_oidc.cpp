// What an identity provider sends, as arbitrary bytes: the discovery document, the JWKS, the
// token endpoint's and the UserInfo endpoint's answers, an ID token checked against a fixed key,
// and the identity and login rules applied to a claims object. AuthError is a refusal; any other
// exception escaping, a crash, a hang or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/auth/discovery.h"
#include "common/auth/id_token.h"
#include "common/auth/jose.h"
#include "common/auth/login.h"
#include "common/auth/oauth2.h"

using namespace hs::auth;

namespace {

constexpr std::string_view kIssuer = "https://idp.example";

// RFC 8037 Appendix A.2's Ed25519 public key as the provider's only key: a token naming another
// algorithm or kid meets UnknownKeyError, one naming EdDSA and "k1" reaches the signature check.
const std::vector<Jwk>& keys() {
    static const std::vector<Jwk> k = parse_jwks(
        R"({"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})");
    return k;
}

template <class F>
void refused_or_done(F&& f) {
    try {
        f();
    } catch (const AuthError&) {}
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    refused_or_done([&] { (void)parse_jwks(text); });
    refused_or_done([&] { (void)parse_discovery(text, kIssuer); });
    refused_or_done([&] { (void)parse_token_response(200, text); });
    refused_or_done([&] { (void)parse_token_response(400, text); });
    refused_or_done([&] {
        const auto info = parse_userinfo_response(200, text);
        (void)identity_from_userinfo(std::string(kIssuer), ClaimMap{}, info);
    });
    refused_or_done([&] {
        IdTokenExpectations expect{std::string(kIssuer), "hs", "n-0S6_WzA2Mj", hs::TimePoint{}};
        (void)verify_id_token(text, keys(), expect);
    });
    const auto claims = nlohmann::json::parse(text, nullptr, false);
    if (!claims.is_discarded()) {
        refused_or_done([&] {
            const Identity who = identity_from(std::string(kIssuer), claims, &claims);
            (void)refusal(who, LoginRules{{"example.com"}, {"alice@example.com"}, {"eng"}, true});
        });
    }
    return 0;
}
