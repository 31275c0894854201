#include <catch2/catch.hpp>

#include "common/store/db.h"
#include "common/store/store.h"
#include "tests/unit/temp_dir.h"

using namespace hs;
using hs::test::TempDir;

TEST_CASE("OIDC users are found by provider identifier and refreshed at each login") {
    TempDir t;
    Db db(t.file("hs.db"));
    store::create_user(db, "alice");  // a local user of the same name stays apart
    User u;
    u.provider_identifier = "https://id.example.com/a1";
    u.name = "alice";
    u.display_name = "Alice";
    u.email = "alice@example.com";
    const auto first = store::upsert_oidc_user(db, u);
    CHECK(first.provider == "oidc");
    CHECK(first.provider_identifier == u.provider_identifier);
    CHECK(first.groups.empty());
    u.display_name = "Alice Liddell";
    u.profile_pic_url = "https://p/a.png";
    u.groups = {"eng", "vpn"};
    const auto again = store::upsert_oidc_user(db, u);
    CHECK(again.id == first.id);
    CHECK(again.groups == std::vector<std::string>{"eng", "vpn"});
    CHECK(again.display_name == "Alice Liddell");
    CHECK(again.profile_pic_url == "https://p/a.png");
    u.provider_identifier = "https://id.example.com/a2";  // another person, same name
    CHECK(store::upsert_oidc_user(db, u).id != first.id);
    CHECK(store::list_users(db).size() == 3);
    u.name = "1bad";
    CHECK_THROWS_AS(store::upsert_oidc_user(db, u), store::StoreError);
    u.name = "carol";
    u.provider_identifier.reset();
    CHECK_THROWS_AS(store::upsert_oidc_user(db, u), store::StoreError);
}
