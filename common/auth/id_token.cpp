#include "common/auth/id_token.h"
#include "common/auth/json_text.h"

namespace hs::auth {
namespace {

using nlohmann::json;

json decode_part(std::string_view part, const char* what) {
    auto j = json::parse(base64url_decode(part), nullptr, false);
    if (!j.is_object()) throw AuthError(std::string("the ID token's ") + what + " is not a JSON object");
    return j;
}

TimePoint time_claim(const json& claims, const char* name) {
    const auto it = claims.find(name);
    if (it == claims.end() || !it->is_number())
        throw AuthError(std::string("the ID token has no \"") + name + "\" time");
    // Seconds since 1970 (RFC 7519 §2 NumericDate). Bounded before the conversion: a double
    // beyond int64, or seconds beyond what nanoseconds hold (year 2262), would overflow.
    const double secs = it->get<double>();
    if (!(secs >= 0 && secs < 1e10)) throw AuthError(std::string("the ID token's \"") + name + "\" is out of range");
    return TimePoint{std::chrono::seconds(static_cast<std::int64_t>(secs))};
}

void check_signature(std::string_view token, const json& header, const std::vector<Jwk>& keys) {
    const auto alg = json_text(header, "alg");
    // "none" and the HMAC family are refused by name: with HS256 a forger signs with the
    // provider's public key as the secret, which a careless verifier accepts.
    if (!supported_alg(alg)) throw AuthError("the ID token is signed with \"" + alg + "\", which is not accepted");
    if (header.contains("crit"))
        throw AuthError("the ID token names critical header parameters this server does not know");
    const auto kid = json_text(header, "kid");
    const auto dot2 = token.rfind('.');
    const auto signing_input = token.substr(0, dot2);
    const auto signature = base64url_decode(token.substr(dot2 + 1));
    bool candidate = false;
    for (const auto& k : keys) {
        if ((!kid.empty() && k.kid != kid) || !key_fits(k, alg)) continue;
        candidate = true;
        if (verify_signature(alg, k, signing_input, signature)) return;
    }
    if (!candidate)
        throw UnknownKeyError("no key of the provider's JWKS matches the ID token (kid \"" + kid + "\", " + alg + ")");
    throw AuthError("the ID token's signature does not match the provider's key");
}

void check_audience(const json& claims, const std::string& client_id) {
    const auto aud = claims.find("aud");
    bool listed = false;
    std::size_t count = 0;
    if (aud != claims.end() && aud->is_string()) {
        listed = aud->get<std::string>() == client_id;
        count = 1;
    } else if (aud != claims.end() && aud->is_array()) {
        for (const auto& a : *aud) listed |= a.is_string() && a.get<std::string>() == client_id;
        count = aud->size();
    }
    if (!listed) throw AuthError("the ID token was issued for another client (aud)");
    // Core §3.1.3.7 items 4 and 5: with several audiences the authorized party must be us.
    const auto azp = json_text(claims, "azp");
    if ((count > 1 || !azp.empty()) && azp != client_id)
        throw AuthError("the ID token's authorized party (azp) is another client");
}

}  // namespace

IdToken verify_id_token(std::string_view token, const std::vector<Jwk>& keys, const IdTokenExpectations& expect) {
    const auto dot1 = token.find('.');
    const auto dot2 = token.rfind('.');
    if (dot1 == std::string_view::npos || dot1 == dot2 || token.find('.', dot1 + 1) != dot2)
        throw AuthError("the ID token is not a signed JWT (three dot-separated parts)");
    IdToken t;
    t.header = decode_part(token.substr(0, dot1), "header");
    check_signature(token, t.header, keys);
    t.claims = decode_part(token.substr(dot1 + 1, dot2 - dot1 - 1), "payload");
    const auto& c = t.claims;
    if (json_text(c, "iss") != expect.issuer)
        throw AuthError("the ID token comes from another issuer (iss \"" + json_text(c, "iss") + "\")");
    if (json_text(c, "sub").empty()) throw AuthError("the ID token names no subject (sub)");
    check_audience(c, expect.client_id);
    t.expires_at = time_claim(c, "exp");
    if (expect.now >= t.expires_at + expect.leeway) throw AuthError("the ID token has expired");
    if (time_claim(c, "iat") > expect.now + expect.leeway)
        throw AuthError("the ID token was issued in the future (iat)");
    if (expect.nonce.empty() || json_text(c, "nonce") != expect.nonce)
        throw AuthError("the ID token's nonce does not belong to this login");
    return t;
}

}  // namespace hs::auth
