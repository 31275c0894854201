// hs-control's attempt limiter on a temporary database: throttling, lockouts that survive a new
// guard (a restart) and end with an unlock from another connection, audit rows, metrics, and
// the REST API's answers under it (no sockets).
#include <catch2/catch.hpp>

#include "common/admin/ops.h"
#include "common/admin/signin.h"
#include "tests/unit/temp_dir.h"
#include "tools/hs-control/api.h"
#include "tools/hs-control/login_guard.h"

using namespace hs;
using Catch::Contains;
using control::LoginGuard;

namespace {

struct GuardFixture {
    test::TempDir dir;
    std::unique_ptr<Db> db = std::make_unique<Db>(dir.file("db.sqlite"));
    Config cfg;
    int audit_count(const std::string& action) {
        int n = 0;
        for (const auto& e : store::list_audit(*db, TimePoint{})) n += e.action == action;
        return n;
    }
};

const TimePoint t0 = parse_time("2026-12-01T10:00:00Z").value();

}  // namespace

TEST_CASE("login guard: 20 failures from a source pass, the 21st waits about a second") {
    GuardFixture f;
    LoginGuard g(*f.db);
    for (int i = 0; i < 20; ++i) {
        REQUIRE_FALSE(g.throttled(LoginGuard::Kind::PreAuthKey, "127.0.0.2:4000", t0));
        g.failed(LoginGuard::Kind::PreAuthKey, "127.0.0.2:4000", "", "unknown key", t0);
    }
    const auto wait = g.throttled(LoginGuard::Kind::PreAuthKey, "127.0.0.2:4001", t0);
    REQUIRE(wait);
    CHECK(wait->count() == 1);
    // Another address is untouched, and the source refills at one a second.
    CHECK_FALSE(g.throttled(LoginGuard::Kind::PreAuthKey, "127.0.0.3:4000", t0));
    CHECK_FALSE(g.throttled(LoginGuard::Kind::PreAuthKey, "127.0.0.2:4000", t0 + std::chrono::seconds(1)));
    CHECK(f.audit_count("signin.failed") == 20);
    const auto m = g.metrics_text(t0);
    CHECK_THAT(m, Contains("hs_control_signin_failures_total{kind=\"preauth_key\"} 20"));
    CHECK_THAT(m, Contains("hs_control_signin_throttled_total{kind=\"preauth_key\"} 1"));
}

TEST_CASE("login guard: 5 wrong secrets lock the key, the lock is stored, a new guard keeps it, unlock ends it") {
    GuardFixture f;
    const auto key = admin::lock_key_preauth("abcdefabcdef");
    {
        LoginGuard g(*f.db);
        for (int i = 0; i < 5; ++i) g.failed(LoginGuard::Kind::PreAuthKey, "127.0.0.2:1", key, "wrong key", t0);
        const auto until = g.locked(key, t0);
        REQUIRE(until);
        CHECK(*until == t0 + std::chrono::minutes(15));
        CHECK(f.audit_count("signin.locked") == 1);
        CHECK_THAT(g.metrics_text(t0), Contains("hs_control_signin_locked 1"));
        CHECK_THAT(g.metrics_text(t0), Contains("hs_control_signin_lockouts_total{kind=\"preauth_key\"} 1"));
    }
    // A restart: a new guard reads the row.
    LoginGuard g(*f.db);
    CHECK(g.locked(key, t0 + std::chrono::minutes(14)));
    CHECK_FALSE(g.locked(key, t0 + std::chrono::minutes(16)));
    // Unlocked through another connection, as hs-admin on the file does.
    {
        Db other(f.dir.file("db.sqlite"));
        admin::Env env{other, f.cfg, t0};
        env.actor = "unix:test";
        const auto r = admin::run_op("preauthkeys.unlock", {{"prefix", "hskey-auth-abcdefabcdef-***"}}, env);
        CHECK(r["was_locked"] == true);
    }
    CHECK_FALSE(g.locked(key, t0 + std::chrono::minutes(1)));
    CHECK(f.audit_count("signin.unlocked") == 1);
    // After the unlock the history is gone: the next lock is 15 minutes again, not 30.
    for (int i = 0; i < 5; ++i) g.failed(LoginGuard::Kind::PreAuthKey, "127.0.0.2:1", key, "wrong key", t0);
    CHECK(*g.locked(key, t0) == t0 + std::chrono::minutes(15));
}

TEST_CASE("login guard: auth.limits sets the burst, the refill, the failures that lock and the lock's length") {
    GuardFixture f;
    f.cfg.limits.source_burst = 3;
    f.cfg.limits.source_refill = std::chrono::seconds(10);
    f.cfg.limits.failures = 2;
    f.cfg.limits.lockout = std::chrono::hours(1);
    LoginGuard g(*f.db, control::throttle_config(f.cfg.limits));
    const auto key = admin::lock_key_user("alice");
    for (int i = 0; i < 3; ++i) g.failed(LoginGuard::Kind::Password, "127.0.0.2:1", key, "wrong password", t0);
    const auto wait = g.throttled(LoginGuard::Kind::Password, "127.0.0.2:1", t0);
    REQUIRE(wait);
    CHECK(wait->count() == 10);
    // Locked at the second failure, for an hour.
    CHECK(*g.locked(key, t0) == t0 + std::chrono::hours(1));
    CHECK(f.audit_count("signin.locked") == 1);
}

