// What the Tailnet tests share: a scratch database and a map sink that decodes every frame.
#pragma once

#include <libpq-fe.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/base/keys.h"
#include "common/config/config.h"
#include "common/control/mapframe.h"
#include "common/store/db.h"
#include "tools/hs-control/tailnet.h"

namespace hs::test {

// With $HS_TEST_POSTGRES (a libpq connection string; tests/cli/test_postgres_units.sh sets it)
// the database is that PostgreSQL database instead, emptied for each test.
struct TempDb {
    std::filesystem::path dir;
    std::unique_ptr<Db> db;
    TempDb() {
        char tmpl[] = "/tmp/hs-tailnet-XXXXXX";
        dir = ::mkdtemp(tmpl);
        if (!options().postgres.empty()) empty_postgres(options().postgres);
        db = std::make_unique<Db>(path(), options());
    }
    ~TempDb() { std::filesystem::remove_all(dir); }
    std::string path() const { return (dir / "db.sqlite").string(); }
    // Another connection to the same database (hs-admin's, in the tests).
    Db open() const { return Db(path(), options()); }

    static Db::Options options() {
        Db::Options o;
        if (const char* pg = std::getenv("HS_TEST_POSTGRES")) o.postgres = pg;
        return o;
    }
    static void empty_postgres(const std::string& conninfo) {
        PGconn* c = PQconnectdb(conninfo.c_str());
        PGresult* r = PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
        const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        PQfinish(c);
        if (!ok) throw DbError("HS_TEST_POSTGRES: cannot empty the database");
    }
};

// Collects what a stream would send, decoded.
struct Sink : control::MapSink {
    std::vector<nlohmann::json> got;
    bool ended = false;
    void push(std::shared_ptr<const std::string> frame) override {
        std::string_view v(*frame);
        got.push_back(nlohmann::json::parse(unframe_one(v)));
    }
    void end() override { ended = true; }
};

// The first message a map request answered with, decoded.
inline nlohmann::json first_map(const control::MapReply& r) {
    const auto bytes = r.first_bytes();
    std::string_view v(bytes);
    return nlohmann::json::parse(unframe_one(v));
}

// A hs-control config for a scratch tailnet: both families, MagicDNS under hs.test.
inline Config test_config() {
    Config c;
    c.server_url = "http://127.0.0.1:8080";
    c.prefix_v4 = "100.64.0.0/10";
    c.prefix_v6 = "fd7a:115c:a1e0::/48";
    c.dns.base_domain = "hs.test";
    return c;
}

// One DERP region on loopback.
inline nlohmann::json derp_map() {
    return nlohmann::json::parse(
        R"({"Regions":{"900":{"RegionID":900,"RegionCode":"lab","RegionName":"Lab","Nodes":[{"Name":"900a","RegionID":900,"HostName":"127.0.0.1"}]}}})");
}

// A node to be: fresh machine and node keys, and the requests the real client sends.
struct Client {
    std::string machine = key_text(kMachinePrefix, PrivateKey::generate().public_key().bytes);
    std::string node = key_text(kNodePrefix, PrivateKey::generate().public_key().bytes);
    nlohmann::json request(const std::string& hostname, const std::string& auth) const {
        return {{"Version", 142},
                {"NodeKey", node},
                {"Auth", {{"AuthKey", auth}}},
                {"Expiry", "0001-01-01T00:00:00Z"},
                {"Followup", ""},
                {"Hostinfo", {{"Hostname", hostname}}}};
    }
    nlohmann::json map(bool stream) const {
        return {{"Version", 142},
                {"NodeKey", node},
                {"Stream", stream},
                {"Compress", "zstd"},
                {"KeepAlive", true},
                {"DiscoKey", key_text(kDiscoPrefix, PrivateKey::generate().public_key().bytes)},
                {"Endpoints", {"10.0.0.1:41641"}},
                {"Hostinfo", {{"Hostname", "x"}, {"NetInfo", {{"PreferredDERP", 900}}}}}};
    }
};

}  // namespace hs::test
