// The pages of built-in accounts: escaped, no server details, the form's fields.
#include <catch2/catch.hpp>

#include "tools/hs-control/local_pages.h"
#include "tools/hs-control/pages.h"

using namespace hs;
using namespace hs::control;

TEST_CASE("the register page names no config path") {
    AuthRequest ar;
    ar.id = "abc";
    ar.hostname = "laptop";
    ar.status = "pending";
    ar.node_key = "nodekey:00";
    const auto html = register_page("abc", ar);
    CHECK(html.find("hs-admin nodes register --user USERNAME --key abc") != std::string::npos);
    CHECK(html.find(" -c ") == std::string::npos);
    CHECK(html.find("config") == std::string::npos);
}

TEST_CASE("the sign-in form: escaped, CSRF field, OIDC link only when asked") {
    SigninForm f{"id1", "<host>", "tok\"en", "al\"ice", "bad <b>", false, ""};
    auto html = signin_page("Sign in", f);
    CHECK(html.find("&lt;host&gt;") != std::string::npos);
    CHECK(html.find("name=\"csrf\" value=\"tok&quot;en\"") != std::string::npos);
    CHECK(html.find("value=\"al&quot;ice\"") != std::string::npos);
    CHECK(html.find("role=\"alert\"><strong>bad &lt;b&gt;") != std::string::npos);
    CHECK(html.find("action=\"/register/id1\"") != std::string::npos);
    CHECK(html.find("?oidc=1") == std::string::npos);
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("http") == std::string::npos);  // no external resources
    f.oidc = true;
    CHECK(signin_page("Sign in", f).find("/register/id1?oidc=1") != std::string::npos);
}

TEST_CASE("refusal pages say what happened") {
    CHECK(locked_page("2026-01-01T00:15:00Z", 15).find("until <b>2026-01-01T00:15:00Z</b> (about 15 minutes") !=
          std::string::npos);
    CHECK(slow_down_page(1).find("Wait 1 second ") != std::string::npos);
    const auto np = new_password_page({"id1", "t", "c", "carol", "", 12});
    CHECK(np.find("name=\"change\" value=\"c\"") != std::string::npos);
    CHECK(np.find("at least 12 characters") != std::string::npos);
}
