#include "common/auth/login.h"
#include "common/auth/json_text.h"

#include <algorithm>
#include <cctype>

#include <openssl/sha.h>

#include "common/auth/jose.h"

namespace hs::auth {
namespace {

using nlohmann::json;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

void take_profile(Identity& who, const json& src) {
    if (src.contains("email")) {
        who.email = json_text(src, "email");
        who.email_verified = claim_true(src, "email_verified");
    }
    if (const auto v = json_text(src, "preferred_username"); !v.empty()) who.preferred_username = v;
    if (const auto v = json_text(src, "name"); !v.empty()) who.name = v;
    if (const auto v = json_text(src, "picture"); !v.empty()) who.picture = v;
    if (src.contains("groups")) who.groups = claim_names(src, "groups");
}

bool listed(const std::vector<std::string>& list, const std::string& value) {
    const auto v = lower(value);
    return std::any_of(list.begin(), list.end(), [&](const std::string& x) { return lower(x) == v; });
}

}  // namespace

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    auto escape = [](const std::string& s) {
        std::string out;
        for (unsigned char c : s) {
            if (std::isalnum(c) || c == '*' || c == '-' || c == '.' || c == '_') out += static_cast<char>(c);
            else if (c == ' ') out += '+';
            else out += {'%', kHex[c >> 4], kHex[c & 15]};
        }
        return out;
    };
    std::string out;
    for (const auto& [k, v] : fields) {
        if (!out.empty()) out += '&';
        out += escape(k) + "=" + escape(v);
    }
    return out;
}

std::string pkce_challenge(const std::string& verifier, const std::string& method) {
    if (method == "plain") return verifier;
    if (method != "S256") throw AuthError("PKCE method \"" + method + "\" is not S256 or plain");
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), digest);
    return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string authorization_url(const ProviderMetadata& provider, const AuthorizationRequest& r) {
    std::string scope;
    for (const auto& s : r.scope) scope += (scope.empty() ? "" : " ") + s;
    std::vector<std::pair<std::string, std::string>> q{{"response_type", "code"},
                                                       {"client_id", r.client_id},
                                                       {"redirect_uri", r.redirect_uri},
                                                       {"scope", scope},
                                                       {"state", r.state}};
    // OAuth2 mode sends none: a nonce is OpenID Connect's and only an ID token carries it back.
    if (!r.nonce.empty()) q.emplace_back("nonce", r.nonce);
    if (!r.code_challenge.empty()) {
        q.emplace_back("code_challenge", r.code_challenge);
        q.emplace_back("code_challenge_method", r.code_challenge_method);
    }
    for (const auto& kv : r.extra_params)
        if (std::none_of(q.begin(), q.end(), [&](const auto& p) { return p.first == kv.first; })) q.emplace_back(kv);
    const char sep = provider.authorization_endpoint.find('?') == std::string::npos ? '?' : '&';
    return provider.authorization_endpoint + sep + form_encode(q);
}

std::string basic_authorization(const std::string& client_id, const std::string& client_secret) {
    auto part = [](const std::string& s) {
        const auto e = form_encode({{"", s}});
        return e.substr(1);  // drop the "=" of the empty name
    };
    const auto pair = part(client_id) + ":" + part(client_secret);
    // Standard base64 with padding (RFC 7617), from the URL-safe alphabet.
    auto b = base64url_encode(pair);
    std::replace(b.begin(), b.end(), '-', '+');
    std::replace(b.begin(), b.end(), '_', '/');
    while (b.size() % 4) b += '=';
    return "Basic " + b;
}

std::string token_request_body(const std::string& code, const std::string& redirect_uri, const std::string& client_id,
                               const std::string& code_verifier) {
    std::vector<std::pair<std::string, std::string>> f{
        {"grant_type", "authorization_code"}, {"code", code}, {"redirect_uri", redirect_uri}, {"client_id", client_id}};
    if (!code_verifier.empty()) f.emplace_back("code_verifier", code_verifier);
    return form_encode(f);
}

Tokens parse_token_response(int status, std::string_view body) {
    const auto doc = json::parse(body, nullptr, false);
    if (status != 200) {
        std::string why = "the provider refused the code (HTTP " + std::to_string(status);
        if (doc.is_object() && doc.contains("error")) {
            why += ", " + json_text(doc, "error");
            if (const auto d = json_text(doc, "error_description"); !d.empty()) why += ": " + d;
        }
        throw AuthError(why + ")");
    }
    if (!doc.is_object()) throw AuthError("the provider's token answer is not JSON");
    Tokens t{json_text(doc, "id_token"), json_text(doc, "access_token")};
    if (t.id_token.empty())
        throw AuthError("the provider's token answer has no id_token (is \"openid\" in oidc.scope?)");
    return t;
}

bool claim_true(const json& j, const std::string& name) {
    if (name.empty()) return false;
    const auto it = j.find(name);
    if (it == j.end()) return false;
    if (it->is_boolean()) return it->get<bool>();
    return it->is_string() && it->get<std::string>() == "true";
}

std::vector<std::string> claim_names(const json& j, const std::string& name) {
    std::vector<std::string> out;
    if (name.empty()) return out;
    const auto it = j.find(name);
    if (it == j.end()) return out;
    if (it->is_string()) out.push_back(it->get<std::string>());
    if (it->is_array())
        for (const auto& g : *it)
            if (g.is_string()) out.push_back(g.get<std::string>());
    return out;
}

Identity identity_from(const std::string& issuer, const json& id_claims, const json* userinfo) {
    Identity who;
    who.subject = json_text(id_claims, "sub");
    std::string base = issuer;
    while (!base.empty() && base.back() == '/') base.pop_back();
    who.provider_identifier = base + "/" + who.subject;
    take_profile(who, id_claims);
    // UserInfo answers for the same subject only (Core §5.3.2: a mismatch must not be used).
    if (userinfo && userinfo->is_object() && json_text(*userinfo, "sub") == who.subject) take_profile(who, *userinfo);
    return who;
}

std::optional<std::string> refusal(const Identity& who, const LoginRules& rules) {
    if (!rules.allowed_groups.empty() && std::none_of(who.groups.begin(), who.groups.end(),
                                                      [&](const auto& g) { return listed(rules.allowed_groups, g); }))
        return "your account is in none of the groups allowed on this server";
    if (rules.allowed_domains.empty() && rules.allowed_users.empty()) return std::nullopt;
    if (who.email.empty()) return "your account has no e-mail address, which this server needs to check who may join";
    if (rules.email_verified_required && !who.email_verified)
        return "your e-mail address " + who.email + " is not verified at the identity provider";
    if (!rules.allowed_domains.empty()) {
        const auto at = who.email.rfind('@');
        const auto domain = at == std::string::npos ? std::string() : who.email.substr(at + 1);
        if (!listed(rules.allowed_domains, domain))
            return "e-mail addresses at " + domain + " may not join this tailnet";
    }
    if (!rules.allowed_users.empty() && !listed(rules.allowed_users, who.email))
        return "the account " + who.email + " is not on this server's list of allowed users";
    return std::nullopt;
}

}  // namespace hs::auth
