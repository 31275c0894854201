// JWS for ACME against RFC 7515's ES256 example (Appendix A.3) and base64url vectors from RFC 4648 §10.
#include <catch2/catch.hpp>

#include "common/acme/jws.h"

using hs::acme::b64url;
using hs::acme::b64url_decode;
using hs::acme::EcKey;

namespace {
// RFC 7515 Appendix A.3: the key, the signing input and the signature it prints.
const char* kX = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const char* kY = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
const char* kD = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
const char* kInput =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
const char* kSig = "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
}  // namespace

TEST_CASE("b64url: RFC 4648 vectors without padding, URL alphabet, strict decoding") {
    CHECK(b64url("") == "");
    CHECK(b64url("f") == "Zg");
    CHECK(b64url("fo") == "Zm8");
    CHECK(b64url("foo") == "Zm9v");
    CHECK(b64url("foob") == "Zm9vYg");
    CHECK(b64url("fooba") == "Zm9vYmE");
    CHECK(b64url("foobar") == "Zm9vYmFy");
    CHECK(b64url("\xfb\xff") == "-_8");
    CHECK(b64url(R"({"alg":"ES256"})") == "eyJhbGciOiJFUzI1NiJ9");  // RFC 7515 A.3.1
    CHECK(b64url_decode("Zm9vYmFy") == "foobar");
    CHECK(b64url_decode("-_8") == "\xfb\xff");
    CHECK_THROWS_AS(b64url_decode("Zm9v+"), hs::acme::AcmeError);
    CHECK_THROWS_AS(b64url_decode("Zm9v="), hs::acme::AcmeError);
}

TEST_CASE("ES256: RFC 7515 A.3's signature verifies; ours verifies and is R||S") {
    const EcKey key = EcKey::from_jwk(kX, kY, kD);
    CHECK(key.jwk()["x"] == kX);
    CHECK(key.jwk()["y"] == kY);
    CHECK(key.verify(kInput, b64url_decode(kSig)));
    CHECK_FALSE(key.verify(std::string(kInput) + "x", b64url_decode(kSig)));
    const std::string ours = key.sign(kInput);
    CHECK(ours.size() == 64);
    CHECK(key.verify(kInput, ours));
    CHECK_FALSE(EcKey::generate().verify(kInput, ours));
}

TEST_CASE("thumbprint: SHA-256 of the sorted, spaceless JWK (RFC 7638 §3)") {
    const EcKey key = EcKey::from_jwk(kX, kY, kD);
    CHECK(key.jwk().dump() == std::string(R"({"crv":"P-256","kty":"EC","x":")") + kX + R"(","y":")" + kY + R"("})");
    // Computed independently (Python hashlib over the same canonical text).
    CHECK(key.thumbprint() == "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U");
}

TEST_CASE("keys round-trip through PEM; other key types are refused") {
    const EcKey key = EcKey::generate();
    const EcKey again = EcKey::from_pem(key.private_pem());
    CHECK(again.thumbprint() == key.thumbprint());
    CHECK_THROWS_WITH(EcKey::from_pem("junk"), Catch::Contains("not a PEM private key"));
}

TEST_CASE("sign_request: flattened JWS with jwk for newAccount, kid afterwards") {
    const EcKey key = EcKey::generate();
    const auto first =
        nlohmann::json::parse(hs::acme::sign_request(key, "https://ca/new-acct", "n1", "", R"({"a":1})"));
    const auto header = nlohmann::json::parse(b64url_decode(first["protected"].get<std::string>()));
    CHECK(header["alg"] == "ES256");
    CHECK(header["nonce"] == "n1");
    CHECK(header["url"] == "https://ca/new-acct");
    CHECK(header["jwk"] == key.jwk());
    CHECK_FALSE(header.contains("kid"));
    CHECK(b64url_decode(first["payload"].get<std::string>()) == R"({"a":1})");
    const std::string input = first["protected"].get<std::string>() + "." + first["payload"].get<std::string>();
    CHECK(key.verify(input, b64url_decode(first["signature"].get<std::string>())));

    const auto get =
        nlohmann::json::parse(hs::acme::sign_request(key, "https://ca/authz/1", "n2", "https://ca/acct/7", ""));
    const auto h2 = nlohmann::json::parse(b64url_decode(get["protected"].get<std::string>()));
    CHECK(h2["kid"] == "https://ca/acct/7");
    CHECK_FALSE(h2.contains("jwk"));
    CHECK(get["payload"] == "");  // POST-as-GET (RFC 8555 §6.3)
}
