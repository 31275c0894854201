// The logins under way at the identity provider: each authorization request's state, nonce and
// PKCE verifier, bound to the pending registration (auth request) it will approve. No I/O.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "common/base/timeutil.h"

namespace hs::control {

struct OidcFlow {
    std::string auth_id;        // the auth_requests row this login approves
    std::string nonce;          // must come back in the ID token
    std::string code_verifier;  // PKCE; empty without
    TimePoint expires_at{};
};

class OidcFlows {
public:
    // A person has this long between opening /register/<id> and coming back from the provider:
    // the pending registration's own 15 minutes (register.cpp) bound it anyway.
    static constexpr auto kLifetime = std::chrono::minutes(15);
    // Anyone can open /register/<id> for an ID they saw; the table stays bounded, the oldest
    // flow giving way (its login starts again from the link).
    static constexpr std::size_t kMaxFlows = 4096;

    // Starts a flow for `auth_id`: fresh random state, nonce and (when `pkce`) verifier.
    // Returns the state, the key to the flow.
    std::string begin(const std::string& auth_id, bool pkce, TimePoint now);
    // The flow of `state`, removed so it answers once (a replayed callback finds nothing).
    // nullopt for an unknown, used or expired state.
    std::optional<OidcFlow> take(const std::string& state, TimePoint now);
    const OidcFlow* peek(const std::string& state) const;
    std::size_t size() const { return flows_.size(); }

private:
    void prune(TimePoint now);
    std::map<std::string, OidcFlow> flows_;
};

// The cookie that ties a state to the browser that started the login: a callback whose state
// arrives without it (a link forged or forwarded to someone else) is refused. The name carries
// the state's first characters, so logins for two devices in one browser do not collide.
std::string oidc_cookie_name(const std::string& state);
// The Set-Cookie value for `state`: HttpOnly, SameSite=Lax (the provider's redirect back is a
// top-level GET), path /oidc/callback, Secure when the server is reached over https.
std::string oidc_set_cookie(const std::string& state, bool secure);
// The value of cookie `name` in a Cookie header, or "".
std::string cookie_value(const std::string& header, const std::string& name);

}  // namespace hs::control
