#include "captures_norm.h"

#include <algorithm>

#include "common/policy/ipset.h"

namespace hs::policy::captures {

namespace {

using nlohmann::json;

// "*", "a.b.c.d", "cidr", "first-last" -> canonical address-set text.
std::string canon_ips(const json& list) {
    IpSet s;
    for (const auto& v : list) {
        std::string t = v.get<std::string>();
        if (t == "*") {
            s.add(v4_all());
            s.add(Cidr{{0, true}, 0});
            continue;
        }
        auto dash = t.find('-');
        if (dash != std::string::npos) {
            auto a = parse_addr(t.substr(0, dash)), b = parse_addr(t.substr(dash + 1));
            if (a && b) s.add(Range{a->v, b->v});
            continue;
        }
        if (auto c = parse_cidr(t, true)) s.add(*c);
    }
    s.normalize();
    std::string out;
    for (const auto& x : s.strings()) out += x + " ";
    return out;
}

std::string canon_proto(const json& rule) {
    std::vector<int> p;
    if (rule.contains("IPProto") && rule["IPProto"].is_array()) p = rule["IPProto"].get<std::vector<int>>();
    std::sort(p.begin(), p.end());
    if (p.empty() || p == std::vector<int>{1, 6, 17, 58}) return "default";
    std::string out;
    for (int x : p) out += std::to_string(x) + ",";
    return out;
}

}  // namespace

std::set<std::string> norm_filter(const json& rules) {
    std::set<std::string> out;
    if (!rules.is_array()) return out;
    for (const auto& r : rules) {
        std::string src = canon_ips(r.value("SrcIPs", json::array()));
        std::string proto = canon_proto(r);
        if (r.contains("DstPorts") && r["DstPorts"].is_array()) {
            for (const auto& d : r["DstPorts"]) {
                std::string ip = d["IP"].get<std::string>();
                std::string dst = ip == "*" ? "*" : canon_ips(json::array({ip}));
                out.insert(src + "| " + proto + " | " + dst + "| " + std::to_string(d["Ports"]["First"].get<int>()) +
                           "-" + std::to_string(d["Ports"]["Last"].get<int>()));
            }
        }
        if (r.contains("CapGrant") && r["CapGrant"].is_array()) {
            for (const auto& g : r["CapGrant"]) {
                json caps = g.value("CapMap", json::object());
                for (const auto& d : g.value("Dsts", json::array())) {
                    for (const auto& [cap, val] : caps.items()) {
                        out.insert(src + "| cap " + cap + " | " + canon_ips(json::array({d})) + "| " + val.dump());
                    }
                }
            }
        }
    }
    return out;
}

std::set<std::string> norm_ssh(const json& rules) {
    std::set<std::string> out;
    if (!rules.is_array()) return out;
    for (const auto& r : rules) {
        std::vector<std::string> principals;
        for (const auto& p : r.value("principals", json::array())) principals.push_back(p.dump());
        std::sort(principals.begin(), principals.end());
        json norm = r;
        norm["principals"] = principals;
        out.insert(norm.dump());
    }
    return out;
}

std::set<std::string> norm_caps(const json& cap_map) {
    // Tailscale stamps tailnet-wide defaults and role caps on every node; hs's policy engine
    // only answers for nodeAttrs, so those are left out on both sides.
    static const std::set<std::string> defaults = {"https://tailscale.com/cap/file-sharing",
                                                   "https://tailscale.com/cap/is-admin",
                                                   "https://tailscale.com/cap/is-owner",
                                                   "https://tailscale.com/cap/ssh",
                                                   "https://tailscale.com/cap/tailnet-lock",
                                                   "https://tailscale.com/cap/warn-funnel-no-https",
                                                   "probe-udp-lifetime",
                                                   "ssh-behavior-v1",
                                                   "ssh-env-vars",
                                                   "store-appc-routes",
                                                   "tailnet-display-name",
                                                   "default-auto-update"};
    std::set<std::string> out;
    if (!cap_map.is_object()) return out;
    for (const auto& [k, v] : cap_map.items()) {
        if (defaults.count(k) || k.rfind("https://tailscale.com/cap/funnel-ports?", 0) == 0) continue;
        out.insert(k + "=" + (v.is_null() || (v.is_array() && v.empty()) ? std::string("null") : v.dump()));
    }
    return out;
}

std::set<std::string> norm_peers_want(const json& netmap) {
    std::set<std::string> out;
    if (!netmap.contains("Peers") || !netmap["Peers"].is_array()) return out;
    for (const auto& p : netmap["Peers"]) {
        std::string name = p.value("Name", "");
        name = name.substr(0, name.find('.'));
        std::vector<std::string> ips = p.value("AllowedIPs", std::vector<std::string>{});
        std::sort(ips.begin(), ips.end());
        std::string line = name + ":";
        for (const auto& ip : ips) line += " " + ip;
        for (const auto& cap : norm_caps(p.value("CapMap", json::object()))) line += " cap " + cap;
        out.insert(line);
    }
    return out;
}

std::set<std::string> norm_peers_got(const NodeView& view, const Topology& topo) {
    std::set<std::string> out;
    for (const auto& p : view.peers) {
        std::vector<std::string> ips = p.allowed_ips;
        std::sort(ips.begin(), ips.end());
        std::string line = topo.name_by_id.at(p.node_id) + ":";
        for (const auto& ip : ips) line += " " + ip;
        for (const auto& cap : norm_caps(p.cap_map)) line += " cap " + cap;
        out.insert(line);
    }
    return out;
}

}  // namespace hs::policy::captures
