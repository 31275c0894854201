// The plain records the policy engine reads and writes. They do not depend on the store: the
// control server copies its model into these, compiles, and sends what comes out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace hs::policy {

struct User {
    std::uint64_t id = 0;
    std::string name;                 // login name ("alice")
    std::string email;                // may be empty
    std::string display_name;         // informational
    std::string provider_id;          // OIDC subject URL, may be empty
    std::vector<std::string> groups;  // the identity provider's groups at the last sign-in
};

// "group:oidc/<name>" names the users whose identity provider put them in group <name> at their
// last sign-in (docs/oidc.md). Such groups are not defined in "groups"; the prefix is reserved.
inline constexpr std::string_view kProviderGroupPrefix = "group:oidc/";
inline bool is_provider_group(std::string_view name) {
    return name.substr(0, kProviderGroupPrefix.size()) == kProviderGroupPrefix;
}
inline bool in_provider_group(const User& u, std::string_view name) {
    const auto g = name.substr(kProviderGroupPrefix.size());
    for (const auto& mine : u.groups)
        if (mine == g) return true;
    return false;
}

struct Node {
    std::uint64_t id = 0;
    std::uint64_t user_id = 0;  // 0 = none (tagged nodes have no user identity)
    std::string given_name;
    std::string hostname;
    std::vector<std::string> tags;              // non-empty = tagged node
    std::string ipv4;                           // "100.64.0.1", may be empty
    std::string ipv6;                           // "fd7a:115c:a1e0::1", may be empty
    std::vector<std::string> announced_routes;  // Hostinfo.RoutableIPs
    std::vector<std::string> approved_routes;   // as stored; exit = 0.0.0.0/0 and ::/0
    // Subnet routes this node serves as the elected primary (HA election is the caller's:
    // it depends on who is online). Only these reach peers' AllowedIPs.
    std::vector<std::string> primary_routes;
    bool operator==(const Node&) const = default;
};

struct Problem {
    int line = 0;  // 1-based; 0 when the problem has no place in the text
    int column = 0;
    std::string message;
    std::string str() const;  // "line L, column C: message" or just the message
};

// One problem per line, in order: what an admin sees when a policy is refused.
std::string format_problems(const std::vector<Problem>& problems);

// A peer a node may see, with the addresses WireGuard should route to it.
struct PeerView {
    std::uint64_t node_id = 0;
    std::vector<std::string> allowed_ips;  // the peer's own /32 and /128, then permitted routes
    // Peer capabilities: "suggest-exit-node" on an exit node this viewer may use (Tailscale
    // marks every such peer, letting clients pick one).
    nlohmann::json cap_map = nlohmann::json::object();
};

// Everything the policy decides for one node's MapResponse.
struct NodeView {
    nlohmann::json packet_filter = nlohmann::json::array();  // []tailcfg.FilterRule
    nlohmann::json ssh_policy;  // tailcfg.SSHPolicy {"rules": [...]}, null without an ssh section
    nlohmann::json cap_map = nlohmann::json::object();  // tailcfg.NodeCapMap from nodeAttrs
    std::vector<PeerView> peers;                        // sorted by node_id
};

}  // namespace hs::policy
