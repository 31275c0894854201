#include <catch2/catch.hpp>

#include <openssl/hmac.h>

#include "common/auth/id_token.h"
#include "tests/unit/auth/signer.h"

using namespace hs;
using namespace hs::auth;
using nlohmann::json;

namespace {

const std::string kIssuer = "https://id.example.com";

IdTokenExpectations expect(TimePoint now) { return {kIssuer, "hs-control", "n-123", now}; }

json claims(TimePoint now) {
    const auto t = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    return {{"iss", kIssuer}, {"sub", "alice-1"}, {"aud", "hs-control"},
            {"exp", t + 300}, {"iat", t},         {"nonce", "n-123"}};
}

std::string message_of(const std::string& token, const std::vector<Jwk>& keys, const IdTokenExpectations& e) {
    try {
        verify_id_token(token, keys, e);
    } catch (const AuthError& err) {
        return err.what();
    }
    return "accepted";
}

}  // namespace

TEST_CASE("ID tokens signed with RS256, ES256 and EdDSA are accepted with the provider's key") {
    const auto now = Clock::now();
    for (const std::string alg : {"RS256", "ES256", "EdDSA"}) {
        const auto key = test::TestKey::make(alg, "k-" + alg);
        const auto other = test::TestKey::make(alg, "k2-" + alg);
        const auto keys = parse_jwks(test::jwks({&other, &key}));
        REQUIRE(keys.size() == 2);
        const auto t = verify_id_token(key.token(claims(now)), keys, expect(now));
        CHECK(t.claims["sub"] == "alice-1");
        CHECK(t.header["alg"] == alg);
    }
}

TEST_CASE("an ID token signed by another key is refused") {
    const auto now = Clock::now();
    const auto key = test::TestKey::make("RS256", "k1");
    const auto forger = test::TestKey::make("RS256", "k1");  // same kid, different key
    const auto keys = parse_jwks(test::jwks({&key}));
    CHECK(message_of(forger.token(claims(now)), keys, expect(now)) ==
          "the ID token's signature does not match the provider's key");
    // An unknown kid asks the caller to fetch the JWKS again.
    const auto stranger = test::TestKey::make("RS256", "rotated");
    CHECK_THROWS_AS(verify_id_token(stranger.token(claims(now)), keys, expect(now)), UnknownKeyError);
}

TEST_CASE("alg none and HMAC signed with the public key are refused") {
    const auto now = Clock::now();
    const auto key = test::TestKey::make("RS256", "k1");
    const auto jwks_text = test::jwks({&key});
    const auto keys = parse_jwks(jwks_text);
    const auto body = base64url_encode(claims(now).dump());
    const auto none = base64url_encode(json{{"alg", "none"}}.dump()) + "." + body + ".";
    CHECK(message_of(none, keys, expect(now)) == "the ID token is signed with \"none\", which is not accepted");
    // The classic confusion attack: HS256 with the JWKS (public) text as the secret.
    const auto input = base64url_encode(json{{"alg", "HS256"}, {"kid", "k1"}}.dump()) + "." + body;
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), jwks_text.data(), static_cast<int>(jwks_text.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    const auto hs256 = input + "." + base64url_encode(std::string_view(reinterpret_cast<char*>(mac), len));
    CHECK(message_of(hs256, keys, expect(now)) == "the ID token is signed with \"HS256\", which is not accepted");
    // An RS256 key may not check an ES256 token, whatever the header says.
    const auto ec = test::TestKey::make("ES256", "k1");
    CHECK_THROWS_AS(verify_id_token(ec.token(claims(now)), keys, expect(now)), UnknownKeyError);
}

