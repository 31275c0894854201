// The confirmation step of an OIDC sign-in (headscale 0.29's /register/confirm): once the
// provider vouched for the person, hs shows which device they are about to add and registers it
// only when they press the button, a POST carrying a token that must match a cookie set with
// the page. Without it, a link from someone else's `tailscale up` opened in a browser whose
// provider session signs in silently would add the sender's device to the victim's account
// with no click (docs/oidc.md). No I/O: the tokens, the page and the cookie.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "common/base/timeutil.h"

namespace hs::control {

// The form field and cookie that carry the confirmation token.
inline constexpr const char* kConfirmField = "hs_confirm";

template <class Pending>
class OidcConfirmations {
public:
    // The person has this long to press the button (the pending registration's own 15 minutes
    // bound it anyway).
    static constexpr auto kLifetime = std::chrono::minutes(10);
    // Every verified sign-in adds one; the table stays bounded, the oldest giving way.
    static constexpr std::size_t kMax = 1024;

    // Holds `p` for `auth_id` under `token` (a later sign-in for the same device replaces it).
    void hold(const std::string& auth_id, const std::string& token, Pending p, TimePoint now) {
        std::erase_if(held_, [&](const auto& kv) { return kv.second.expires_at <= now; });
        while (held_.size() >= kMax) held_.erase(held_.begin());
        held_[auth_id] = {token, std::move(p), now + kLifetime};
    }
    // What was held for `auth_id` when `token` is its token and it has not expired; removed, so
    // one confirmation registers once. nullopt otherwise (and a wrong token removes nothing).
    std::optional<Pending> take(const std::string& auth_id, const std::string& token, TimePoint now) {
        const auto it = held_.find(auth_id);
        if (it == held_.end() || token.empty() || it->second.token != token) return std::nullopt;
        if (it->second.expires_at <= now) {
            held_.erase(it);
            return std::nullopt;
        }
        auto p = std::move(it->second.pending);
        held_.erase(it);
        return p;
    }

private:
    struct Entry {
        std::string token;
        Pending pending;
        TimePoint expires_at{};
    };
    std::map<std::string, Entry> held_;
};

// The Set-Cookie value for the token of `auth_id`: HttpOnly, SameSite=Strict (only hs's own page
// posts the form), path /register/confirm/<auth_id>, Secure over https; `clear` expires it.
std::string confirm_set_cookie(const std::string& auth_id, const std::string& token, bool secure, bool clear = false);

// The page that asks the person to confirm: the device (its name and key fingerprints) and the
// account it would join, a button posting `token` to /register/confirm/<auth_id>.
std::string oidc_confirm_page(const std::string& auth_id, const std::string& token, const std::string& hostname,
                              const std::string& machine_key, const std::string& node_key, const std::string& user,
                              const std::string& email);

}  // namespace hs::control
