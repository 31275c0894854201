// The pages of sign-in with a built-in account (auth.local) on /register/<id>: the form, and
// one page per refusal saying what happened and what to do. Pure functions returning HTML;
// plain forms with labels, no scripts, no external resources.
#pragma once

#include <chrono>
#include <string>

namespace hs::control {

struct SigninForm {
    std::string auth_id, hostname;
    std::string csrf_token;
    std::string name;        // filled in again after a refusal
    std::string alert;       // what went wrong, shown above the form ("" = nothing)
    bool oidc = false;       // also offer the identity provider's sign-in
    std::string admin_hint;  // the `hs-admin nodes register` line, "" to leave it out
};

// The sign-in form; `title` says what the page is ("Sign in", "Wrong password", ...).
std::string signin_page(const std::string& title, const SigninForm& f);
// The account is locked after too many failures, until `until_text` (UTC).
std::string locked_page(const std::string& until_text, long minutes_left);
// This address made too many failed attempts; try again after `seconds`.
std::string slow_down_page(long seconds);
// The password is older than auth.local.password_max_age: choose a new one.
struct NewPasswordForm {
    std::string auth_id, csrf_token, change_token, user;
    std::string alert;
    std::size_t min_length = 12;
};
std::string new_password_page(const NewPasswordForm& f);
// The form was not sent from this server's page (missing or wrong CSRF token, cookie lost).
std::string form_expired_page(const std::string& auth_id);
// The account may not sign in here at all (no password, reserved name, no second step while
// auth.local.require_mfa): `why` is shown with what to ask the administrator.
std::string account_refused_page(const std::string& why);

}  // namespace hs::control