TEST_CASE("iss, aud, azp, exp, iat and nonce are checked") {
    const auto now = Clock::now();
    const auto key = test::TestKey::make("ES256", "k1");
    const auto keys = parse_jwks(test::jwks({&key}));
    auto with = [&](const char* name, json value) {
        auto c = claims(now);
        if (value.is_null()) c.erase(name);
        else c[name] = value;
        return message_of(key.token(c), keys, expect(now));
    };
    const auto t = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    CHECK(with("iss", "https://evil.example.com") ==
          "the ID token comes from another issuer (iss \"https://evil.example.com\")");
    CHECK(with("aud", "other-client") == "the ID token was issued for another client (aud)");
    CHECK(with("aud", json::array({"other", "hs-control"})) ==
          "the ID token's authorized party (azp) is another client");
    CHECK(with("azp", "other") == "the ID token's authorized party (azp) is another client");
    CHECK(with("exp", t - 61) == "the ID token has expired");
    CHECK(with("exp", t - 30) == "accepted");  // within the 60 s leeway
    CHECK(with("exp", nullptr) == "the ID token has no \"exp\" time");
    CHECK(with("iat", t + 120) == "the ID token was issued in the future (iat)");
    CHECK(with("nonce", "n-999") == "the ID token's nonce does not belong to this login");
    CHECK(with("nonce", nullptr) == "the ID token's nonce does not belong to this login");
    CHECK(with("sub", "") == "the ID token names no subject (sub)");
    // Times beyond what a time point holds (found by fuzz_oidc) are refused, not converted.
    CHECK(with("exp", 1e300) == "the ID token's \"exp\" is out of range");
    CHECK(with("iat", -5) == "the ID token's \"iat\" is out of range");
    auto multi = claims(now);
    multi["aud"] = json::array({"other", "hs-control"});
    multi["azp"] = "hs-control";
    CHECK(message_of(key.token(multi), keys, expect(now)) == "accepted");
}

TEST_CASE("malformed tokens and JWKS documents are refused with a reason") {
    const auto now = Clock::now();
    const auto key = test::TestKey::make("EdDSA", "k1");
    const auto keys = parse_jwks(test::jwks({&key}));
    CHECK(message_of("abc", keys, expect(now)) == "the ID token is not a signed JWT (three dot-separated parts)");
    CHECK(message_of("a.b.c.d", keys, expect(now)) == "the ID token is not a signed JWT (three dot-separated parts)");
    CHECK(message_of("!!.e30.", keys, expect(now)) == "malformed base64url");
    auto tampered = key.token(claims(now));
    const auto dot = tampered.find('.');
    auto c = claims(now);
    c["sub"] = "mallory";
    tampered = tampered.substr(0, dot + 1) + base64url_encode(c.dump()) + tampered.substr(tampered.rfind('.'));
    CHECK(message_of(tampered, keys, expect(now)) == "the ID token's signature does not match the provider's key");
    auto crit = json{{"alg", "EdDSA"}, {"kid", "k1"}, {"crit", json::array({"exp"})}};
    CHECK(message_of(key.token(claims(now), crit), keys, expect(now)) ==
          "the ID token names critical header parameters this server does not know");
    // Header members of the wrong type are refused like missing ones (fuzz_oidc found an alg of
    // 0 escaping as a JSON type error).
    CHECK(message_of(key.token(claims(now), json{{"alg", 0}, {"kid", "k1"}}), keys, expect(now)) ==
          "the ID token is signed with \"\", which is not accepted");
    CHECK(message_of(key.token(claims(now), json{{"alg", "EdDSA"}, {"kid", 7}}), keys, expect(now)) == "accepted");

    CHECK_THROWS_AS(parse_jwks("[]"), AuthError);
    CHECK_THROWS_AS(parse_jwks("not json"), AuthError);
    // Encryption keys, unknown types, short RSA keys and broken members are skipped.
    auto doc = json::parse(test::jwks({&key}));
    doc["keys"].push_back({{"kty", "RSA"}, {"use", "enc"}, {"n", "AQAB"}, {"e", "AQAB"}});
    doc["keys"].push_back({{"kty", "RSA"}, {"n", "AQAB"}, {"e", "AQAB"}});
    doc["keys"].push_back({{"kty", "oct"}, {"k", "c2VjcmV0"}});
    doc["keys"].push_back({{"kty", "EC"}, {"crv", "P-256"}, {"x", "AA"}, {"y", "AA"}});
    doc["keys"].push_back({{"kty", "OKP"}, {"crv", "X25519"}, {"x", base64url_encode(std::string(32, 'x'))}});
    CHECK(parse_jwks(doc.dump()).size() == 1);
}

TEST_CASE("base64url round trip") {
    CHECK(base64url_encode("") == "");
    CHECK(base64url_encode("\xfb\xff") == "-_8");
    CHECK(base64url_decode("-_8") == "\xfb\xff");
    CHECK_THROWS_AS(base64url_decode("a+b/"), AuthError);
    CHECK_THROWS_AS(base64url_decode("YQ=="), AuthError);
}
