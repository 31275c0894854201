// The confirmation step of an OIDC sign-in (oidc_confirm.h): a held sign-in is released once,
// only for its token and before it expires; the cookie and the page say what they must.
#include <catch2/catch.hpp>

#include "tools/hs-control/oidc_confirm.h"

using namespace hs;
using namespace hs::control;

TEST_CASE("a held sign-in is released once, for its own token, before it expires") {
    OidcConfirmations<int> c;
    const auto now = Clock::now();
    c.hold("dev1", "tok-1", 7, now);
    CHECK_FALSE(c.take("dev1", "", now));
    CHECK_FALSE(c.take("dev1", "tok-2", now));
    CHECK_FALSE(c.take("dev2", "tok-1", now));
    const auto got = c.take("dev1", "tok-1", now);  // the wrong tries above removed nothing
    REQUIRE(got);
    CHECK(*got == 7);
    CHECK_FALSE(c.take("dev1", "tok-1", now));  // once

    c.hold("dev1", "tok-3", 8, now);
    CHECK_FALSE(c.take("dev1", "tok-3", now + OidcConfirmations<int>::kLifetime));
    c.hold("dev1", "tok-4", 9, now);
    c.hold("dev1", "tok-5", 10, now);  // a later sign-in for the same device replaces it
    CHECK_FALSE(c.take("dev1", "tok-4", now));
    CHECK(c.take("dev1", "tok-5", now) == 10);
}

TEST_CASE("the confirmation cookie is strict, scoped to the device's confirmation, and cleared after") {
    const auto set = confirm_set_cookie("abc", "tok", true);
    CHECK(set == "hs_confirm=tok; Path=/register/confirm/abc; HttpOnly; SameSite=Strict; Max-Age=600; Secure");
    CHECK(confirm_set_cookie("abc", "tok", false, true) ==
          "hs_confirm=; Path=/register/confirm/abc; HttpOnly; SameSite=Strict; Max-Age=0");
}

TEST_CASE("the confirmation page names the device and the account, escaped, and posts the token") {
    const auto html = oidc_confirm_page("abc", "tok", "<laptop>", "mkey:0123456789abcdef0123",
                                        "nodekey:fedcba9876543210", "alice", "alice@example.com");
    CHECK(html.find("&lt;laptop&gt;") != std::string::npos);
    CHECK(html.find("<laptop>") == std::string::npos);
    CHECK(html.find("mkey:0123456789ab") != std::string::npos);
    CHECK(html.find("mkey:0123456789abc") == std::string::npos);  // a fingerprint, not the key
    CHECK(html.find("alice@example.com") != std::string::npos);
    CHECK(html.find("<form method=\"post\" action=\"/register/confirm/abc\">") != std::string::npos);
    CHECK(html.find("name=\"hs_confirm\" value=\"tok\"") != std::string::npos);
}
