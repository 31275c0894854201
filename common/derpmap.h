// DERP maps: Tailscale's JSON (tailcfg.DERPMap) and headscale's YAML (the same fields with
// lower-case keys), read into one JSON shape, merged, and checked.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/config.h"

namespace hs {

struct DerpMapError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Parses a map in either format (YAML is a superset of JSON, so one parser reads both) and
// returns tailcfg JSON: {"Regions": {"<id>": {...}}, "omitDefaultRegions"?: bool}. Keys are
// matched case-insensitively to the tailcfg field names; unknown keys are errors naming them.
// A region given as null is kept as null so a later merge can remove it.
nlohmann::json parse_derp_map(std::string_view text, const std::string& name);

// Regions of `overlay` replace those of `base` with the same ID; a null region removes it.
void merge_derp_map(nlohmann::json& base, const nlohmann::json& overlay);

// The embedded DERP region hs-control adds when derp.server.enabled is set.
nlohmann::json embedded_derp_region(const Config& c);

// The map hs-control serves from a config: derp.paths in order, then the embedded region.
// (derp.urls are fetched by the caller and merged in between.) Throws DerpMapError when a
// file cannot be read or parsed.
nlohmann::json derp_map_from_paths(const Config& c);

}  // namespace hs
