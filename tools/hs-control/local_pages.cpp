#include "tools/hs-control/local_pages.h"

#include "tools/hs-control/pages.h"

namespace hs::control {
namespace {

std::string hidden(const char* name, const std::string& value) {
    return "<input type=\"hidden\" name=\"" + std::string(name) + "\" value=\"" + html_escape(value) + "\">";
}

std::string alert(const std::string& text) {
    return text.empty() ? "" : "<p role=\"alert\"><strong>" + html_escape(text) + "</strong></p>\n";
}

const char* kStartAgain =
    "<p>To start over, run <code>tailscale up</code> (or <code>tailscale login</code>) on the device and open the new "
    "link it prints.</p>";

}  // namespace

std::string signin_page(const std::string& title, const SigninForm& f) {
    std::string b = alert(f.alert);
    b += "<p>The device <b>" + html_escape(f.hostname) +
         "</b> asks to join this tailnet. Sign in to add it as one of "
         "your devices.</p>\n";
    b += "<form method=\"post\" action=\"/register/" + html_escape(f.auth_id) + "\">\n" + hidden("csrf", f.csrf_token) +
         hidden("action", "signin") +
         "\n<p><label for=\"name\">User name</label><br><input id=\"name\" name=\"name\" autocomplete=\"username\" "
         "required maxlength=\"63\" value=\"" +
         html_escape(f.name) +
         "\"></p>\n<p><label for=\"password\">Password</label><br><input id=\"password\" name=\"password\" "
         "type=\"password\" autocomplete=\"current-password\" required></p>\n"
         "<p><label for=\"code\">Code from your authenticator app, or a recovery code</label><br>"
         "<input id=\"code\" name=\"code\" autocomplete=\"one-time-code\" inputmode=\"text\" maxlength=\"16\" "
         "aria-describedby=\"code-help\"><br><small id=\"code-help\">Leave empty if two-step sign-in is not set up "
         "for your account.</small></p>\n<p><button type=\"submit\">Sign in</button></p>\n</form>\n";
    if (f.oidc)
        b += "<p>Or <a href=\"/register/" + html_escape(f.auth_id) +
             "?oidc=1\">sign in with your identity provider</a>.</p>\n";
    if (!f.admin_hint.empty())
        b +=
            "<p>Without an account here, an administrator can let the device in by running, on the server:</p>\n<pre>" +
            html_escape(f.admin_hint) + "</pre>\n";
    return page(title, b);
}

std::string locked_page(const std::string& until_text, long minutes_left) {
    return page("Account locked",
                "<p role=\"alert\">This account is locked after too many failed sign-ins, until <b>" +
                    html_escape(until_text) + "</b> (about " + std::to_string(minutes_left) +
                    (minutes_left == 1 ? " minute" : " minutes") +
                    " from now).</p>\n<p>Try again after that time with the right password. If you did not make "
                    "these attempts, tell the administrator of this tailnet: someone may be guessing your "
                    "password. An administrator can unlock the account sooner.</p>\n" +
                    kStartAgain);
}

std::string slow_down_page(long seconds) {
    return page("Too many attempts",
                "<p role=\"alert\">Too many failed sign-ins came from your address. Wait " + std::to_string(seconds) +
                    (seconds == 1 ? " second" : " seconds") +
                    " and send the form again.</p>\n<p>Nothing was checked: this attempt did not count against the "
                    "account.</p>");
}

std::string new_password_page(const NewPasswordForm& f) {
    std::string b = alert(f.alert);
    b += "<p>The password of <b>" + html_escape(f.user) +
         "</b> has expired: this server asks for a new one before the device is added.</p>\n"
         "<p>Use at least " +
         std::to_string(f.min_length) +
         " characters of at least two kinds (lower case, upper case, digits, others), not a commonly used "
         "password, not containing your user name, and not the old password.</p>\n"
         "<form method=\"post\" action=\"/register/" +
         html_escape(f.auth_id) + "\">\n" + hidden("csrf", f.csrf_token) + hidden("action", "change") +
         hidden("change", f.change_token) +
         "\n<p><label for=\"new_password\">New password</label><br><input id=\"new_password\" name=\"new_password\" "
         "type=\"password\" autocomplete=\"new-password\" required></p>\n"
         "<p><label for=\"new_password2\">New password again</label><br><input id=\"new_password2\" "
         "name=\"new_password2\" type=\"password\" autocomplete=\"new-password\" required></p>\n"
         "<p><button type=\"submit\">Set the new password and sign in</button></p>\n</form>\n";
    return page("Password expired", b);
}

std::string form_expired_page(const std::string& auth_id) {
    return page("Form expired",
                "<p role=\"alert\">This sign-in form was not accepted: it did not come from this server's page in "
                "this browser, or it is too old (the server restarted, or cookies are blocked).</p>\n"
                "<p><a href=\"/register/" +
                    html_escape(auth_id) +
                    "\">Open the sign-in page again</a> and send the form from there. Cookies for this site must be "
                    "allowed.</p>");
}

std::string account_refused_page(const std::string& why) {
    return page("Sign-in refused", "<p role=\"alert\">" + html_escape(why) +
                                       ".</p>\n<p>Ask the administrator of this tailnet to set up your account.</p>\n" +
                                       kStartAgain);
}

}  // namespace hs::control
