// The delta messages of a stream come from one writer, mapper's delta_json: each part a client
// reads under its tailcfg.MapResponse name, absent parts left out.
#include <catch2/catch.hpp>

#include "tools/hs-control/mapper.h"

using namespace hs::control;
using nlohmann::json;

TEST_CASE("delta_json writes each part under its MapResponse name and leaves out the empty ones") {
    CHECK(delta_json({}).empty());
    CHECK(delta_json({.keep_alive = true}) == R"({"KeepAlive":true})");

    const std::string a = R"({"ID":1})", b = R"({"ID":2})";
    const auto m = json::parse(delta_json({.peers_changed = {a, b}, .peers_removed = {7, 9}}));
    CHECK(m == json::parse(R"({"PeersChanged":[{"ID":1},{"ID":2}],"PeersRemoved":[7,9]})"));

    // Going offline also stamps LastSeen (PeerSeenChange); coming online does not.
    const auto presence = json::parse(delta_json({.online = {{3, true}, {4, false}}}));
    CHECK(presence["OnlineChange"] == json{{"3", true}, {"4", false}});
    CHECK(presence["PeerSeenChange"] == json{{"4", true}});
    CHECK_FALSE(json::parse(delta_json({.online = {{3, true}}})).contains("PeerSeenChange"));

    DeltaMessage patch;
    patch.patches.push_back({{"NodeID", 5}, {"Endpoints", {"10.0.0.1:1"}}});
    CHECK(json::parse(delta_json(patch))["PeersChangedPatch"][0]["NodeID"] == 5);

    const auto whole = json::parse(delta_json({.packet_filter = "[]",
                                               .ssh_policy = R"({"rules":[]})",
                                               .node = a,
                                               .derp_map = R"({"Regions":{}})",
                                               .user_profiles = "[]"}));
    CHECK(whole == json::parse(R"({"PacketFilter":[],"SSHPolicy":{"rules":[]},"Node":{"ID":1},
                                   "DERPMap":{"Regions":{}},"UserProfiles":[]})"));
}
