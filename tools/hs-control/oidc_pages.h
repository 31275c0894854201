// What the person who signs in sees: one plain page per outcome, saying what happened and what
// to do next. Pure functions returning HTML.
#pragma once

#include <string>

namespace hs::control {

// The device joined (or came back): who it belongs to now and that the browser can be closed.
// `held`: auth.device_approval is on, so a new device waits for an administrator.
std::string oidc_success_page(const std::string& hostname, const std::string& user, const std::string& email,
                              bool held = false);
// The server's rules or the provider refused this person: `why` says which.
std::string oidc_refused_page(const std::string& why);
// The provider's answer did not pass a check (a refused code, a bad ID token).
std::string oidc_unverified_page(const std::string& why);
// The sign-in link itself is wrong: unknown, used twice, expired, or opened in another browser.
std::string oidc_bad_link_page(const std::string& why);
// The provider could not be asked (down, slow, broken answer): try again later.
std::string oidc_unavailable_page(const std::string& why);

}  // namespace hs::control
