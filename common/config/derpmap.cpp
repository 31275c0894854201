#include "common/config/derpmap.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>

#include "common/base/files.h"
#include "common/base/netaddr.h"

namespace hs {
namespace {

using nlohmann::json;

enum class Kind { Str, Int, Bool, Float };
struct FieldDef {
    const char* name;
    Kind kind;
};

constexpr std::array<FieldDef, 12> kNodeFields{{
    {"Name", Kind::Str},
    {"RegionID", Kind::Int},
    {"HostName", Kind::Str},
    {"CertName", Kind::Str},
    {"IPv4", Kind::Str},
    {"IPv6", Kind::Str},
    {"STUNPort", Kind::Int},
    {"STUNOnly", Kind::Bool},
    {"DERPPort", Kind::Int},
    {"InsecureForTests", Kind::Bool},
    {"STUNTestIP", Kind::Str},
    {"CanPort80", Kind::Bool},
}};
constexpr std::array<FieldDef, 7> kRegionFields{{
    {"RegionID", Kind::Int},
    {"RegionCode", Kind::Str},
    {"RegionName", Kind::Str},
    {"Latitude", Kind::Float},
    {"Longitude", Kind::Float},
    {"Avoid", Kind::Bool},
    {"NoMeasureNoHome", Kind::Bool},
}};

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

[[noreturn]] void fail(const std::string& name, const YAML::Node& at, const std::string& msg) {
    throw DerpMapError(name + ":" + std::to_string(at.Mark().line + 1) + ": " + msg);
}

json scalar(const std::string& name, const YAML::Node& v, Kind kind, const std::string& field) {
    if (!v.IsScalar()) fail(name, v, field + ": expected a value, got a " + (v.IsMap() ? "mapping" : "list"));
    const auto& s = v.Scalar();
    switch (kind) {
        case Kind::Str:
            // The map is sent to clients as JSON, which cannot carry arbitrary bytes.
            try {
                (void)json(s).dump();
            } catch (const json::type_error&) {
                fail(name, v, field + ": not valid UTF-8");
            }
            return s;
        case Kind::Bool:
            if (s == "true" || s == "True") return true;
            if (s == "false" || s == "False") return false;
            fail(name, v, field + ": expected true or false, got \"" + s + "\"");
        case Kind::Int: {
            long long n = 0;
            const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
            if (ec != std::errc{} || end != s.data() + s.size())
                fail(name, v, field + ": expected an integer, got \"" + s + "\"");
            return n;
        }
        case Kind::Float:
            try {
                std::size_t used = 0;
                const double d = std::stod(s, &used);
                if (used != s.size() || !std::isfinite(d)) throw std::invalid_argument(s);
                return d;
            } catch (const std::exception&) {
                fail(name, v, field + ": expected a number, got \"" + s + "\"");
            }
    }
    return nullptr;
}

template <std::size_t N>
json object(const std::string& name, const YAML::Node& node, const std::array<FieldDef, N>& defs,
            const std::string& what, bool allow_nodes) {
    if (!node.IsMap()) fail(name, node, what + ": expected a mapping");
    json out = json::object();
    for (const auto& kv : node) {
        const auto key = kv.first.Scalar();
        const auto lk = lower(key);
        if (allow_nodes && lk == "nodes") {
            if (kv.second.IsNull()) continue;
            if (!kv.second.IsSequence()) fail(name, kv.second, what + ".nodes: expected a list");
            json nodes = json::array();
            for (const auto& n : kv.second) nodes.push_back(object(name, n, kNodeFields, what + " node", false));
            out["Nodes"] = nodes;
            continue;
        }
        const auto it = std::find_if(defs.begin(), defs.end(), [&](const FieldDef& d) { return lower(d.name) == lk; });
        if (it == defs.end()) fail(name, kv.first, what + ": unknown field \"" + key + "\"");
        if (kv.second.IsNull()) continue;
        out[it->name] = scalar(name, kv.second, it->kind, what + "." + key);
    }
    return out;
}

}  // namespace

json parse_derp_map(std::string_view text, const std::string& name) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        throw DerpMapError(name + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML/JSON: " + e.msg);
    }
    if (!root.IsMap()) throw DerpMapError(name + ": expected a mapping with a \"regions\" key");
    json out = {{"Regions", json::object()}};
    try {
        for (const auto& kv : root) {
            const auto key = lower(kv.first.Scalar());
            if (key == "omitdefaultregions") {
                out["omitDefaultRegions"] = scalar(name, kv.second, Kind::Bool, "omitDefaultRegions");
            } else if (key == "regions") {
                if (kv.second.IsNull()) continue;
                if (!kv.second.IsMap()) fail(name, kv.second, "regions: expected a mapping from region ID to region");
                for (const auto& r : kv.second) {
                    const auto id = r.first.Scalar();
                    long long n = 0;
                    const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
                    if (ec != std::errc{} || end != id.data() + id.size() || n <= 0)
                        fail(name, r.first, "region key \"" + id + "\" is not a positive integer");
                    out["Regions"][std::to_string(n)] =
                        r.second.IsNull() ? json(nullptr) : object(name, r.second, kRegionFields, "region " + id, true);
                }
            } else if (key == "homeparams") {
                continue;  // scoring hints; hs does not pass them on
            } else {
                fail(name, kv.first, "unknown top-level field \"" + kv.first.Scalar() + "\"");
            }
        }
    } catch (const YAML::Exception& e) {
        throw DerpMapError(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    return out;
}

void merge_derp_map(json& base, const json& overlay) {
    if (!base.contains("Regions") || !base["Regions"].is_object()) base["Regions"] = json::object();
    if (overlay.contains("omitDefaultRegions")) base["omitDefaultRegions"] = overlay["omitDefaultRegions"];
    if (!overlay.contains("Regions")) return;
    for (const auto& [id, region] : overlay["Regions"].items()) {
        if (region.is_null()) base["Regions"].erase(id);
        else base["Regions"][id] = region;
    }
}

json embedded_derp_region(const Config& c, const std::string& cert_name) {
    // Clients reach the embedded DERP at server_url's host and port.
    std::string rest = c.server_url.substr(c.server_url.find("://") + 3);
    rest = rest.substr(0, rest.find('/'));
    std::string host = rest;
    int port = c.server_url.rfind("https://", 0) == 0 ? 443 : 80;
    if (!rest.empty() && rest.front() == '[') {
        const auto close = rest.find(']');
        host = rest.substr(1, close - 1);
        if (close + 1 < rest.size() && rest[close + 1] == ':') port = std::stoi(rest.substr(close + 2));
    } else if (const auto colon = rest.rfind(':'); colon != std::string::npos) {
        host = rest.substr(0, colon);
        port = std::stoi(rest.substr(colon + 1));
    }
    if (const auto tls = parse_host_port(c.derp.tls_listen_addr)) port = tls->port;
    json node = {{"Name", std::to_string(c.derp.region_id) + "a"},
                 {"RegionID", c.derp.region_id},
                 {"HostName", host},
                 {"DERPPort", port}};
    if (!cert_name.empty()) node["CertName"] = cert_name;
    if (const auto hp = parse_host_port(c.derp.stun_listen_addr)) node["STUNPort"] = hp->port;
    if (!c.derp.ipv4.empty()) node["IPv4"] = c.derp.ipv4;
    if (!c.derp.ipv6.empty()) node["IPv6"] = c.derp.ipv6;
    if (const auto ip = parse_ip(host)) {
        // An IP-literal server URL: no DNS needed, and no family the host does not have.
        if (!ip->v6 && !node.contains("IPv4")) node["IPv4"] = host;
        if (!ip->v6 && !node.contains("IPv6")) node["IPv6"] = "none";
        if (ip->v6 && !node.contains("IPv6")) node["IPv6"] = host;
        if (ip->v6 && !node.contains("IPv4")) node["IPv4"] = "none";
    }
    return {{"RegionID", c.derp.region_id},
            {"RegionCode", c.derp.region_code},
            {"RegionName", c.derp.region_name},
            {"Nodes", json::array({node})}};
}

json derp_map_from_config(const Config& c, const std::function<std::string(const std::string&)>& fetch,
                          std::map<std::string, json>& last_good, std::vector<std::string>& failures,
                          const std::string& embedded_cert_name) {
    json map = {{"Regions", json::object()}};
    for (const auto& url : c.derp.urls) {
        try {
            auto m = parse_derp_map(fetch(url), url);
            last_good[url] = m;
            merge_derp_map(map, m);
        } catch (const std::exception& e) {
            failures.push_back(e.what());
            if (const auto it = last_good.find(url); it != last_good.end()) merge_derp_map(map, it->second);
        }
    }
    for (const auto& p : c.derp.paths) {
        std::string text;
        try {
            text = read_file(p);
        } catch (const FileError& e) {
            throw DerpMapError(e.what());
        }
        merge_derp_map(map, parse_derp_map(text, p));
    }
    if (c.derp.server_enabled && c.derp.auto_add_embedded_region)
        map["Regions"][std::to_string(c.derp.region_id)] = embedded_derp_region(c, embedded_cert_name);
    return map;
}

void require_derp_regions(const nlohmann::json& map) {
    if (!map.contains("Regions") || map["Regions"].empty())
        throw DerpMapError(
            "the DERP map is empty: clients need at least one DERP region. Set derp.paths to a DERP "
            "map file, derp.urls to a map URL that answers, or derp.server.enabled: true");
}

}  // namespace hs
