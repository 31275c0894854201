// hs-control when the file is busy or a request is malformed (issue 19): nothing is half-done,
// what may wait is kept and written later, and a bad field is named instead of thrown.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include "common/store/store.h"
#include "tests/unit/hs-control/tailnet_fixture.h"
#include "tools/hs-control/request_check.h"
#include "tools/hs-control/source_limits.h"
#include "tools/hs-control/tailnet.h"

using namespace hs;
using namespace hs::control;
using hs::test::Client;
using hs::test::derp_map;
using hs::test::Sink;
using hs::test::TempDb;
using hs::test::test_config;
using nlohmann::json;

namespace {

// Another process's write transaction on the file, held while the object lives.
struct WriteLock {
    sqlite3* db = nullptr;
    explicit WriteLock(const std::string& path) {
        REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    }
    ~WriteLock() {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        sqlite3_close(db);
    }
};

std::int64_t count(Db& db, const char* sql) {
    auto st = db.prepare(sql);
    st.step();
    return st.int64(0);
}

// A tailnet with user alice and a pre-auth key, whose writes wait 20 ms for a busy file.
struct BusyTailnet {
    TempDb t;
    User user = store::create_user(*t.db, "alice");
    store::NewPreAuthKey key;
    std::unique_ptr<Tailnet> owned;
    Tailnet& tn;
    explicit BusyTailnet(bool reusable)
        : key(store::create_preauth_key(*t.db, user.id, reusable, false, std::nullopt, {})), owned(loaded(*t.db)),
          tn(*owned) {}
    static std::unique_ptr<Tailnet> loaded(Db& db) {
        db.set_busy_timeout(std::chrono::milliseconds(20));
        auto tn = std::make_unique<Tailnet>(db, test_config(), derp_map());
        tn->load();
        return tn;
    }
};
struct SingleUseKey : BusyTailnet {
    SingleUseKey() : BusyTailnet(false) {}
};
struct ReusableKey : BusyTailnet {
    ReusableKey() : BusyTailnet(true) {}
};

}  // namespace

TEST_CASE("request fields of the wrong type are named, nulls are absent") {
    json ok = {{"Version", 142}, {"NodeKey", "nodekey:00"}, {"Hostinfo", nullptr}, {"Endpoints", nullptr}};
    CHECK_FALSE(normalize_request(ok));
    CHECK_FALSE(ok.contains("Hostinfo"));
    CHECK_FALSE(ok.contains("Endpoints"));

    json version = {{"Version", "142"}};
    CHECK(normalize_request(version) == "field Version must be a number");
    json stream = {{"Version", 142}, {"Stream", "yes"}};
    CHECK(normalize_request(stream) == "field Stream must be true or false");
    json fraction = {{"Version", 1.5}};
    CHECK(normalize_request(fraction) == "field Version must be a capability version number");
    json auth = {{"Auth", {{"AuthKey", 7}}}};
    CHECK(normalize_request(auth) == "field Auth.AuthKey must be a string");
    json host = {{"Hostinfo", {{"Hostname", json::array()}}}};
    CHECK(normalize_request(host) == "field Hostinfo.Hostname must be a string");
    json not_object = json::array();
    CHECK(normalize_request(not_object));
}

TEST_CASE_METHOD(SingleUseKey,
                 "a registration while another process holds the write lock changes nothing and can be retried") {
    const auto now = Clock::now();
    Client a;
    {
        WriteLock lock(t.path());
        CHECK_THROWS_AS(tn.register_node(a.machine, a.request("alpha", key.secret), now), DbBusy);
        CHECK(tn.node_count() == 0);
    }
    CHECK(count(*t.db, "SELECT count(*) FROM nodes") == 0);
    CHECK(count(*t.db, "SELECT used FROM pre_auth_keys") == 0);  // the single-use key is not spent
    const auto r = tn.register_node(a.machine, a.request("alpha", key.secret), now);
    CHECK_FALSE(r.body.contains("Error"));
    CHECK(tn.node_count() == 1);
    CHECK(count(*t.db, "SELECT used FROM pre_auth_keys") == 1);
}

TEST_CASE_METHOD(ReusableKey, "writes refused in the pause after a busy lock say busy, and do not extend the pause") {
    const auto now = Clock::now();
    Client a, b;
    {
        WriteLock lock(t.path());
        try {
            tn.register_node(a.machine, a.request("alpha", key.secret), now);
            FAIL("registered under another process's write lock");
        } catch (const DbBusy& e) {
            tn.note_db_failure(now, e);  // as NoiseConn does before it tries again
        }
    }
    // The lock is gone, but writes pause for a second; a registration in it is refused as busy
    // (so NoiseConn holds it) without waiting on the file, and moves the pause no later.
    for (const auto ms : {300, 600, 900}) {
        const auto at = now + std::chrono::milliseconds(ms);
        try {
            tn.register_node(b.machine, b.request("beta", key.secret), at);
            FAIL("registered during the pause");
        } catch (const DbBusy& e) {
            CHECK(std::string(e.what()).find("not trying again yet") != std::string::npos);
            tn.note_db_failure(at, e);
        }
    }
    const auto after = now + std::chrono::milliseconds(1001);
    CHECK(tn.may_write(after));
    CHECK_FALSE(tn.register_node(b.machine, b.request("beta", key.secret), after).body.contains("Error"));
    CHECK(tn.db_write_failures() == 4);
}

