// What hs-control answers a map request whose node key no node has (relogin.h), and the DERP
// admission endpoint /verify (derp_verify.h).
#include <catch2/catch.hpp>

#include "common/base/keys.h"
#include "common/control/mapframe.h"
#include "common/store/store.h"
#include "tests/unit/hs-control/tailnet_fixture.h"
#include "tools/hs-control/derp_verify.h"
#include "tools/hs-control/relogin.h"
#include "tools/hs-control/tailnet.h"

using namespace hs;
using namespace hs::control;
using hs::test::Client;
using hs::test::TempDb;
using nlohmann::json;

TEST_CASE("a map stream for an unknown node key gets an expired self node and a message") {
    TempDb t;
    Tailnet tn(*t.db, test::test_config(), test::derp_map());
    tn.load();
    const auto now = Clock::now();
    Client c;

    const auto r = tn.map_request(c.machine, c.map(true), now);
    REQUIRE(r.status == 200);
    CHECK(r.stream);
    CHECK(r.node_id == 0);  // nothing to attach: the connection keeps the stream open
    const auto bytes = r.first_bytes();
    std::string_view v(bytes);
    const auto m = json::parse(unframe_one(v));
    CHECK(m["Node"]["Key"] == c.node);
    CHECK(m["Node"]["Machine"] == c.machine);
    // In the past, and not the zero time (which means "never expires" to the client).
    CHECK(m["Node"]["KeyExpiry"] == "1970-01-01T00:00:01Z");
    CHECK(m["Node"]["Addresses"].empty());
    CHECK(m["Health"] == json::array({kUnknownNodeMessage}));
    CHECK(m["DERPMap"]["Regions"].contains("900"));
    CHECK_FALSE(m.contains("Peers"));

    // A lite update has nothing to show; it keeps the plain 404.
    auto lite = c.map(false);
    lite["OmitPeers"] = true;
    const auto l = tn.map_request(c.machine, lite, now);
    CHECK(l.status == 404);
    CHECK(l.error == "node not found");

    // A one-shot request gets the same map, unframed of zstd when not asked for.
    auto plain = c.map(false);
    plain.erase("Compress");
    const auto p = tn.map_request(c.machine, plain, now);
    REQUIRE(p.status == 200);
    CHECK_FALSE(p.stream);
    CHECK(json::parse(p.first_bytes().substr(4))["Node"]["Key"] == c.node);
}

TEST_CASE("a registered node's map is not the relogin map") {
    TempDb t;
    const auto user = store::create_user(*t.db, "alice");
    const auto key = store::create_preauth_key(*t.db, user.id, true, false, std::nullopt, {});
    Tailnet tn(*t.db, test::test_config(), test::derp_map());
    tn.load();
    const auto now = Clock::now();
    Client c;
    REQUIRE(tn.register_node(c.machine, c.request("alpha", key.secret), now).status == 200);
    const auto r = tn.map_request(c.machine, c.map(true), now);
    REQUIRE(r.status == 200);
    CHECK(r.node_id > 0);
    const auto bytes = r.first_bytes();
    std::string_view v(bytes);
    const auto m = json::parse(unframe_one(v));
    CHECK(m["Node"]["KeyExpiry"] == "0001-01-01T00:00:00Z");
    CHECK_FALSE(m.contains("Health"));
}

TEST_CASE("/verify answers derper's admission requests like headscale") {
    const std::string known = "nodekey:" + std::string(64, 'a');
    const auto admits = [&](const std::string& k) { return k == known; };
    auto r = derp_verify("POST", R"({"NodePublic":")" + known + R"(","Source":"192.0.2.1"})", admits);
    CHECK(r.status == 200);
    CHECK(r.body == "{\"Allow\":true}\n");
    r = derp_verify("POST", R"({"NodePublic":"nodekey:)" + std::string(64, 'b') + R"("})", admits);
    CHECK(r.body == "{\"Allow\":false}\n");
    CHECK(derp_verify("POST", R"({"NodePublic":"garbage"})", admits).body == "{\"Allow\":false}\n");
    CHECK(derp_verify("GET", "", admits).status == 405);
    CHECK(derp_verify("POST", "not json", admits).status == 400);
    CHECK(derp_verify("POST", "[]", admits).status == 400);
    CHECK(derp_verify("POST", R"({"Source":"192.0.2.1"})", admits).status == 400);
    CHECK(derp_verify("POST", std::string(kVerifyBodyLimit + 1, ' '), admits).status == 413);
}
