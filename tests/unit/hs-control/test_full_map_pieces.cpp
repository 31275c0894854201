// Full maps assembled from zstd pieces shared between nodes: a message of several concatenated
// frames decodes to one JSON, and every node's map lists exactly its peers, sorted, whichever
// span of IDs it sits in and whatever changed since the pieces were compressed.
#include <catch2/catch.hpp>

#include "common/control/mapframe.h"
#include "common/store/store.h"
#include "tests/unit/hs-control/tailnet_fixture.h"
#include "tools/hs-control/tailnet.h"

using namespace hs;
using namespace hs::control;
using hs::test::Client;
using hs::test::TempDb;
using nlohmann::json;

namespace {

json decode(const std::string& framed) {
    std::string_view v(framed);
    auto out = json::parse(unframe_one(v));
    CHECK(v.empty());
    return out;
}

}  // namespace

TEST_CASE("a message of several zstd frames decodes to their joined text") {
    FrameBuilder b;
    b.text(R"({"a":)");
    b.raw(zstd_frame("[1,2"));
    b.raw(zstd_frame(",3]"));
    b.text(R"(,"b":true})");
    const auto framed = b.finish();
    CHECK(decode(framed) == json::parse(R"({"a":[1,2,3],"b":true})"));
    // The length prefix covers every frame; a cut anywhere inside is an error, not a short read.
    std::string cut = framed.substr(0, framed.size() - 3);
    std::string_view v(cut);
    CHECK_THROWS_AS(unframe_one(v), FrameError);
    // A body of zero frames, or a second frame that is not zstd, is rejected.
    std::string empty("\0\0\0\0", 4);
    std::string_view e(empty);
    CHECK_THROWS_AS(unframe_one(e), FrameError);
    std::string junk = framed + "xyz";
    junk[0] = static_cast<char>(junk[0] + 3);
    std::string_view j(junk);
    CHECK_THROWS_AS(unframe_one(j), FrameError);
    // The size limit applies to the sum of the frames, not to each.
    std::string_view big(framed);
    CHECK_THROWS_AS(unframe_one(big, 20), FrameError);
}

TEST_CASE("full maps from shared pieces list every peer once, sorted, in every span") {
    TempDb t;
    const auto user = store::create_user(*t.db, "alice");
    const auto key = store::create_preauth_key(*t.db, user.id, true, false, std::nullopt, {});
    Tailnet tn(*t.db, hs::test::test_config(), hs::test::derp_map());
    tn.load();
    auto now = Clock::now();
    // 2 * kSpan + 1 nodes: IDs 1..257, so the last node is alone in its span.
    const int n = static_cast<int>(2 * PeerChunks::kSpan + 1);
    std::vector<Client> clients(static_cast<std::size_t>(n));
    std::vector<json> requests;
    for (int i = 0; i < n; ++i) {
        auto& c = clients[static_cast<std::size_t>(i)];
        REQUIRE(tn.register_node(c.machine, c.request("n" + std::to_string(i), key.secret), now).status == 200);
        requests.push_back(c.map(false));
    }
    const auto check_maps = [&] {
        for (const int i : {0, 1, 126, 127, 128, 200, 254, 255, 256}) {
            auto req = requests[static_cast<std::size_t>(i)];
            const auto& c = clients[static_cast<std::size_t>(i)];
            const auto r = tn.map_request(c.machine, req, now);
            REQUIRE(r.status == 200);
            const auto full = decode(r.first_bytes());
            // The same map without compression is built in one piece: both must agree.
            req.erase("Compress");
            const auto plain = json::parse(tn.map_request(c.machine, req, now).first_bytes().substr(4));
            CHECK(full == plain);
            const auto& peers = full.at("Peers");
            REQUIRE(peers.size() == static_cast<std::size_t>(n - 1));
            std::int64_t last = 0;
            for (const auto& p : peers) {
                CHECK(p["ID"].get<std::int64_t>() > last);
                last = p["ID"].get<std::int64_t>();
                CHECK(p["ID"] != r.node_id);
            }
        }
    };
    check_maps();

    // A peer's change reaches maps built after it, from whichever piece holds it.
    for (const int i : {5, 130, 256}) {
        auto req = requests[static_cast<std::size_t>(i)];
        req["Endpoints"] = {"198.51.100." + std::to_string(i) + ":41641"};
        const auto& c = clients[static_cast<std::size_t>(i)];
        req["OmitPeers"] = true;
        req["Stream"] = false;
        REQUIRE(tn.map_request(c.machine, req, now).status == 200);
        requests[static_cast<std::size_t>(i)]["Endpoints"] = req["Endpoints"];
    }
    now += std::chrono::seconds(1);
    check_maps();
    const auto full = decode(tn.map_request(clients[1].machine, requests[1], now).first_bytes());
    int seen = 0;
    for (const auto& p : full["Peers"])
        for (const int i : {5, 130, 256})
            if (p["Endpoints"] == json::array({"198.51.100." + std::to_string(i) + ":41641"})) ++seen;
    CHECK(seen == 3);
}