TEST_CASE_METHOD(ReusableKey, "what a client reports while the file is locked reaches peers now and the file later") {
    const auto now = Clock::now();
    Client a, b;
    tn.register_node(a.machine, a.request("alpha", key.secret), now);
    tn.register_node(b.machine, b.request("beta", key.secret), now);
    auto ma = tn.map_request(a.machine, a.map(true), now);
    Sink sa;
    tn.attach(ma.node_id, &sa, now);
    tn.flush(now);
    sa.got.clear();
    {
        WriteLock lock(t.path());
        auto report = b.map(false);
        report["OmitPeers"] = true;
        report["Hostinfo"]["Hostname"] = "renamed";
        const auto r = tn.map_request(b.machine, report, now);
        CHECK(r.status == 200);
        tn.flush(now);
        REQUIRE_FALSE(sa.got.empty());  // the peer heard of it although nothing was written
        CHECK(tn.db_write_problem(now));
        CHECK_FALSE(tn.may_write(now));  // no second wait on the lock within the next second
        tn.retry_unsaved(now);
        CHECK_THROWS_AS(tn.retry_unsaved(now + std::chrono::seconds(2)), DbError);
    }
    CHECK(count(*t.db, "SELECT count(*) FROM nodes WHERE hostname = 'renamed'") == 0);
    // An admin edits the node meanwhile: reading it back must not lose the unsaved report.
    {
        Db admin(t.path());
        store::set_node_given_name(admin, count(admin, "SELECT id FROM nodes WHERE given_name = 'beta'"), "bee");
    }
    tn.sync_from_db(now);
    const auto later = now + std::chrono::seconds(4);
    tn.retry_unsaved(later);
    CHECK(count(*t.db, "SELECT count(*) FROM nodes WHERE hostname = 'renamed' AND given_name = 'bee'") == 1);
    CHECK_FALSE(tn.db_write_problem(later));
}

TEST_CASE("interactive logins are bounded per source and reuse the open one") {
    TempDb t;
    Tailnet tn(*t.db, test_config(), derp_map());
    tn.load();
    const auto now = Clock::now();
    Client same;
    const auto first = tn.register_node(same.machine, same.request("x", ""), now, "192.0.2.1");
    const auto again = tn.register_node(same.machine, same.request("x", ""), now, "192.0.2.1");
    REQUIRE(first.body.contains("AuthURL"));
    CHECK(again.body["AuthURL"] == first.body["AuthURL"]);
    int urls = 1, refused = 0;
    for (int i = 0; i < 40; ++i) {
        Client c;
        const auto r = tn.register_node(c.machine, c.request("x", ""), now, "192.0.2.1");
        if (r.body.contains("AuthURL")) ++urls;
        else if (r.body.value("Error", "").find("try again") != std::string::npos) ++refused;
    }
    CHECK(urls == 16);
    CHECK(refused == 25);
    CHECK(count(*t.db, "SELECT count(*) FROM auth_requests") == 16);
    Client other;
    CHECK(tn.register_node(other.machine, other.request("x", ""), now, "192.0.2.2").body.contains("AuthURL"));
}

TEST_CASE("per-source limits count an IPv4 address, an IPv6 /64, and a mapped IPv4 as IPv4") {
    CHECK(source_of("192.0.2.7:41641") == "192.0.2.7");
    CHECK(source_of("2001:db8:1:2:aaaa:bbbb:cccc:dddd:443") == "2001:db8:1:2::/64");
    CHECK(source_of("2001:db8:1:2::9:443") == source_of("2001:db8:1:2:ffff::1:80"));
    CHECK(source_of("::ffff:192.0.2.7:80") == "192.0.2.7");
    CHECK(source_of("not-an-address:1") == "not-an-address");
    SourceLimits limits(2, 3);
    CHECK(limits.admit("a"));
    CHECK(limits.admit("a"));
    CHECK_FALSE(limits.admit("a"));
    CHECK(limits.admit("b"));
    CHECK_FALSE(limits.admit("c"));  // the total is full
    limits.release("a");
    CHECK(limits.admit("c"));
    limits.release("unknown");  // a release without an admit changes nothing
    CHECK(limits.total() == 3);
}

TEST_CASE("a source may exceed its share only while the server is quiet") {
    SourceLimits limits(2, 10, 4);
    for (int i = 0; i < 4; ++i) CHECK(limits.admit("office"));  // 4 < burst: past its share of 2
    CHECK_FALSE(limits.admit("office"));                        // the burst allowance is used
    CHECK(limits.admit("b"));                                   // every other source keeps its share
    CHECK(limits.admit("b"));
    CHECK_FALSE(limits.admit("b"));
    for (int i = 0; i < 3; ++i) limits.release("office");
    CHECK(limits.total() == 3);
    CHECK(limits.admit("b"));  // quiet again: b may burst too
}
