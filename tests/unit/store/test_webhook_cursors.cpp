#include <catch2/catch.hpp>

#include "common/base/timeutil.h"
#include "common/store/db.h"
#include "common/store/store.h"
#include "tests/unit/temp_dir.h"

using namespace hs;
using namespace std::chrono_literals;
using hs::test::TempDir;

TEST_CASE("webhook cursors: absent until saved, then as saved, per URL, across a reopen") {
    TempDir t;
    const auto path = t.file("hs.db");
    const auto now = Clock::now();
    {
        Db db(path);
        CHECK_FALSE(store::find_webhook_cursor(db, "https://a/"));
        store::save_webhook_cursor(db, "https://a/", {.last_id = 7, .done_in_next = 1}, now);
        store::save_webhook_cursor(db, "https://b/", {.last_id = 3}, now);
        store::save_webhook_cursor(db, "https://a/",
                                   {.last_id = 9, .done_in_next = 0, .attempts = 4, .failing_since = now - 1h}, now);
    }
    Db db(path);
    const auto a = store::find_webhook_cursor(db, "https://a/");
    REQUIRE(a);
    CHECK(a->last_id == 9);
    CHECK(a->done_in_next == 0);
    CHECK(a->attempts == 4);
    REQUIRE(a->failing_since);
    CHECK(format_time(*a->failing_since) == format_time(now - 1h));
    REQUIRE(store::find_webhook_cursor(db, "https://b/"));
    CHECK(store::find_webhook_cursor(db, "https://b/")->last_id == 3);
    CHECK_FALSE(store::find_webhook_cursor(db, "https://b/")->failing_since);
}

TEST_CASE("audit history: the last N rows with a literal action prefix up to an id, oldest first") {
    Db db(":memory:");
    CHECK(store::last_audit_id(db) == 0);
    const auto now = Clock::now();
    for (const char* a : {"signin.failed", "users.create", "signin.succeeded", "signin_x", "signin.locked"})
        store::append_audit(db, {.at = now, .actor = "x", .action = a});
    CHECK(store::last_audit_id(db) == 5);
    auto h = store::audit_history(db, "signin.", 5, 100);
    REQUIRE(h.size() == 3);
    CHECK(h[0].id == 1);
    CHECK(h[2].action == "signin.locked");
    h = store::audit_history(db, "signin.", 4, 1);  // the newest one up to id 4
    REQUIRE(h.size() == 1);
    CHECK(h[0].id == 3);
}
