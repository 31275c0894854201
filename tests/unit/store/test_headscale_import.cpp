#include <libpq-fe.h>

#include <catch2/catch.hpp>
#include <cstdlib>

#include "common/base/secret_key.h"
#include "common/store/headscale_import.h"
#include "tests/unit/temp_dir.h"

using namespace hs;
using namespace hs::store;
using Catch::Contains;
using hs::test::TempDir;

namespace {

// Made by headscale v0.29.2 (`preauthkeys create`, Go's bcrypt, cost 10) for the key
// hskey-auth--TBtRxjCkz3F-m8D5m35DIeLVaZjHjfDLmQJ2E0D-Ogw-6M-BwrIRf1XEtFBS0Y62rH7ALzkmBr2D.
const std::string kBcrypt = "$2a$10$9nhc5/kFSURUmW0LfolGiOsBAT6oHgcr5XQPxHjrIzrSKPm03Y5fS";
const std::string kPrefix = "-TBtRxjCkz3F";
const std::string kSecret = "m8D5m35DIeLVaZjHjfDLmQJ2E0D-Ogw-6M-BwrIRf1XEtFBS0Y62rH7ALzkmBr2D";
const std::string kLegacyKey = "0123456789abcdef0123456789abcdef0123456789abcdef";

std::string hexkey(const char* prefix, char c) { return prefix + std::string(64, c); }

// A headscale 0.25 file: routes table, forced_tags, a plaintext key, auth_key_id 0, zero expiry.
HeadscaleTables v025() {
    HeadscaleTables t;
    t.has_migrations_table = true;
    t.migrations = {"202312101416", "202409271400", "202502070949"};
    t.tables["users"] = {{{"id", "1"},
                          {"name", "alice"},
                          {"created_at", "2025-02-05 16:46:13.960213431+00:00"},
                          {"deleted_at", std::nullopt}},
                         {{"id", "2"}, {"name", "gone"}, {"deleted_at", "2025-03-01 00:00:00+00:00"}}};
    t.tables["pre_auth_keys"] = {{{"id", "4"},
                                  {"key", kLegacyKey},
                                  {"user_id", "1"},
                                  {"reusable", "1"},
                                  {"ephemeral", "0"},
                                  {"used", "1"},
                                  {"tags", "null"},
                                  {"expiration", "2099-01-01 00:00:00+00:00"}}};
    t.tables["api_keys"] = {{{"id", "1"}, {"prefix", "abcdefg"}, {"hash", kBcrypt}}};
    t.tables["nodes"] = {{{"id", "7"},
                          {"machine_key", std::string(64, 'a')},  // <=0.22 bare hex
                          {"node_key", hexkey("nodekey:", 'b')},
                          {"disco_key", hexkey("discokey:", 'c')},
                          {"endpoints", "[\"192.0.2.1:41641\"]"},
                          {"host_info", "{\"Hostname\":\"r1\",\"RoutableIPs\":[\"10.0.0.0/24\"]}"},
                          {"ipv4", "100.64.0.7"},
                          {"ipv6", "fd7a:115c:a1e0::7"},
                          {"hostname", "r1"},
                          {"given_name", "router"},
                          {"user_id", "1"},
                          {"register_method", "authkey"},
                          {"forced_tags", "[\"tag:router\"]"},
                          {"auth_key_id", "4"},
                          {"expiry", "0001-01-01 00:00:00+00:00"},
                          {"last_seen", "2025-02-05 17:00:00+00:00"}},
                         {{"id", "8"},
                          {"machine_key", hexkey("mkey:", 'd')},
                          {"node_key", hexkey("nodekey:", 'e')},
                          {"hostname", "laptop"},
                          {"given_name", "laptop"},
                          {"user_id", "1"},
                          {"forced_tags", ""},
                          {"auth_key_id", "0"}}};
    t.tables["routes"] = {{{"id", "1"}, {"node_id", "7"}, {"prefix", "10.0.0.0/24"}, {"enabled", "1"}},
                          {{"id", "2"}, {"node_id", "7"}, {"prefix", "10.9.0.0/24"}, {"enabled", "0"}}};
    t.tables["policies"] = {{{"id", "1"}, {"data", "{\"acls\":[]}"}}, {{"id", "2"}, {"data", "{}"}}};
    return t;
}

// The database the write tests use: a file in `dir`, or with $HS_TEST_POSTGRES (a libpq
// connection string; tests/cli/test_postgres_units.sh sets it) that PostgreSQL database, emptied
// first, so the import's PostgreSQL path (its identity sequences) is run too.
Db scratch_db(const TempDir& dir) {
    const char* pg = std::getenv("HS_TEST_POSTGRES");
    if (!pg) return Db(dir.file("hs.db"));
    PGconn* c = PQconnectdb(pg);
    PGresult* r = PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(c);
    if (!ok) throw DbError("HS_TEST_POSTGRES: cannot empty the database");
    Db::Options o;
    o.postgres = pg;
    return Db("PostgreSQL test database", o);
}

std::string error_of(const HeadscaleTables& t) {
    try {
        convert_headscale(t, "hs.db");
    } catch (const ImportError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("a bcrypt hash made by headscale verifies through crypt_r; a wrong secret does not") {
    const std::vector<std::uint8_t> stored(kBcrypt.begin(), kBcrypt.end());
    CHECK(is_bcrypt_hash(stored));
    CHECK(secret_matches(stored, kSecret));
    CHECK_FALSE(secret_matches(stored, kSecret.substr(0, 63) + "x"));
    CHECK_FALSE(secret_matches(stored, ""));
    CHECK_FALSE(secret_matches(secret_hash("x"), kSecret));  // SHA-256 keys still compare as before
    CHECK(secret_matches(secret_hash("x"), "x"));
}

TEST_CASE("a headscale 0.25 tailnet converts with routes, forced tags and a plaintext key") {
    const auto imp = convert_headscale(v025(), "hs.db");
    REQUIRE(imp.users.size() == 1);
    CHECK(imp.users[0].name == "alice");
    REQUIRE(imp.nodes.size() == 2);
    const auto& r = imp.nodes[0];
    CHECK(r.id == 7);
    CHECK(r.machine_key == hexkey("mkey:", 'a'));
    CHECK(r.tags == std::vector<std::string>{"tag:router"});
    CHECK_FALSE(r.user_id);  // tagged nodes belong to their tags
    CHECK(r.approved_routes == std::vector<std::string>{"10.0.0.0/24"});
    CHECK_FALSE(r.expiry);
    CHECK(r.auth_key_id == 4);
    CHECK(r.last_seen);
    CHECK(imp.nodes[1].user_id == 1);
    CHECK_FALSE(imp.nodes[1].auth_key_id);
    CHECK(imp.policy == "{}");
    bool told = false;
    for (const auto& line : imp.not_imported) told = told || line.find("user 2 (\"gone\")") != std::string::npos;
    CHECK(told);
}

TEST_CASE("the imported tailnet is written with its ids and its keys still work") {
    TempDir dir;
    Db db(dir.file("hs.db"));
    auto t = v025();
    t.tables["pre_auth_keys"].push_back(
        {{"id", "5"}, {"prefix", kPrefix}, {"hash", kBcrypt}, {"user_id", "1"}, {"tags", "[]"}, {"reusable", "0"}});
    write_headscale_import(db, convert_headscale(t, "hs.db"), false);
    CHECK(find_node(db, 7)->given_name == "router");
    CHECK(find_node(db, 8)->user_id == 1);
    const auto legacy = lookup_preauth_key(db, kLegacyKey);
    REQUIRE(legacy);
    CHECK(legacy->id == 4);
    CHECK_FALSE(lookup_preauth_key(db, kLegacyKey.substr(1) + "0"));
    const auto modern = lookup_preauth_key(db, "hskey-auth-" + kPrefix + "-" + kSecret);
    REQUIRE(modern);
    CHECK(modern->id == 5);
    CHECK(authenticate_api_key(db, "abcdefg." + kSecret, Clock::now())->id == 1);
    CHECK_FALSE(authenticate_api_key(db, "abcdefg.wrong-secret-of-some-length", Clock::now()));
    CHECK(latest_policy(db)->data == "{}");
    // A second import over it is refused, and changes nothing.
    CHECK_THROWS_WITH(write_headscale_import(db, convert_headscale(t, "hs.db"), false), Contains("not empty"));
    CHECK(list_nodes(db).size() == 2);
    write_headscale_import(db, convert_headscale(t, "hs.db"), true);
    CHECK(list_nodes(db).size() == 2);
}

TEST_CASE("what is created after an import gets ids past the imported ones") {
    TempDir dir;
    auto db = scratch_db(dir);
    auto t = v025();
    t.tables["users"][0]["id"] = "9";
    for (auto& n : t.tables["nodes"]) n["user_id"] = "9";
    t.tables["pre_auth_keys"][0]["user_id"] = "9";
    write_headscale_import(db, convert_headscale(t, "hs.db"), false);
    const auto bob = create_user(db, "bob");
    CHECK(bob.id == 10);
    CHECK(create_preauth_key(db, bob.id, false, false, std::nullopt, {}).key.id == 5);
    CHECK(create_api_key(db, std::nullopt).key.id == 2);
    Node n;
    n.machine_key = hexkey("mkey:", '1');
    n.node_key = hexkey("nodekey:", '2');
    n.given_name = "desktop";
    n.hostname = "desktop";
    n.user_id = bob.id;
    CHECK(insert_node(db, n).id == 9);
    // --force replaces the tailnet; no id is handed out twice.
    write_headscale_import(db, convert_headscale(t, "hs.db"), true);
    CHECK(create_user(db, "carol").id == 11);
}

TEST_CASE("bad headscale input is refused naming the row") {
    auto t = v025();
    t.tables["nodes"][1]["node_key"] = "nodekey:zz";
    CHECK_THAT(error_of(t), Contains("nodes row id 8: node_key") && Contains("nothing was imported"));
    t = v025();
    t.tables["nodes"][0]["ipv4"] = "fd7a::1";
    CHECK_THAT(error_of(t), Contains("nodes row id 7: ipv4"));
    t = v025();
    t.tables["nodes"][0]["last_seen"] = "yesterday";
    CHECK_THAT(error_of(t), Contains("last_seen: \"yesterday\" is not a time"));
    t = v025();
    t.migrations.push_back("209901011200-from-the-future");
    CHECK_THAT(error_of(t), Contains("209901011200-from-the-future") && Contains("newer headscale"));
    t = v025();
    t.database_version = "v0.30.0";
    CHECK_THAT(error_of(t), Contains("newer than this hs knows"));
    t = v025();
    t.has_migrations_table = false;
    CHECK_THAT(error_of(t), Contains("older than 0.23"));
}
