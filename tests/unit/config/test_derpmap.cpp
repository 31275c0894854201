#include <catch2/catch.hpp>

#include "common/config/derpmap.h"

using namespace hs;
using Catch::Contains;
using nlohmann::json;

namespace {
const char* kYaml = R"(
regions:
  900:
    regionid: 900
    regioncode: lab
    regionname: Lab DERP
    nodes:
      - name: 900a
        regionid: 900
        hostname: derp.example.com
        ipv4: 203.0.113.5
        ipv6: none
        stunport: 3478
        derpport: 443
        insecurefortests: true
)";
}

TEST_CASE("headscale YAML and tailcfg JSON DERP maps read to the same JSON") {
    const auto y = parse_derp_map(kYaml, "a.yaml");
    const auto& node = y["Regions"]["900"]["Nodes"][0];
    CHECK(y["Regions"]["900"]["RegionCode"] == "lab");
    CHECK(node["HostName"] == "derp.example.com");
    CHECK(node["STUNPort"] == 3478);
    CHECK(node["InsecureForTests"] == true);
    const auto j = parse_derp_map(y.dump(), "a.json");
    CHECK(j == y);
}

TEST_CASE("DERP map errors name the file, line and field") {
    CHECK_THROWS_WITH(parse_derp_map("regions:\n  900:\n    regioncod: x\n", "m.yaml"),
                      Contains("m.yaml:3") && Contains("regioncod"));
    CHECK_THROWS_WITH(parse_derp_map("regions:\n  abc: {}\n", "m.yaml"), Contains("not a positive integer"));
    CHECK_THROWS_WITH(parse_derp_map("regions:\n  1:\n    nodes:\n      - stunport: many\n", "m.yaml"),
                      Contains("expected an integer"));
    CHECK_THROWS_WITH(parse_derp_map("regions: [", "m.yaml"), Contains("invalid YAML/JSON"));
    CHECK_THROWS_WITH(parse_derp_map("wat: 1\n", "m.yaml"), Contains("unknown top-level field"));
    // Found by fuzz_derpmap: bytes JSON cannot carry, and non-finite coordinates.
    CHECK_THROWS_WITH(parse_derp_map("regions:\n  1:\n    regioncode: \xff\n", "m.yaml"), Contains("not valid UTF-8"));
    CHECK_THROWS_WITH(parse_derp_map("regions:\n  1:\n    latitude: inf\n", "m.yaml"), Contains("expected a number"));
}

TEST_CASE("merging: later wins, null removes") {
    auto base = parse_derp_map(kYaml, "a");
    merge_derp_map(base, parse_derp_map("regions:\n  901:\n    regionid: 901\n    regioncode: two\n", "b"));
    CHECK(base["Regions"].size() == 2);
    merge_derp_map(base, parse_derp_map("regions:\n  900: null\n", "c"));
    CHECK(base["Regions"].size() == 1);
    CHECK(base["Regions"].contains("901"));
}

TEST_CASE("a DERP URL that fails keeps its last good map") {
    Config c;
    c.derp.urls = {"https://maps.example/derp.json"};
    std::map<std::string, json> last_good;
    std::vector<std::string> failures;
    bool up = true;
    auto fetch = [&](const std::string&) -> std::string {
        if (!up) throw std::runtime_error("https://maps.example/derp.json: timed out");
        return kYaml;
    };
    auto m1 = derp_map_from_config(c, fetch, last_good, failures);
    CHECK(m1["Regions"].contains("900"));
    CHECK(failures.empty());
    up = false;
    auto m2 = derp_map_from_config(c, fetch, last_good, failures);
    CHECK(m2 == m1);
    REQUIRE(failures.size() == 1);
    CHECK_THAT(failures[0], Contains("timed out"));
}

TEST_CASE("the embedded region follows server_url and the STUN address") {
    Config c;
    c.server_url = "http://127.0.0.1:8080";
    c.derp.server_enabled = true;
    c.derp.stun_listen_addr = "127.0.0.1:3478";
    const auto r = embedded_derp_region(c);
    CHECK(r["RegionID"] == 999);
    CHECK(r["Nodes"][0]["HostName"] == "127.0.0.1");
    CHECK(r["Nodes"][0]["IPv4"] == "127.0.0.1");
    CHECK(r["Nodes"][0]["IPv6"] == "none");
    CHECK(r["Nodes"][0]["DERPPort"] == 8080);
    CHECK(r["Nodes"][0]["STUNPort"] == 3478);
}

TEST_CASE("automatically_add_embedded_derp_region: false leaves the region to derp.paths (several nodes, meshed)") {
    Config c;
    c.server_url = "https://hs.example.com";
    c.derp.server_enabled = true;
    c.derp.stun_listen_addr = "0.0.0.0:3478";
    std::map<std::string, json> last_good;
    std::vector<std::string> failures;
    const auto fetch = [](const std::string&) -> std::string { return ""; };
    CHECK(derp_map_from_config(c, fetch, last_good, failures)["Regions"].contains("999"));
    c.derp.auto_add_embedded_region = false;
    CHECK_FALSE(derp_map_from_config(c, fetch, last_good, failures)["Regions"].contains("999"));
}
