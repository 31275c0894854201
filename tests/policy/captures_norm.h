// Order-insensitive, representation-insensitive forms of what a node receives, so Tailscale's
// output and ours compare by meaning: IP lists become merged address sets, filter rules become
// a set of (sources, protocols, destination, ports) tuples.
#pragma once

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "captures_load.h"
#include "common/policy/types.h"

namespace hs::policy::captures {

std::set<std::string> norm_filter(const nlohmann::json& rules);
std::set<std::string> norm_ssh(const nlohmann::json& rules);
std::set<std::string> norm_caps(const nlohmann::json& cap_map);
std::set<std::string> norm_peers_want(const nlohmann::json& netmap);
std::set<std::string> norm_peers_got(const NodeView& view, const Topology& topo);

}  // namespace hs::policy::captures
