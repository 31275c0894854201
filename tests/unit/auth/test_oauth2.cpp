#include <catch2/catch.hpp>

#include "common/auth/jose.h"
#include "common/auth/oauth2.h"

using namespace hs::auth;
using nlohmann::json;

TEST_CASE("oauth2: the provider identifier's base") {
    CHECK(oauth2_issuer("https://github.com/login/oauth/authorize", "") == "https://github.com");
    CHECK(oauth2_issuer("https://10.0.0.1:21000/auth", "") == "https://10.0.0.1:21000");
    CHECK(oauth2_issuer("https://id.example.com", "") == "https://id.example.com");
    CHECK(oauth2_issuer("https://github.com/login/oauth/authorize", "github/") == "github");
}

TEST_CASE("oauth2: the token answer gives the access token, and no ID token is needed or read") {
    CHECK(parse_oauth2_token_response(200, R"({"access_token":"gho_1","token_type":"bearer","scope":"read:user"})") ==
          "gho_1");
    CHECK(parse_oauth2_token_response(200, R"({"access_token":"a","token_type":"Bearer","id_token":"garbage"})") ==
          "a");
    // GitHub refuses a bad code with HTTP 200 and an "error" member.
    CHECK_THROWS_WITH(parse_oauth2_token_response(
                          200, R"({"error":"bad_verification_code","error_description":"The code is incorrect"})"),
                      "the provider refused the code (HTTP 200, bad_verification_code: The code is incorrect)");
    CHECK_THROWS_WITH(parse_oauth2_token_response(401, "nope"), "the provider refused the code (HTTP 401)");
    CHECK_THROWS_WITH(parse_oauth2_token_response(200, "access_token=x&token_type=bearer"),
                      "the provider's token answer is not JSON");
    CHECK_THROWS_WITH(parse_oauth2_token_response(200, R"({"token_type":"bearer"})"),
                      "the provider's token answer has no access_token");
    CHECK_THROWS_WITH(parse_oauth2_token_response(200, R"({"access_token":"a","token_type":"mac"})"),
                      "the provider's access token is of type \"mac\", not Bearer");
}

TEST_CASE("oauth2: the userinfo answer") {
    CHECK(parse_userinfo_response(200, R"({"id":1})")["id"] == 1);
    CHECK_THROWS_WITH(parse_userinfo_response(500, R"({"id":1})"), "the userinfo endpoint answered HTTP 500");
    CHECK_THROWS_WITH(parse_userinfo_response(200, "<html>"), "the userinfo endpoint's answer is not a JSON object");
    CHECK_THROWS_WITH(parse_userinfo_response(200, "[1]"), "the userinfo endpoint's answer is not a JSON object");
}

TEST_CASE("oauth2: GitHub's /user through the default claim mapping") {
    const auto user = json::parse(R"({"login":"octocat","id":583231,"avatar_url":"https://a.example/u/583231",
        "name":"The Octocat","email":"octo@github.example","type":"User"})");
    const auto who = identity_from_userinfo("https://github.com", ClaimMap{}, user);
    CHECK(who.subject == "583231");
    CHECK(who.provider_identifier == "https://github.com/583231");
    CHECK(who.preferred_username == "octocat");
    CHECK(who.name == "The Octocat");
    CHECK(who.email == "octo@github.example");
    CHECK(who.picture == "https://a.example/u/583231");
    CHECK(who.groups.empty());
    // GitHub sends no email_verified: the address counts as unverified, so with
    // oidc.email_verified_required (the default) allowed_domains refuses it...
    CHECK_FALSE(who.email_verified);
    LoginRules rules{{"github.example"}, {}, {}, true};
    CHECK(refusal(who, rules) == "your e-mail address octo@github.example is not verified at the identity provider");
    // ...and lets it in when the administrator turns that off.
    rules.email_verified_required = false;
    CHECK_FALSE(refusal(who, rules));
}

TEST_CASE("oauth2: a mapping for another provider, with groups and email_verified") {
    ClaimMap m;
    m.subject = "sub";
    m.username = "preferred_username";
    m.picture = "picture";
    m.groups = "roles";
    const auto info = json::parse(R"({"sub":"alice","preferred_username":"alice","email":"alice@example.com",
        "email_verified":"true","roles":["vpn","eng"],"name":"Alice"})");
    const auto who = identity_from_userinfo("https://id.example.com", m, info);
    CHECK(who.provider_identifier == "https://id.example.com/alice");
    CHECK(who.email_verified);
    CHECK(who.groups == std::vector<std::string>{"vpn", "eng"});
    auto one = info;
    one["roles"] = "vpn";
    one["email_verified"] = false;
    const auto w2 = identity_from_userinfo("https://id.example.com", m, one);
    CHECK(w2.groups == std::vector<std::string>{"vpn"});
    CHECK_FALSE(w2.email_verified);
    // An unmapped claim (empty name) is never read.
    m.email = "";
    CHECK(identity_from_userinfo("https://id.example.com", m, info).email.empty());
}

TEST_CASE("oauth2: a userinfo answer without a usable subject is refused") {
    const ClaimMap m;
    CHECK_THROWS_WITH(identity_from_userinfo("https://github.com", m, json::parse(R"({"login":"x"})")),
                      "the userinfo answer has no usable \"id\" (oidc.oauth2.claims.subject: a string or an integer)");
    CHECK_THROWS_AS(identity_from_userinfo("https://github.com", m, json::parse(R"({"id":""})")), AuthError);
    CHECK_THROWS_AS(identity_from_userinfo("https://github.com", m, json::parse(R"({"id":1.5})")), AuthError);
    CHECK_THROWS_AS(identity_from_userinfo("https://github.com", m, json::parse(R"({"id":{"n":1}})")), AuthError);
    CHECK(identity_from_userinfo("https://github.com", m, json::parse(R"({"id":-7})")).subject == "-7");
    CHECK(identity_from_userinfo("https://github.com", m, json::parse(R"({"id":"abc"})")).subject == "abc");
}

TEST_CASE("oauth2: the authorization URL carries no nonce when there is none (OAuth2 mode)") {
    ProviderMetadata p;
    p.authorization_endpoint = "https://github.com/login/oauth/authorize";
    AuthorizationRequest r{"hs", "https://hs.example.com/oidc/callback", {"read:user"}, "st", "", "", "", {}};
    CHECK(authorization_url(p, r) ==
          "https://github.com/login/oauth/"
          "authorize?response_type=code&client_id=hs&redirect_uri=https%3A%2F%2Fhs.example.com%2Foidc%2Fcallback"
          "&scope=read%3Auser&state=st");
}
