#include "tools/hs-control/mapper.h"

#include "common/base/netaddr.h"

namespace hs::control {
namespace {

using nlohmann::json;

constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";

int home_derp(const Node& n) {
    const auto it = n.host_info.find("NetInfo");
    if (it == n.host_info.end() || !it->is_object()) return 0;
    const auto d = it->find("PreferredDERP");
    return d != it->end() && d->is_number_integer() ? d->get<int>() : 0;
}

std::vector<std::string> addresses(const Node& n) {
    std::vector<std::string> out;
    if (n.ipv4) out.push_back(*n.ipv4 + "/32");
    if (n.ipv6) out.push_back(*n.ipv6 + "/128");
    return out;
}

}  // namespace

std::string node_fqdn(const Node& n, const MapSettings& s) {
    return s.base_domain.empty() ? n.given_name + "." : n.given_name + "." + s.base_domain + ".";
}

json node_json(const Node& n, const MapSettings& s, int capver, TimePoint now, bool self, const RouteView* routes) {
    const bool expired = n.expired(now);
    const int derp = home_derp(n);
    const auto addrs = addresses(n);
    auto allowed = addrs;
    if (routes) allowed.insert(allowed.end(), routes->allowed.begin(), routes->allowed.end());
    json j = {
        {"ID", n.id},
        {"StableID", std::to_string(n.id)},
        {"Name", node_fqdn(n, s)},
        {"User", n.tags.empty() && n.user_id ? *n.user_id : kTaggedDevicesUserId},
        {"Key", n.node_key},
        {"KeyExpiry", n.expiry ? format_time(*n.expiry) : kZeroTime},
        {"Machine", n.machine_key},
        {"DiscoKey", n.disco_key.empty() ? "discokey:" + std::string(64, '0') : n.disco_key},
        {"Addresses", addrs},
        {"AllowedIPs", allowed},
        {"Endpoints", n.endpoints},
        {"HomeDERP", derp},
        {"DERP", "127.3.3.40:" + std::to_string(derp)},
        {"Hostinfo", n.host_info},
        {"Created", format_time(n.created_at)},
        {"Cap", capver},
        // False while auth.device_approval holds the node back: the client's state becomes
        // NeedsMachineAuth ("Machine is not yet approved by tailnet admin.").
        {"MachineAuthorized", !expired && n.approved},
        {"Online", n.online},
    };
    if (!n.tags.empty()) j["Tags"] = n.tags;
    if (routes && !routes->primary.empty()) j["PrimaryRoutes"] = routes->primary;
    if (n.last_seen) j["LastSeen"] = format_time(*n.last_seen);
    if (expired) j["Expired"] = true;
    if (self) {
        json caps = {{"https://tailscale.com/cap/is-admin", json::array()},
                     {"https://tailscale.com/cap/ssh", json::array()},
                     // hs makes no outbound connection on its own, and neither should clients.
                     {"disable-captive-portal-detection", json::array()}};
        if (s.taildrop) caps["https://tailscale.com/cap/file-sharing"] = json::array();
        if (s.randomize_client_port) caps["randomize-client-port"] = json::array();
        j["CapMap"] = caps;
    }
    return j;
}

json user_profile_json(const User& u) {
    json j = {{"ID", u.id},
              {"LoginName", u.email.empty() ? u.name : u.email},
              {"DisplayName", u.display_name.empty() ? u.name : u.display_name},
              {"Roles", json::array()}};
    if (!u.profile_pic_url.empty()) j["ProfilePicURL"] = u.profile_pic_url;
    return j;
}

json tagged_devices_profile_json() {
    return {{"ID", kTaggedDevicesUserId},
            {"LoginName", "tagged-devices"},
            {"DisplayName", "Tagged Devices"},
            {"Roles", json::array()}};
}

json dns_config_json(const Config& c) {
    json resolvers = json::array();
    for (const auto& ns : c.dns.nameservers_global) resolvers.push_back({{"Addr", ns}});
    json j = json::object();
    if (c.dns.override_local_dns) j["Resolvers"] = resolvers;
    else if (!resolvers.empty()) j["FallbackResolvers"] = resolvers;
    json routes = json::object();
    for (const auto& [domain, list] : c.dns.nameservers_split) {
        json r = json::array();
        for (const auto& ns : list) r.push_back({{"Addr", ns}});
        routes[domain] = r;
    }
    if (!routes.empty()) j["Routes"] = routes;
    json domains = json::array();
    if (!c.dns.base_domain.empty()) domains.push_back(c.dns.base_domain);
    for (const auto& d : c.dns.search_domains) domains.push_back(d);
    if (!domains.empty()) j["Domains"] = domains;
    j["Proxied"] = c.dns.magic_dns;
    if (!c.dns.extra_records.empty()) {
        json recs = json::array();
        for (const auto& r : c.dns.extra_records)
            recs.push_back({{"Name", r.name}, {"Type", r.type}, {"Value", r.value}});
        j["ExtraRecords"] = recs;
    }
    return j;
}

const std::string& allow_all_filter_json() {
    static const std::string f = R"([{"SrcIPs":["*"],"DstPorts":[{"IP":"*","Ports":{"First":0,"Last":65535}}]}])";
    return f;
}

std::string full_map_head(const std::string& self_node, const std::string& derp_map, const std::string& dns_config,
                          const std::string& user_profiles, const std::string& packet_filter, const std::string& domain,
                          const std::string& ssh_policy) {
    std::string out;
    out.reserve(self_node.size() + derp_map.size() + dns_config.size() + user_profiles.size() + packet_filter.size() +
                256);
    out += R"({"Node":)";
    out += self_node;
    out += R"(,"DERPMap":)";
    out += derp_map;
    out += R"(,"DNSConfig":)";
    out += dns_config;
    out += R"(,"Domain":)";
    out += json(domain).dump();
    out += R"(,"CollectServices":false,"PacketFilter":)";
    out += packet_filter;
    if (!ssh_policy.empty()) {
        out += R"(,"SSHPolicy":)";
        out += ssh_policy;
    }
    out += R"(,"UserProfiles":)";
    out += user_profiles;
    return out;
}

std::string full_map_tail(TimePoint now, const MapSettings& s, const std::string& health) {
    std::string out;
    if (!health.empty()) {
        out += R"(,"Health":)";
        out += health;
    }
    out += R"(,"ControlTime":")";
    out += format_time(now);
    out += '"';
    if (!s.logtail) out += R"(,"Debug":{"DisableLogTail":true})";
    out += '}';
    return out;
}

