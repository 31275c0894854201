#include "common/auth/oauth2.h"
#include "common/auth/json_text.h"

#include <algorithm>
#include <cctype>

#include "common/auth/jose.h"

namespace hs::auth {
namespace {

using nlohmann::json;

// The member `name` of `j` when it is a string; empty otherwise (also for an unmapped claim).
std::string text(const json& j, const std::string& name) { return name.empty() ? std::string() : json_text(j, name); }

// GitHub's id is a JSON number: integers become their decimal text. Anything else (a
// fraction, an object) is not an identifier hs can keep stable, so it counts as missing.
std::string subject_of(const json& j, const std::string& name) {
    if (name.empty()) return {};
    const auto it = j.find(name);
    if (it == j.end()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number_unsigned()) return std::to_string(it->get<std::uint64_t>());
    if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
    return {};
}

}  // namespace

std::string oauth2_issuer(std::string_view authorization_endpoint, std::string_view issuer_name) {
    std::string base(issuer_name);
    if (base.empty()) {
        const auto scheme = authorization_endpoint.find("://");
        const auto path =
            scheme == std::string_view::npos ? std::string_view::npos : authorization_endpoint.find('/', scheme + 3);
        base = std::string(authorization_endpoint.substr(0, path));
    }
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base;
}

std::string parse_oauth2_token_response(int status, std::string_view body) {
    const auto doc = json::parse(body, nullptr, false);
    if (doc.is_object() && doc.contains("error")) {
        std::string why = "the provider refused the code (HTTP " + std::to_string(status) + ", " + text(doc, "error");
        if (const auto d = text(doc, "error_description"); !d.empty()) why += ": " + d;
        throw AuthError(why + ")");
    }
    if (status != 200) throw AuthError("the provider refused the code (HTTP " + std::to_string(status) + ")");
    if (!doc.is_object()) throw AuthError("the provider's token answer is not JSON");
    auto token = text(doc, "access_token");
    if (token.empty()) throw AuthError("the provider's token answer has no access_token");
    auto type = text(doc, "token_type");
    std::transform(type.begin(), type.end(), type.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (type != "bearer") throw AuthError("the provider's access token is of type \"" + type + "\", not Bearer");
    return token;
}

json parse_userinfo_response(int status, std::string_view body) {
    if (status != 200) throw AuthError("the userinfo endpoint answered HTTP " + std::to_string(status));
    auto doc = json::parse(body, nullptr, false);
    if (!doc.is_object()) throw AuthError("the userinfo endpoint's answer is not a JSON object");
    return doc;
}

Identity identity_from_userinfo(const std::string& issuer, const ClaimMap& claims, const json& userinfo) {
    Identity who;
    who.subject = subject_of(userinfo, claims.subject);
    if (who.subject.empty())
        throw AuthError("the userinfo answer has no usable \"" + claims.subject +
                        "\" (oidc.oauth2.claims.subject: a string or an integer)");
    who.provider_identifier = issuer + "/" + who.subject;
    who.email = text(userinfo, claims.email);
    who.email_verified = !who.email.empty() && claim_true(userinfo, claims.email_verified);
    who.preferred_username = text(userinfo, claims.username);
    who.name = text(userinfo, claims.name);
    who.picture = text(userinfo, claims.picture);
    who.groups = claim_names(userinfo, claims.groups);
    return who;
}

}  // namespace hs::auth
