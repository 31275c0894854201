#include <catch2/catch.hpp>

#include "common/auth/discovery.h"
#include "common/auth/jose.h"
#include "common/auth/login.h"

using namespace hs::auth;
using nlohmann::json;

TEST_CASE("discovery: the URL, the issuer check and the endpoints") {
    CHECK(discovery_url("https://id.example.com") == "https://id.example.com/.well-known/openid-configuration");
    CHECK(discovery_url("https://id.example.com/realms/x/") ==
          "https://id.example.com/realms/x/.well-known/openid-configuration");
    json doc{{"issuer", "https://id.example.com"},
             {"authorization_endpoint", "https://id.example.com/auth"},
             {"token_endpoint", "https://id.example.com/token"},
             {"jwks_uri", "https://id.example.com/jwks"},
             {"userinfo_endpoint", "https://id.example.com/me"},
             {"code_challenge_methods_supported", {"S256"}}};
    const auto m = parse_discovery(doc.dump(), "https://id.example.com");
    CHECK(m.token_endpoint == "https://id.example.com/token");
    CHECK(m.code_challenge_methods == std::vector<std::string>{"S256"});
    CHECK_THROWS_WITH(
        parse_discovery(doc.dump(), "https://id.example.com/"),
        "the provider calls itself \"https://id.example.com\", not the configured issuer \"https://id.example.com/\"");
    auto numeric = doc;
    numeric["issuer"] = 42;  // a wrong type is a wrong issuer, not a JSON type error
    CHECK_THROWS_WITH(parse_discovery(numeric.dump(), "https://id.example.com"),
                      "the provider calls itself \"\", not the configured issuer \"https://id.example.com\"");
    auto plain = doc;
    plain["token_endpoint"] = "http://id.example.com/token";
    CHECK_THROWS_WITH(parse_discovery(plain.dump(), "https://id.example.com"),
                      "the provider's token_endpoint \"http://id.example.com/token\" is not https");
    auto missing = doc;
    missing.erase("jwks_uri");
    CHECK_THROWS_WITH(parse_discovery(missing.dump(), "https://id.example.com"),
                      "the provider's metadata has no jwks_uri");
    CHECK(acceptable_endpoint("http://127.0.0.1:9000/token"));
    CHECK(acceptable_endpoint("http://[::1]:9000/token"));
    CHECK(acceptable_endpoint("http://localhost/x"));
    CHECK_FALSE(acceptable_endpoint("http://127.0.0.1@evil.example.com/"));
    CHECK_FALSE(acceptable_endpoint("http://localhost.evil.example.com/"));
    CHECK_FALSE(acceptable_endpoint("ftp://id.example.com/"));
}

TEST_CASE("authorization URL, PKCE and the token request") {
    // RFC 7636 Appendix B.
    CHECK(pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "S256") ==
          "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    CHECK(pkce_challenge("abc", "plain") == "abc");
    ProviderMetadata p;
    p.authorization_endpoint = "https://id.example.com/auth";
    AuthorizationRequest r{"hs",
                           "https://hs.example.com/oidc/callback",
                           {"openid", "email"},
                           "st",
                           "no",
                           "ch",
                           "S256",
                           {{"domain_hint", "example.com"}, {"state", "ignored"}}};
    CHECK(authorization_url(p, r) ==
          "https://id.example.com/"
          "auth?response_type=code&client_id=hs&redirect_uri=https%3A%2F%2Fhs.example.com%2Foidc%2Fcallback"
          "&scope=openid+email&state=st&nonce=no&code_challenge=ch&code_challenge_method=S256&domain_hint=example.com");
    CHECK(token_request_body("c d", "https://x/cb", "hs", "") ==
          "grant_type=authorization_code&code=c+d&redirect_uri=https%3A%2F%2Fx%2Fcb&client_id=hs");
    // RFC 6749 §2.3.1: form-encoded, then base64 ("a b:c" -> "a+b:c").
    CHECK(basic_authorization("a b", "c") == "Basic YStiOmM=");
    CHECK(basic_authorization("hs", "s3cret") == "Basic aHM6czNjcmV0");
}

TEST_CASE("token responses") {
    CHECK(parse_token_response(200, R"({"id_token":"a.b.c","access_token":"x"})").id_token == "a.b.c");
    CHECK_THROWS_WITH(
        parse_token_response(400, R"({"error":"invalid_grant","error_description":"grant request is invalid"})"),
        "the provider refused the code (HTTP 400, invalid_grant: grant request is invalid)");
    CHECK_THROWS_WITH(parse_token_response(200, R"({"access_token":"x"})"),
                      "the provider's token answer has no id_token (is \"openid\" in oidc.scope?)");
}

TEST_CASE("identity from claims and UserInfo, and the login rules") {
    const json id{{"sub", "u1"}, {"email", "a@x.org"}, {"email_verified", false}, {"name", "From Token"}};
    const json info{{"sub", "u1"},
                    {"email", "alice@example.com"},
                    {"email_verified", "true"},
                    {"preferred_username", "alice"},
                    {"groups", {"eng", "ops"}},
                    {"picture", "https://p/a.png"}};
    auto who = identity_from("https://id.example.com/", id, &info);
    CHECK(who.provider_identifier == "https://id.example.com/u1");
    CHECK(who.email == "alice@example.com");
    CHECK(who.email_verified);
    CHECK(who.name == "From Token");
    CHECK(who.preferred_username == "alice");
    CHECK(who.groups == std::vector<std::string>{"eng", "ops"});
    const json stranger{{"sub", "u2"}, {"email", "mallory@example.com"}};
    CHECK(identity_from("https://id.example.com", id, &stranger).email == "a@x.org");

    LoginRules rules;
    CHECK_FALSE(refusal(who, rules));
    rules.allowed_groups = {"admins"};
    CHECK(refusal(who, rules) == "your account is in none of the groups allowed on this server");
    rules.allowed_groups = {"ENG"};
    CHECK_FALSE(refusal(who, rules));
    rules.allowed_domains = {"example.org"};
    CHECK(refusal(who, rules) == "e-mail addresses at example.com may not join this tailnet");
    rules.allowed_domains = {"example.com"};
    CHECK_FALSE(refusal(who, rules));
    rules.allowed_users = {"bob@example.com"};
    CHECK(refusal(who, rules) == "the account alice@example.com is not on this server's list of allowed users");
    rules.allowed_users = {"alice@example.com"};
    CHECK_FALSE(refusal(who, rules));
    who.email_verified = false;
    CHECK(refusal(who, rules) == "your e-mail address alice@example.com is not verified at the identity provider");
    rules.email_verified_required = false;
    CHECK_FALSE(refusal(who, rules));
}
