// Built-in accounts' secrets (schema 8): one row per user, codes used once, gone with the user.
#include <catch2/catch.hpp>

#include "common/store/credentials.h"
#include "common/store/store.h"

using namespace hs;
using namespace hs::store;

TEST_CASE("local credentials: password, TOTP step and recovery codes") {
    Db db(":memory:");
    const auto u = create_user(db, "alice");
    CHECK_FALSE(find_credentials(db, u.id));
    const auto now = Clock::now();
    set_password_hash(db, u.id, "$argon2id$x", now);
    auto c = find_credentials(db, u.id);
    REQUIRE(c);
    CHECK(c->password_hash == "$argon2id$x");
    CHECK(c->password_changed_at);
    CHECK(c->totp_secret.empty());

    set_totp(db, u.id, "GEZDGNBV", {"h1", "h2"});
    c = find_credentials(db, u.id);
    CHECK(c->totp_secret == "GEZDGNBV");
    CHECK(c->recovery_codes_left == 2);
    CHECK(c->password_hash == "$argon2id$x");  // enrolling keeps the password

    CHECK(use_totp_step(db, u.id, 100));
    CHECK_FALSE(use_totp_step(db, u.id, 100));  // replay
    CHECK_FALSE(use_totp_step(db, u.id, 99));
    CHECK(use_totp_step(db, u.id, 101));

    CHECK(use_recovery_code(db, u.id, "h1", now));
    CHECK_FALSE(use_recovery_code(db, u.id, "h1", now));
    CHECK_FALSE(use_recovery_code(db, u.id, "nope", now));
    CHECK(find_credentials(db, u.id)->recovery_codes_left == 1);

    CHECK(clear_totp(db, u.id));
    CHECK_FALSE(clear_totp(db, u.id));
    c = find_credentials(db, u.id);
    CHECK(c->totp_secret.empty());
    CHECK(c->recovery_codes_left == 0);

    delete_user(db, u.id);
    CHECK_FALSE(find_credentials(db, u.id));
}
