#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/base/timeutil.h"
#include "common/store/checkpointer.h"
#include "common/store/db.h"
#include "common/store/store.h"
#include "tests/unit/temp_dir.h"

using namespace hs;
using Catch::Contains;
using hs::test::TempDir;

namespace {

std::string file_bytes(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("a new database is created and migrated to the current version") {
    TempDir t;
    Db db(t.file("sub/dir/hs.db"));
    CHECK(db.schema_version() == Db::kSchemaVersion);
    auto st = db.prepare("PRAGMA journal_mode");
    st.step();
    CHECK(st.text(0) == "wal");
    auto fk = db.prepare("PRAGMA foreign_keys");
    fk.step();
    CHECK(fk.int64(0) == 1);
    for (const char* table : {"users", "nodes", "pre_auth_keys", "api_keys", "policies", "change_log"}) {
        auto q = db.prepare("SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?");
        q.bind(1, table).step();
        CHECK(q.int64(0) == 1);
    }
}

TEST_CASE("migration from the previous schema version keeps data") {
    TempDir t;
    const auto path = t.file("hs.db");
    {
        // Build a version-1 file by hand: only the first migration's tables.
        Db db(path);
        db.exec("DROP TABLE change_log");
        for (const char* trig : {"users_ins", "users_upd", "users_del", "nodes_ins", "nodes_upd", "nodes_del",
                                 "pre_auth_keys_upd", "pre_auth_keys_del", "policies_ins"})
            db.exec(std::string("DROP TRIGGER ") + trig);
        db.exec("DROP TABLE auth_requests");
        db.exec("ALTER TABLE nodes DROP COLUMN online");
        db.exec("ALTER TABLE nodes DROP COLUMN ephemeral");
        db.exec("ALTER TABLE nodes DROP COLUMN primary_routes");
        db.exec("ALTER TABLE nodes DROP COLUMN approved");
        db.exec("DROP TABLE audit_log");
        db.exec("DROP TABLE webhook_cursors");
        db.exec("DROP TABLE control_instances");
        db.exec("DROP TABLE signin_locks");
        db.exec("DROP TABLE recovery_codes");
        db.exec("DROP TABLE local_credentials");
        db.exec("ALTER TABLE users DROP COLUMN oidc_groups");
        db.exec("PRAGMA user_version = 1");
        db.exec("INSERT INTO users(name, created_at, updated_at) VALUES ('alice', 'x', 'x')");
    }
    Db db(path);
    CHECK(db.schema_version() == Db::kSchemaVersion);
    auto q = db.prepare("SELECT name FROM users");
    REQUIRE(q.step());
    CHECK(q.text(0) == "alice");
    db.exec("UPDATE users SET display_name = 'Alice'");
    auto log = db.prepare("SELECT tbl, op FROM change_log");
    REQUIRE(log.step());
    CHECK(log.text(0) == "users");
    CHECK(log.text(1) == "update");
}

TEST_CASE("migration from an older schema version (2 -> current)") {
    TempDir t;
    const auto path = t.file("hs.db");
    {
        Db db(path);
        db.exec("DROP TABLE auth_requests");
        db.exec("ALTER TABLE nodes DROP COLUMN online");
        db.exec("ALTER TABLE nodes DROP COLUMN ephemeral");
        db.exec("ALTER TABLE nodes DROP COLUMN primary_routes");
        db.exec("ALTER TABLE nodes DROP COLUMN approved");
        db.exec("DROP TABLE audit_log");
        db.exec("DROP TABLE webhook_cursors");
        db.exec("DROP TABLE control_instances");
        db.exec("DROP TABLE signin_locks");
        db.exec("DROP TABLE recovery_codes");
        db.exec("DROP TABLE local_credentials");
        db.exec("ALTER TABLE users DROP COLUMN oidc_groups");
        db.exec("PRAGMA user_version = 2");
        db.exec("INSERT INTO users(id, name, created_at, updated_at) VALUES (1, 'alice', 'x', 'x')");
        db.exec(
            "INSERT INTO nodes(machine_key, node_key, given_name, user_id, created_at, updated_at) "
            "VALUES ('mkey:1', 'nodekey:1', 'n1', 1, 'x', 'x')");
    }
    Db db(path);
    CHECK(db.schema_version() == Db::kSchemaVersion);
    auto q = db.prepare("SELECT given_name, online FROM nodes");
    REQUIRE(q.step());
    CHECK(q.text(0) == "n1");
    CHECK(q.int64(1) == 0);
    db.exec(
        "INSERT INTO auth_requests(id, machine_key, node_key, created_at, expires_at) VALUES ('a', 'm', 'n', 'x', "
        "'y')");
}

TEST_CASE("migration from the previous schema version (3 -> 4): nodes get primary_routes") {
    TempDir t;
    const auto path = t.file("hs.db");
    {
        Db db(path);
        db.exec("ALTER TABLE nodes DROP COLUMN primary_routes");
        db.exec("ALTER TABLE nodes DROP COLUMN approved");
        db.exec("ALTER TABLE auth_requests DROP COLUMN method");
        db.exec("DROP TABLE audit_log");
        db.exec("DROP TABLE webhook_cursors");
        db.exec("DROP TABLE control_instances");
        db.exec("DROP TABLE signin_locks");
        db.exec("DROP TABLE recovery_codes");
        db.exec("DROP TABLE local_credentials");
        db.exec("ALTER TABLE users DROP COLUMN oidc_groups");
        db.exec("PRAGMA user_version = 3");
        db.exec("INSERT INTO users(id, name, created_at, updated_at) VALUES (1, 'alice', 'x', 'x')");
        db.exec(
            "INSERT INTO nodes(machine_key, node_key, given_name, user_id, created_at, updated_at) "
            "VALUES ('mkey:1', 'nodekey:1', 'n1', 1, 'x', 'x')");
    }
    Db db(path);
    CHECK(db.schema_version() == Db::kSchemaVersion);
    auto q = db.prepare("SELECT given_name, primary_routes, approved FROM nodes");
    REQUIRE(q.step());
    CHECK(q.text(0) == "n1");
    CHECK(q.text(1) == "[]");
    CHECK(q.int64(2) == 1);  // version 10: nodes from before auth.device_approval stay approved
}

TEST_CASE("a database from a newer schema version is refused untouched") {
    TempDir t;
    const auto path = t.file("hs.db");
    {
        Db db(path);
        db.exec("PRAGMA user_version = 99");
    }
    const auto before = file_bytes(path);
    CHECK_THROWS_WITH(Db(path), Contains("schema version 99 is newer") && Contains("not modified"));
    CHECK(file_bytes(path) == before);
}

TEST_CASE("a foreign SQLite file (e.g. headscale's) is refused untouched") {
    TempDir t;
    const auto path = t.file("headscale.sqlite");
    {
        sqlite3* raw = nullptr;
        sqlite3_open(path.c_str(), &raw);
        sqlite3_exec(raw, "CREATE TABLE migrations(id TEXT PRIMARY KEY)", nullptr, nullptr, nullptr);
        sqlite3_close(raw);
    }
    const auto before = file_bytes(path);
    CHECK_THROWS_WITH(Db(path), Contains("not an hs database"));
    CHECK(file_bytes(path) == before);
}

TEST_CASE("unreadable or invalid database paths give clear errors") {
    TempDir t;
    CHECK_THROWS_WITH(Db("/proc/hs-cannot-exist/x.db"), Contains("/proc/hs-cannot-exist/x.db"));
    const auto junk = t.file("junk.db");
    std::ofstream(junk) << std::string(4096, 'x');
    CHECK_THROWS_WITH(Db(junk), Contains("junk.db") && Contains("not a database"));
    std::filesystem::create_directory(t.file("adir"));
    CHECK_THROWS_WITH(Db(t.file("adir")), Contains("adir"));
}

TEST_CASE("read-only open needs a migrated file and does not write") {
    TempDir t;
    const auto path = t.file("hs.db");
    CHECK_THROWS_AS(Db(path, Db::Options{.read_only = true}), DbError);
    { Db db(path); }
    Db ro(path, Db::Options{.read_only = true});
    CHECK(ro.schema_version() == Db::kSchemaVersion);
    CHECK_THROWS_AS(ro.exec("INSERT INTO users(name, created_at, updated_at) VALUES ('x','x','x')"), DbError);
}

TEST_CASE("data_version tells a reader that another connection wrote") {
    TempDir t;
    const auto path = t.file("hs.db");
    Db writer(path);
    Db reader(path);
    const auto v0 = reader.data_version();
    CHECK(reader.data_version() == v0);
    writer.exec("INSERT INTO users(name, created_at, updated_at) VALUES ('bob', 'x', 'x')");
    CHECK(reader.data_version() != v0);
    // The change log names the row that changed.
    auto q = reader.prepare("SELECT tbl, row_id, op FROM change_log ORDER BY seq DESC LIMIT 1");
    REQUIRE(q.step());
    CHECK(q.text(0) == "users");
    CHECK(q.text(2) == "insert");
}

TEST_CASE("foreign keys: a user with nodes cannot be deleted") {
    TempDir t;
    Db db(t.file("hs.db"));
    db.exec("INSERT INTO users(id, name, created_at, updated_at) VALUES (1, 'alice', 'x', 'x')");
    db.exec(
        "INSERT INTO nodes(machine_key, node_key, given_name, user_id, created_at, updated_at) "
        "VALUES ('mkey:1', 'nodekey:1', 'n1', 1, 'x', 'x')");
    CHECK_THROWS_AS(db.exec("DELETE FROM users WHERE id = 1"), DbError);
}

TEST_CASE("transactions roll back unless committed") {
    TempDir t;
    Db db(t.file("hs.db"));
    {
        Db::Tx tx(db);
        db.exec("INSERT INTO users(name, created_at, updated_at) VALUES ('carol', 'x', 'x')");
    }
    auto q = db.prepare("SELECT count(*) FROM users");
    q.step();
    CHECK(q.int64(0) == 0);
}

TEST_CASE("RFC 3339 times round trip; Go's zero time clamps instead of overflowing") {
    const auto t = parse_time("2026-11-23T12:34:56.5Z");
    REQUIRE(t);
    CHECK(format_time(*t, true) == "2026-11-23T12:34:56.5Z");
    CHECK(format_time(*t) == "2026-11-23T12:34:56Z");
    CHECK(parse_time("2026-11-23T14:34:56+02:00") == parse_time("2026-11-23T12:34:56Z"));
    CHECK(parse_time("0001-01-01T00:00:00Z") == TimePoint::min());
    CHECK(parse_time("9999-12-31T23:59:59Z") == TimePoint::max());
    CHECK(parse_time("1970-01-01T00:02:03Z") == TimePoint{} + std::chrono::seconds(123));
    for (auto bad : {"", "2026-11-23", "2026-11-23T12:34:56", "2026-13-01T00:00:00Z", "2026-11-23T12:34:56.Z",
                     "2026-11-23 12:34:56Z", "2026-11-23T12:34:56Zjunk"})
        CHECK_FALSE(parse_time(bad));
}

TEST_CASE("checkpoints run on their own thread when the writer's connection does none") {
    char tmpl[] = "/tmp/hs-ckpt-XXXXXX";
    const std::filesystem::path dir = ::mkdtemp(tmpl);
    const auto path = (dir / "db.sqlite").string();
    {
        Db db(path);
        db.exec("PRAGMA wal_autocheckpoint = 0");
        db.exec("CREATE TABLE t(x)");
        for (int i = 0; i < 200; ++i) db.prepare("INSERT INTO t VALUES (randomblob(2000))").run();
        const auto wal = path + "-wal";
        const auto before = std::filesystem::file_size(wal);
        CHECK(before > 200 * 2000);  // nothing was copied back: the WAL holds every insert
        {
            DbCheckpointer ckpt(path, true, std::chrono::milliseconds(20));
            for (int i = 0; i < 100 && ckpt.checkpoints() == 0; ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            CHECK(ckpt.checkpoints() >= 1);
        }
        // With the thread stopped (so no checkpoint is reading the WAL), the next write starts
        // the WAL over instead of growing it.
        db.prepare("INSERT INTO t VALUES (1)").run();
        auto st = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
        st.step();
        CHECK(st.int64(1) < 10);
    }
    DbCheckpointer off(path, false);
    CHECK(off.checkpoints() == 0);
    std::filesystem::remove_all(dir);
}

TEST_CASE("audit_log: rows append in order, list by time and ID, and cannot be changed or removed") {
    TempDir t;
    Db db(t.file("hs.db"));
    const TimePoint t0 = *parse_time("2026-12-01T00:00:00Z");
    store::AuditEntry e{.at = t0,
                        .actor = "unix:alice",
                        .action = "users.create",
                        .object = "user 1 (bob)",
                        .after = "{}",
                        .source = "local"};
    CHECK(store::append_audit(db, e) == 1);
    e.at = t0 + std::chrono::hours(2);
    e.actor = "hs-control";
    CHECK(store::append_audit(db, e) == 2);
    CHECK(store::list_audit(db, t0).size() == 2);
    const auto later = store::list_audit(db, t0 + std::chrono::hours(1));
    REQUIRE(later.size() == 1);
    CHECK(later[0].actor == "hs-control");
    CHECK(later[0].at == t0 + std::chrono::hours(2));
    CHECK_FALSE(later[0].before);
    CHECK(later[0].after == "{}");
    CHECK(store::list_audit(db, t0, 1).size() == 1);
    CHECK_THROWS_AS(db.exec("UPDATE audit_log SET actor = 'x'"), DbError);
    CHECK_THROWS_AS(db.exec("DELETE FROM audit_log"), DbError);
    CHECK(store::list_audit(db, t0).size() == 2);
}
