// DERP maps: Tailscale's JSON (tailcfg.DERPMap) and headscale's YAML (the same fields with
// lower-case keys), read into one JSON shape, merged, and checked.
#pragma once

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config/config.h"

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

// The embedded DERP region hs-control adds when derp.server.enabled is set. With
// derp.server.tls_listen_addr the node points at that port, pinned by `cert_name`
// ("sha256-raw:<hex>") when the certificate is self-signed.
nlohmann::json embedded_derp_region(const Config& c, const std::string& cert_name = "");

// The map hs-control serves from a config, merged in headscale's order (later wins): each of
// derp.urls, then each of derp.paths, then the embedded region. `fetch` gets a URL's body
// (throwing on failure); a URL that fails uses its entry in `last_good` if there is one, and
// `failures` collects one line per failed URL. Files that cannot be read or parsed throw
// DerpMapError: a config error should stop a start, not be papered over.
nlohmann::json derp_map_from_config(const Config& c, const std::function<std::string(const std::string&)>& fetch,
                                    std::map<std::string, nlohmann::json>& last_good,
                                    std::vector<std::string>& failures, const std::string& embedded_cert_name = "");

// Start-up's rule: clients need at least one region. Throws DerpMapError saying how to get one.
void require_derp_regions(const nlohmann::json& map);

}  // namespace hs
