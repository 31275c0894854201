#include "tools/hs-control/oidc_flows.h"

#include "common/base/random.h"

namespace hs::control {
namespace {

// 43 characters of 62 symbols: about 256 bits, and within RFC 7636 §4.1's 43-128 characters
// of unreserved symbols for the verifier.
constexpr std::size_t kTokenLength = 43;
constexpr std::size_t kCookieTag = 8;

}  // namespace

std::string OidcFlows::begin(const std::string& auth_id, bool pkce, TimePoint now) {
    prune(now);
    while (flows_.size() >= kMaxFlows) {
        auto oldest = flows_.begin();
        for (auto it = flows_.begin(); it != flows_.end(); ++it)
            if (it->second.expires_at < oldest->second.expires_at) oldest = it;
        flows_.erase(oldest);
    }
    auto state = random_token(kTokenLength);
    flows_[state] =
        OidcFlow{auth_id, random_token(kTokenLength), pkce ? random_token(kTokenLength) : "", now + kLifetime};
    return state;
}

std::optional<OidcFlow> OidcFlows::take(const std::string& state, TimePoint now) {
    const auto it = flows_.find(state);
    if (it == flows_.end()) return std::nullopt;
    auto flow = std::move(it->second);
    flows_.erase(it);
    if (flow.expires_at <= now) return std::nullopt;
    return flow;
}

const OidcFlow* OidcFlows::peek(const std::string& state) const {
    const auto it = flows_.find(state);
    return it == flows_.end() ? nullptr : &it->second;
}

void OidcFlows::prune(TimePoint now) {
    std::erase_if(flows_, [&](const auto& kv) { return kv.second.expires_at <= now; });
}

std::string oidc_cookie_name(const std::string& state) { return "hs_oidc_" + state.substr(0, kCookieTag); }

std::string oidc_set_cookie(const std::string& state, bool secure) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(OidcFlows::kLifetime).count();
    return oidc_cookie_name(state) + "=" + state + "; Path=/oidc/callback; Max-Age=" + std::to_string(seconds) +
           "; HttpOnly; SameSite=Lax" + (secure ? "; Secure" : "");
}

std::string cookie_value(const std::string& header, const std::string& name) {
    std::size_t pos = 0;
    while (pos < header.size()) {
        auto end = header.find(';', pos);
        if (end == std::string::npos) end = header.size();
        auto item = header.substr(pos, end - pos);
        const auto first = item.find_first_not_of(' ');
        item = first == std::string::npos ? "" : item.substr(first);
        const auto eq = item.find('=');
        if (eq != std::string::npos && item.substr(0, eq) == name) return item.substr(eq + 1);
        pos = end + 1;
    }
    return {};
}

}  // namespace hs::control
