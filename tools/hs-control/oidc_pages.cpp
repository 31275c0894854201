#include "tools/hs-control/oidc_pages.h"

#include "tools/hs-control/pages.h"

namespace hs::control {
namespace {

const char* kStartAgain =
    "<p>To try again, run <code>tailscale up</code> (or <code>tailscale login</code>) on the device and open the new "
    "link it prints. The device has not been added to the tailnet.</p>";

}  // namespace

std::string oidc_success_page(const std::string& hostname, const std::string& user, const std::string& email,
                              bool held) {
    std::string who = "<b>" + html_escape(user) + "</b>";
    if (!email.empty() && email != user) who += " (" + html_escape(email) + ")";
    return page("Device registered",
                "<p role=\"status\">You are signed in as " + who + ". The device <b>" + html_escape(hostname) +
                    "</b> is now in the tailnet as one of your devices.</p>\n" +
                    (held ? "<p>This tailnet lets a new device reach the others only once an administrator has "
                            "approved it: until then <code>tailscale status</code> on it says so. You can close this "
                            "window.</p>"
                          : "<p>It connects by itself within a few seconds. You can close this window.</p>"));
}

std::string oidc_refused_page(const std::string& why) {
    return page("Sign-in refused", "<p role=\"alert\">This server does not let you add a device: " + html_escape(why) +
                                       ".</p>\n<p>If you think you should be allowed, ask the administrator of this "
                                       "tailnet. Signing in with another account may work.</p>\n" +
                                       kStartAgain);
}

std::string oidc_unverified_page(const std::string& why) {
    return page("Sign-in not completed",
                "<p role=\"alert\">The sign-in could not be verified: " + html_escape(why) + ".</p>\n" + kStartAgain);
}

std::string oidc_bad_link_page(const std::string& why) {
    return page("Sign-in link not valid", "<p role=\"alert\">" + html_escape(why) + ".</p>\n" + kStartAgain);
}

std::string oidc_unavailable_page(const std::string& why) {
    return page("Sign-in failed", "<p role=\"alert\">The identity provider could not complete the sign-in: " +
                                      html_escape(why) + ".</p>\n<p>This is usually temporary. " +
                                      "If it persists, tell the administrator of this tailnet.</p>\n" + kStartAgain);
}

}  // namespace hs::control