std::string full_map_json(const std::string& self_node, const std::vector<const std::string*>& peers,
                          const std::string& derp_map, const std::string& dns_config, const std::string& user_profiles,
                          const std::string& packet_filter, const std::string& domain, TimePoint now,
                          const MapSettings& s, const std::string& ssh_policy, const std::string& health) {
    std::string out = full_map_head(self_node, derp_map, dns_config, user_profiles, packet_filter, domain, ssh_policy);
    std::size_t size = out.size() + 256;
    for (const auto* p : peers) size += p->size() + 1;
    out.reserve(size);
    if (!peers.empty()) {
        out += kPeersOpen;
        for (std::size_t i = 0; i < peers.size(); ++i) {
            if (i) out += ',';
            out += *peers[i];
        }
        out += ']';
    }
    out += full_map_tail(now, s, health);
    return out;
}

std::string delta_json(const DeltaMessage& m) {
    std::string out;
    auto field = [&out](std::string_view name) {
        out += out.empty() ? "{\"" : ",\"";
        out += name;
        out += "\":";
    };
    auto pasted = [&](std::string_view name, const std::string& text) {
        if (text.empty()) return;
        field(name);
        out += text;
    };
    if (!m.peers_changed.empty()) {
        field("PeersChanged");
        out += '[';
        for (std::size_t i = 0; i < m.peers_changed.size(); ++i) {
            if (i) out += ',';
            out += m.peers_changed[i];
        }
        out += ']';
    }
    if (!m.peers_removed.empty()) {
        field("PeersRemoved");
        out += json(m.peers_removed).dump();
    }
    if (!m.patches.empty()) {
        field("PeersChangedPatch");
        out += m.patches.dump();
    }
    if (!m.online.empty()) {
        json online = json::object(), seen = json::object();
        for (const auto& [id, on] : m.online) {
            online[std::to_string(id)] = on;
            if (!on) seen[std::to_string(id)] = true;
        }
        field("OnlineChange");
        out += online.dump();
        if (!seen.empty()) pasted("PeerSeenChange", seen.dump());
    }
    pasted("PacketFilter", m.packet_filter);
    pasted("SSHPolicy", m.ssh_policy);
    pasted("Node", m.node);
    pasted("DERPMap", m.derp_map);
    pasted("UserProfiles", m.user_profiles);
    if (m.keep_alive) pasted("KeepAlive", "true");
    if (!out.empty()) out += '}';
    return out;
}

}  // namespace hs::control
