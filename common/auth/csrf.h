// The sign-in form's CSRF token (OWASP's "signed double-submit cookie"): the form carries
// MAC(server key, registration ID, cookie value), the browser carries the cookie, and a POST is
// accepted only when the two agree. A page on another site can neither read the cookie nor
// make the browser send it (SameSite=Strict), and a token taken from one registration does not
// fit another.
#pragma once

#include <string>
#include <string_view>

namespace hs::auth {

class CsrfKeys {
public:
    // A fresh random key: tokens do not survive a restart (the person reloads the page).
    CsrfKeys();
    // For tests: a fixed 32-byte key.
    explicit CsrfKeys(std::string_view key);

    // A new random cookie value (43 characters, base64url of 32 bytes).
    static std::string new_cookie();
    // The token for `auth_id` and `cookie`: base64url of HMAC-SHA-512-256.
    std::string token(std::string_view auth_id, std::string_view cookie) const;
    // True when `token` is the one for `auth_id` and `cookie` (and the cookie is not empty).
    bool check(std::string_view auth_id, std::string_view cookie, std::string_view token) const;

private:
    std::string key_;
};

}  // namespace hs::auth
