// Built-in accounts: TOTP against RFC 6238's vectors, the password policy, argon2id hashing and
// the sign-in form's CSRF token.
#include <catch2/catch.hpp>

#include "common/auth/csrf.h"
#include "common/auth/password.h"
#include "common/auth/totp.h"

using namespace hs::auth;

TEST_CASE("TOTP matches RFC 6238 Appendix B (SHA-1, 8 digits)") {
    const std::string key = "12345678901234567890";  // the RFC's SHA-1 seed, ASCII
    const std::pair<std::int64_t, const char*> vectors[] = {{59, "94287082"},         {1111111109, "07081804"},
                                                            {1111111111, "14050471"}, {1234567890, "89005924"},
                                                            {2000000000, "69279037"}, {20000000000, "65353130"}};
    for (const auto& [t, code] : vectors) CHECK(hotp(key, totp_step(t), 8) == code);
    // Six digits are the last six of the same truncation.
    CHECK(hotp(key, totp_step(59)) == "287082");
}

TEST_CASE("RFC 4226 Appendix D HOTP values") {
    const std::string key = "12345678901234567890";
    const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                              "254676", "287922", "162583", "399871", "520489"};
    for (std::uint64_t i = 0; i < 10; ++i) CHECK(hotp(key, i) == expected[i]);
}

TEST_CASE("A TOTP code is accepted once, within one step of drift") {
    const std::string key = "12345678901234567890";
    const std::int64_t t = 1111111111;
    const auto code = hotp(key, totp_step(t));
    const auto step = totp_match(key, code, t, 0);
    REQUIRE(step);
    CHECK(*step == totp_step(t));
    CHECK_FALSE(totp_match(key, code, t, *step));   // replayed in the same step
    CHECK(totp_match(key, code, t + 30, 0));        // the next step still takes it (drift)
    CHECK_FALSE(totp_match(key, code, t + 90, 0));  // two steps later: too old
    CHECK_FALSE(totp_match(key, "000000x", t, 0));  // wrong length
    // Malformed input never matches, whatever the current code is (the NUL and the Arabic-Indic
    // digits are six bytes or characters that are not six ASCII digits).
    using namespace std::string_view_literals;
    for (const auto bad : {""sv, "12345"sv, "12a456"sv, " 12345"sv, "-12345"sv, "+12345"sv,
                           "123\0"
                           "56"sv,
                           "\xd9\xa1\xd9\xa2\xd9\xa3"sv, "0x1234"sv})
        CHECK_FALSE(totp_match(key, bad, t, 0));
    CHECK_FALSE(totp_match(key, code == "000000" ? "111111" : "000000", t, 0));
}

TEST_CASE("base32 round trip and the otpauth URI") {
    CHECK(base32_encode("foobar") == "MZXW6YTBOI");  // RFC 4648 §10 (unpadded)
    CHECK(base32_decode("mzxw 6ytb oi======") == "foobar");
    CHECK_FALSE(base32_decode("MZ1"));
    const auto uri = otpauth_uri("hs example", "alice", "12345678901234567890");
    CHECK(uri ==
          "otpauth://totp/hs%20example:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=hs%20example"
          "&algorithm=SHA1&digits=6&period=30");
}

TEST_CASE("password policy") {
    const PasswordPolicy p;
    CHECK(password_refusal("", "alice", p) == "the password is empty");
    CHECK(password_refusal(std::string(1 << 20, 'a'), "alice", p)->find("too long") != std::string::npos);
    CHECK(password_refusal("Short1!", "alice", p)->find("too short") != std::string::npos);
    CHECK(password_refusal("alllowercaseletters", "alice", p)->find("kinds of character") != std::string::npos);
    CHECK(password_refusal("Password123456!", "alice", p)->find("commonly used") != std::string::npos);
    CHECK_FALSE(password_refusal("Blue-kettle-4891", "bob", p));
    CHECK(password_refusal("!!Qwertyuiop2024", "bob", p)->find("commonly used") != std::string::npos);
    CHECK(password_refusal("my-Alice-is-long-9", "alice", p)->find("user's name") != std::string::npos);
    CHECK_FALSE(password_refusal("correct Horse battery 9", "alice", p));
    CHECK(password_refusal("Tiny9!", "alice", {.min_length = 6}) == std::nullopt);
}

TEST_CASE("reserved login names") {
    for (const char* n : {"admin", "Root", "ADMINISTRATOR", "test", "guest"}) CHECK(reserved_login_name(n));
    CHECK_FALSE(reserved_login_name("alice"));
}

TEST_CASE("argon2id hash round trip") {
    const HashCost cheap{1, 8 << 20};  // the test's time, not the real cost
    const auto h = hash_password("correct Horse battery 9", cheap);
    CHECK(h.rfind("$argon2id$v=19$m=8192,t=1,p=1$", 0) == 0);
    CHECK(verify_password("correct Horse battery 9", h));
    CHECK_FALSE(verify_password("correct horse battery 9", h));
    CHECK_FALSE(verify_password("", h));
    CHECK_FALSE(verify_password(std::string(1 << 20, 'x'), h));
    CHECK_FALSE(verify_password("anything", "not a hash"));
    CHECK(hash_password("same", cheap) != hash_password("same", cheap));  // salted
}

TEST_CASE("recovery codes: random, hashed after normalizing") {
    const auto c = new_recovery_code();
    CHECK(c.size() == 11);
    CHECK(c[5] == '-');
    CHECK(new_recovery_code() != c);
    std::string upper;
    for (char ch : c) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    CHECK(recovery_code_hash(upper) == recovery_code_hash(c));
    CHECK(recovery_code_hash(c).size() == 64);
}

TEST_CASE("CSRF token is bound to the registration and the cookie") {
    const CsrfKeys k(std::string(32, 'k'));
    const auto cookie = CsrfKeys::new_cookie();
    const auto t = k.token("reg1", cookie);
    CHECK(k.check("reg1", cookie, t));
    CHECK_FALSE(k.check("reg2", cookie, t));
    CHECK_FALSE(k.check("reg1", CsrfKeys::new_cookie(), t));
    CHECK_FALSE(k.check("reg1", "", t));
    CHECK_FALSE(k.check("reg1", cookie, ""));
    CHECK_FALSE(k.check("reg1", cookie, "not base64!"));
    CHECK_FALSE(CsrfKeys(std::string(32, 'x')).check("reg1", cookie, t));  // another server's key
}
