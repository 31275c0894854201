// Pure functions from tailnet records to the JSON the client reads (tailcfg.Node,
// MapResponse, DNSConfig). No I/O and no clock: the caller passes `now`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config/config.h"
#include "common/store/model.h"
#include "tools/hs-control/routes.h"

namespace hs::control {

// Tagged nodes belong to no user; the client still needs a UserProfile for them.
inline constexpr std::int64_t kTaggedDevicesUserId = 2147455555;

struct MapSettings {
    std::string base_domain;  // MagicDNS suffix ("" when MagicDNS has no domain)
    bool taildrop = true;
    bool randomize_client_port = false;
    bool logtail = false;
};

// The FQDN with its trailing dot: "<given_name>.<base_domain>.".
std::string node_fqdn(const Node& n, const MapSettings& s);

// tailcfg.Node for `n`. `self` adds the attributes only the node itself reads (CapMap).
// `capver` is the node's own capability version (0 when unknown). `routes` adds the subnet and
// exit routes the node serves to AllowedIPs (nullptr: none).
nlohmann::json node_json(const Node& n, const MapSettings& s, int capver, TimePoint now, bool self,
                         const RouteView* routes = nullptr);

nlohmann::json user_profile_json(const User& u);
nlohmann::json tagged_devices_profile_json();

// DNSConfig from the dns section of the config.
nlohmann::json dns_config_json(const Config& c);

// The packet filter that lets every node reach every port of every other node.
const std::string& allow_all_filter_json();

// The first message of a stream in three parts, for maps assembled from pieces compressed apart:
// the head (everything before the Peers array), then kPeersOpen, the peers joined by commas and
// ']' when there are peers, then the tail.
inline constexpr std::string_view kPeersOpen = R"(,"Peers":[)";
// `ssh_policy` is tailcfg.SSHPolicy's JSON, or empty when the map carries none.
std::string full_map_head(const std::string& self_node, const std::string& derp_map, const std::string& dns_config,
                          const std::string& user_profiles, const std::string& packet_filter, const std::string& domain,
                          const std::string& ssh_policy = {});
// `health` is MapResponse.Health's JSON ([]string: problems the client shows), or empty for none.
std::string full_map_tail(TimePoint now, const MapSettings& s, const std::string& health = {});
// The whole first message: everything the client needs, with `peers` (already JSON, sorted by
// node ID). The pieces are pre-serialised so a map for many peers is concatenation.
std::string full_map_json(const std::string& self_node, const std::vector<const std::string*>& peers,
                          const std::string& derp_map, const std::string& dns_config, const std::string& user_profiles,
                          const std::string& packet_filter, const std::string& domain, TimePoint now,
                          const MapSettings& s, const std::string& ssh_policy = {}, const std::string& health = {});

// One MapResponse after the first: every message hs-control sends on a stream is written here
// or by full_map_json. Parts left empty are left out; the pre-serialised ones are pasted as
// they are (they are the same text for every recipient).
struct DeltaMessage {
    std::vector<std::string_view> peers_changed;  // tailcfg.Node each, sorted by ID
    std::vector<std::int64_t> peers_removed;
    nlohmann::json patches = nlohmann::json::array();  // tailcfg.PeerChange each
    // OnlineChange; a node going offline is also in PeerSeenChange, which makes the client stamp
    // its LastSeen "now".
    std::map<std::int64_t, bool> online;
    std::string packet_filter;  // JSON of each
    std::string ssh_policy;
    std::string node;  // the recipient's own tailcfg.Node
    std::string derp_map;
    std::string user_profiles;
    bool keep_alive = false;  // {"KeepAlive":true}: a quiet stream is still alive
};
// The message's JSON; empty when it carries nothing.
std::string delta_json(const DeltaMessage& m);

}  // namespace hs::control
