// DERP map files and URL bodies on hostile text: parse_derp_map either returns a map or throws
// hs::DerpMapError. A map it returns has the tailcfg shape (decimal region IDs, each region null
// or an object of known fields, nodes a list of objects), its JSON dump (what hs-control serves)
// parses back to an equal map, and merging it into an empty map keeps exactly its non-null
// regions, a second merge changing nothing.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/config/derpmap.h"

namespace {

using nlohmann::json;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

constexpr std::array<std::string_view, 8> kRegionKeys{"RegionID",  "RegionCode", "RegionName",      "Latitude",
                                                      "Longitude", "Avoid",      "NoMeasureNoHome", "Nodes"};
constexpr std::array<std::string_view, 12> kNodeKeys{
    "Name",     "RegionID", "HostName", "CertName",         "IPv4",       "IPv6",
    "STUNPort", "STUNOnly", "DERPPort", "InsecureForTests", "STUNTestIP", "CanPort80"};

template <std::size_t N>
void known_fields(const json& obj, const std::array<std::string_view, N>& keys) {
    check(obj.is_object());
    for (const auto& [k, v] : obj.items()) {
        check(std::find(keys.begin(), keys.end(), k) != keys.end());
        check(!v.is_null() && (v.is_primitive() || k == "Nodes"));
    }
}

void check_shape(const json& map) {
    check(map.is_object() && map.contains("Regions") && map["Regions"].is_object());
    for (const auto& [k, v] : map.items()) check(k == "Regions" || (k == "omitDefaultRegions" && v.is_boolean()));
    for (const auto& [id, region] : map["Regions"].items()) {
        // The canonical decimal form of a positive integer.
        check(!id.empty() && id[0] >= '1' && id[0] <= '9' &&
              std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; }));
        if (region.is_null()) continue;
        known_fields(region, kRegionKeys);
        if (!region.contains("Nodes")) continue;
        check(region["Nodes"].is_array());
        for (const auto& node : region["Nodes"]) known_fields(node, kNodeKeys);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    json map;
    try {
        map = hs::parse_derp_map(text, "fuzz.yaml");
    } catch (const hs::DerpMapError&) {
        return 0;
    }
    check_shape(map);

    const std::string dumped = map.dump();
    json again;
    try {
        again = hs::parse_derp_map(dumped, "fuzz.json");
    } catch (const hs::DerpMapError&) {
        __builtin_trap();
    }
    check(again == map);

    json merged = json::object();
    hs::merge_derp_map(merged, map);
    std::size_t live = 0;
    for (const auto& [id, region] : map["Regions"].items()) {
        if (region.is_null()) {
            check(!merged["Regions"].contains(id));
        } else {
            ++live;
            check(merged["Regions"][id] == region);
        }
    }
    check(merged["Regions"].size() == live &&
          merged.value("omitDefaultRegions", false) == map.value("omitDefaultRegions", false));
    const json once = merged;
    hs::merge_derp_map(merged, map);
    check(merged == once);
    return 0;
}
