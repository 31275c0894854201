#include "common/auth/discovery.h"
#include "common/auth/json_text.h"

#include <nlohmann/json.hpp>

#include "common/auth/jose.h"

namespace hs::auth {
namespace {

using nlohmann::json;

std::vector<std::string> strings(const json& doc, const char* name) {
    std::vector<std::string> out;
    const auto it = doc.find(name);
    if (it == doc.end() || !it->is_array()) return out;
    for (const auto& v : *it)
        if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
}

std::string endpoint(const json& doc, const char* name, bool required) {
    const auto url = auth::json_text(doc, name);
    if (url.empty()) {
        if (required) throw AuthError(std::string("the provider's metadata has no ") + name);
        return url;
    }
    if (!acceptable_endpoint(url))
        throw AuthError(std::string("the provider's ") + name + " \"" + url + "\" is not https");
    return url;
}

}  // namespace

std::string discovery_url(std::string_view issuer) {
    std::string base(issuer);
    if (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/.well-known/openid-configuration";
}

bool acceptable_endpoint(std::string_view url) {
    if (url.rfind("https://", 0) == 0) return url.size() > 8;
    if (url.rfind("http://", 0) != 0) return false;
    const auto rest = url.substr(7);
    const auto authority = rest.substr(0, rest.find('/'));
    if (authority.find('@') != std::string_view::npos) return false;  // no credentials in URLs
    std::string_view host = authority;
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.find(']') - 1);
    else host = host.substr(0, host.rfind(':'));
    return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

ProviderMetadata parse_discovery(std::string_view json_text, std::string_view expected_issuer) {
    const auto doc = json::parse(json_text, nullptr, false);
    if (!doc.is_object()) throw AuthError("the provider's metadata is not a JSON object");
    ProviderMetadata m;
    m.issuer = auth::json_text(doc, "issuer");
    if (m.issuer != expected_issuer)
        throw AuthError("the provider calls itself \"" + m.issuer + "\", not the configured issuer \"" +
                        std::string(expected_issuer) + "\"");
    m.authorization_endpoint = endpoint(doc, "authorization_endpoint", true);
    m.token_endpoint = endpoint(doc, "token_endpoint", true);
    m.jwks_uri = endpoint(doc, "jwks_uri", true);
    m.userinfo_endpoint = endpoint(doc, "userinfo_endpoint", false);
    m.code_challenge_methods = strings(doc, "code_challenge_methods_supported");
    m.token_endpoint_auth_methods = strings(doc, "token_endpoint_auth_methods_supported");
    return m;
}

}  // namespace hs::auth
