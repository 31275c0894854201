#include <catch2/catch.hpp>

#include "tools/hs-control/oidc_flows.h"

using namespace hs;
using namespace hs::control;

TEST_CASE("OIDC flows answer once, expire, and stay bounded") {
    OidcFlows flows;
    const auto now = Clock::now();
    const auto state = flows.begin("auth-1", true, now);
    CHECK(state.size() == 43);
    const auto* f = flows.peek(state);
    REQUIRE(f);
    CHECK(f->code_verifier.size() == 43);
    CHECK(f->nonce != state);
    CHECK(flows.begin("auth-1", false, now) != state);  // a second tab gets its own state
    CHECK(flows.peek(flows.begin("auth-2", false, now))->code_verifier.empty());
    const auto taken = flows.take(state, now);
    REQUIRE(taken);
    CHECK(taken->auth_id == "auth-1");
    CHECK_FALSE(flows.take(state, now));  // replayed
    CHECK_FALSE(flows.take("forged", now));
    const auto old = flows.begin("auth-3", false, now);
    CHECK_FALSE(flows.take(old, now + OidcFlows::kLifetime));  // expired

    OidcFlows full;
    const auto first = full.begin("a", false, now);
    for (std::size_t i = 1; i < OidcFlows::kMaxFlows + 10; ++i)
        full.begin("a", false, now + std::chrono::milliseconds(i));
    CHECK(full.size() == OidcFlows::kMaxFlows);
    CHECK_FALSE(full.peek(first));  // the oldest gave way
}

TEST_CASE("the state cookie") {
    const std::string state = "abcdefghijKLMNOP";
    CHECK(oidc_cookie_name(state) == "hs_oidc_abcdefgh");
    CHECK(oidc_set_cookie(state, false) ==
          "hs_oidc_abcdefgh=abcdefghijKLMNOP; Path=/oidc/callback; Max-Age=900; HttpOnly; SameSite=Lax");
    CHECK(oidc_set_cookie(state, true).ends_with("; Secure"));
    CHECK(cookie_value("a=1; hs_oidc_abcdefgh=xyz; b=2", "hs_oidc_abcdefgh") == "xyz");
    CHECK(cookie_value("hs_oidc_abcdefgh=xyz", "hs_oidc_abcdefgh") == "xyz");
    CHECK(cookie_value("xhs_oidc_abcdefgh=xyz", "hs_oidc_abcdefgh") == "");
    CHECK(cookie_value("", "hs_oidc_abcdefgh") == "");
}
