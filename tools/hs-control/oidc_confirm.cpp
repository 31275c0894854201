#include "tools/hs-control/oidc_confirm.h"

#include "tools/hs-control/pages.h"

namespace hs::control {
namespace {

// "mkey:0123abcd…": enough of a key for a person to compare with `tailscale debug prefs`.
std::string fingerprint(const std::string& key) {
    const auto colon = key.find(':');
    const auto hex = colon == std::string::npos ? key : key.substr(colon + 1);
    return (colon == std::string::npos ? "" : key.substr(0, colon + 1)) + hex.substr(0, 12) + "\u2026";
}

}  // namespace

std::string confirm_set_cookie(const std::string& auth_id, const std::string& token, bool secure, bool clear) {
    std::string c = std::string(kConfirmField) + "=" + (clear ? "" : token) + "; Path=/register/confirm/" + auth_id +
                    "; HttpOnly; SameSite=Strict; Max-Age=" + (clear ? "0" : "600");
    if (secure) c += "; Secure";
    return c;
}

std::string oidc_confirm_page(const std::string& auth_id, const std::string& token, const std::string& hostname,
                              const std::string& machine_key, const std::string& node_key, const std::string& user,
                              const std::string& email) {
    std::string who = "<b>" + html_escape(user) + "</b>";
    if (!email.empty() && email != user) who += " (" + html_escape(email) + ")";
    return page(
        "Add this device?",
        "<p>You are signed in as " + who +
            ". A device asks to join the tailnet as one of your devices:</p>\n"
            "<table>\n<tr><th scope=\"row\">Device name</th><td>" +
            html_escape(hostname) + "</td></tr>\n<tr><th scope=\"row\">Machine key</th><td><code>" +
            html_escape(fingerprint(machine_key)) + "</code></td></tr>\n<tr><th scope=\"row\">Node key</th><td><code>" +
            html_escape(fingerprint(node_key)) +
            "</code></td></tr>\n</table>\n"
            "<p>Add it only if you ran <code>tailscale up</code> (or <code>tailscale login</code>) on this device "
            "yourself just now. If someone sent you this link, close this window: nothing has been added.</p>\n"
            "<form method=\"post\" action=\"/register/confirm/" +
            html_escape(auth_id) + "\">\n<input type=\"hidden\" name=\"" + kConfirmField + "\" value=\"" +
            html_escape(token) + "\">\n<button type=\"submit\">Add " + html_escape(hostname) +
            " to my devices</button>\n</form>");
}

}  // namespace hs::control