TEST_CASE("login guard: an account's rows name the user with its ID; locked answers cost the source") {
    GuardFixture f;
    const auto u = store::create_user(*f.db, "alice");
    LoginGuard g(*f.db);
    const auto key = admin::lock_key_user("alice");
    for (int i = 0; i < 5; ++i) g.failed(LoginGuard::Kind::Password, "127.0.0.2:1", key, "wrong code", t0, "totp");
    REQUIRE(g.locked(key, t0));
    // 5 failures and 15 locked answers empty the source's bucket of 20: the 21st waits.
    for (int i = 0; i < 15; ++i) {
        REQUIRE_FALSE(g.throttled(LoginGuard::Kind::Password, "127.0.0.2:1", t0));
        g.refused_locked(LoginGuard::Kind::Password, "127.0.0.2:1", key, t0);
    }
    CHECK(g.throttled(LoginGuard::Kind::Password, "127.0.0.2:1", t0));
    for (int i = 0; i < 35; ++i) g.refused_locked(LoginGuard::Kind::Password, "127.0.0.3:1", key, t0);
    const auto rows = store::list_audit(*f.db, TimePoint{});
    const auto object = "user " + std::to_string(u.id) + " (alice)";
    int locked_rows = 0, totp_rows = 0;
    for (const auto& e : rows) {
        CHECK(e.object == object);
        locked_rows += e.after.value_or("").find("\"locked\"") != std::string::npos;
        totp_rows += e.after.value_or("").find("\"totp\"") != std::string::npos;
    }
    CHECK(locked_rows == 50);
    CHECK(totp_rows == 5);
    CHECK_THAT(g.metrics_text(t0), Contains("hs_control_signin_failures_total{kind=\"password\"} 55"));
}

TEST_CASE("login guard: a second lockout doubles; success resets the count and writes signin.succeeded") {
    GuardFixture f;
    LoginGuard g(*f.db);
    const auto key = admin::lock_key_preauth("p");
    for (int i = 0; i < 5; ++i) g.failed(LoginGuard::Kind::PreAuthKey, "10.0.0.1:1", key, "wrong key", t0);
    const auto later = t0 + std::chrono::minutes(20);
    for (int i = 0; i < 5; ++i) g.failed(LoginGuard::Kind::PreAuthKey, "10.0.0.1:1", key, "wrong key", later);
    CHECK(*g.locked(key, later) == later + std::chrono::minutes(30));
    const auto after = later + std::chrono::minutes(31);
    g.failed(LoginGuard::Kind::PreAuthKey, "10.0.0.1:1", key, "wrong key", after);
    g.succeeded(LoginGuard::Kind::PreAuthKey, "10.0.0.9:1", key, "preauthkey:p", "pre-auth key 1", after);
    CHECK(store::find_signin_lock(*f.db, key)->failures == 0);
    const auto rows = store::list_audit(*f.db, TimePoint{});
    REQUIRE(rows.back().action == "signin.succeeded");
    CHECK(rows.back().actor == "preauthkey:p");
    CHECK(rows.back().source == "10.0.0.9");
    CHECK_THAT(*rows.back().after, Contains("\"network\":\"10.0.0.0/24\""));
}

TEST_CASE("login guard: the REST API answers 429 with Retry-After, 401 for a locked key even when correct") {
    GuardFixture f;
    LoginGuard g(*f.db);
    const auto good = store::create_api_key(*f.db, std::nullopt);
    const auto prefix = good.key.prefix;
    const std::string wrong = "Bearer hskey-api-" + prefix + "-" + std::string(64, 'a');
    const auto call = [&](const std::string& auth, const std::string& peer) {
        return control::handle_api(*f.db, f.cfg, "GET", "/api/hs/v1/user", auth, "", t0, peer, &g);
    };
    for (int i = 0; i < 5; ++i) CHECK(call(wrong, "127.0.0.2:9").status == 401);
    // Locked: the right key from another address is refused too, and says so.
    const auto locked = call("Bearer " + good.secret, "127.0.0.3:9");
    CHECK(locked.status == 401);
    CHECK_THAT(locked.body, Contains("locked"));
    // The headscale-compatible API answers as headscale does.
    CHECK(control::handle_api(*f.db, f.cfg, "GET", "/api/v1/user", "Bearer " + good.secret, "", t0, "127.0.0.3:9", &g)
              .body == "Unauthorized");
    // Unknown keys from one source: after the burst, 429 with a wait, before any lookup.
    control::ApiReply last;
    for (int i = 0; i < 30 && last.status != 429; ++i) last = call("Bearer nope", "127.0.0.2:9");
    CHECK(last.status == 429);
    CHECK(last.retry_after >= 1);
    {
        admin::Env env{*f.db, f.cfg, t0};
        admin::run_op("apikeys.unlock", {{"prefix", prefix}}, env);
    }
    CHECK(call("Bearer " + good.secret, "127.0.0.3:9").status == 200);
    // The unlock forgot the failures: that success was not one after failures. This one is.
    CHECK(f.audit_count("signin.succeeded") == 0);
    CHECK(call(wrong, "127.0.0.4:9").status == 401);
    CHECK(call("Bearer " + good.secret, "127.0.0.4:9").status == 200);
    CHECK(f.audit_count("signin.succeeded") == 1);
    CHECK(call("Bearer " + good.secret, "127.0.0.4:9").status == 200);
    CHECK(f.audit_count("signin.succeeded") == 1);
}

TEST_CASE("login guard: an unknown registration ID at an approval endpoint costs the source") {
    GuardFixture f;
    LoginGuard g(*f.db);
    const auto key = store::create_api_key(*f.db, std::nullopt).secret;
    store::create_user(*f.db, "alice");
    const auto r = control::handle_api(*f.db, f.cfg, "POST", "/api/hs/v1/auth/approve", "Bearer " + key,
                                       R"({"auth_id":"nosuchid"})", t0, "127.0.0.2:1", &g);
    CHECK(r.status == 404);
    CHECK_THAT(g.metrics_text(t0), Contains("hs_control_signin_failures_total{kind=\"registration_id\"} 1"));
}
