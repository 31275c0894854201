// Writing maps: headscale's `paths` YAML (yaml-cpp's emitter) and tailcfg JSON, both with the
// fields in tailcfg's order so output is stable and diffs stay small.
#include <algorithm>
#include <cctype>
#include <charconv>

#include <yaml-cpp/yaml.h>

#include "tools/hs-derpmap/commands.h"

namespace hs::derpmap {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Region IDs in numeric order.
std::vector<std::pair<long long, const json*>> sorted_regions(const json& map) {
    std::vector<std::pair<long long, const json*>> out;
    if (!map.contains("Regions") || !map["Regions"].is_object()) return out;
    for (const auto& [id, r] : map["Regions"].items()) out.emplace_back(std::stoll(id), &r);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
}

// A string YAML could read as something else (a number, a bool, null, an IPv6 with colons)
// is written quoted, so headscale's decoder and ours read back the same string.
bool needs_quotes(const std::string& s) {
    if (s.empty()) return true;
    static const char* const kWords[] = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"};
    const auto l = lower(s);
    for (const auto* w : kWords)
        if (l == w) return true;
    const char c = s.front();
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.') return true;
    return s.find(':') != std::string::npos || s.find('#') != std::string::npos || s.back() == ' ';
}

void emit_value(YAML::Emitter& e, const json& v, Kind kind) {
    switch (kind) {
        case Kind::Str: {
            const auto s = v.get<std::string>();
            if (needs_quotes(s)) e << YAML::DoubleQuoted;
            e << s;
            break;
        }
        case Kind::Int: e << v.get<long long>(); break;
        case Kind::Bool: e << v.get<bool>(); break;
        case Kind::Float:
            // nlohmann writes the shortest text that reads back to the same double.
            e << json(v.get<double>()).dump();
            break;
    }
}

void emit_fields(YAML::Emitter& e, const json& obj, const std::vector<FieldDef>& defs) {
    for (const auto& d : defs) {
        if (!obj.contains(d.name)) continue;
        e << YAML::Key << lower(d.name) << YAML::Value;
        emit_value(e, obj[d.name], d.kind);
    }
}

ojson ordered_fields(const json& obj, const std::vector<FieldDef>& defs) {
    ojson out = ojson::object();
    for (const auto& d : defs)
        if (obj.contains(d.name)) out[d.name] = ojson::parse(obj[d.name].dump());
    return out;
}

}  // namespace

std::string emit_yaml(const json& map) {
    YAML::Emitter e;
    e.SetIndent(2);
    e << YAML::BeginMap;
    if (map.contains("omitDefaultRegions")) {
        e << YAML::Key << "omitdefaultregions" << YAML::Value << map["omitDefaultRegions"].get<bool>();
    }
    e << YAML::Key << "regions" << YAML::Value;
    const auto regions = sorted_regions(map);
    if (regions.empty()) {
        e << YAML::Flow << YAML::BeginMap << YAML::EndMap;
    } else {
        e << YAML::BeginMap;
        for (const auto& [id, r] : regions) {
            e << YAML::Key << id << YAML::Value;
            if (r->is_null()) {
                e << YAML::Null;
                continue;
            }
            e << YAML::BeginMap;
            emit_fields(e, *r, kRegionFields);
            if (r->contains("Nodes")) {
                e << YAML::Key << "nodes" << YAML::Value;
                if ((*r)["Nodes"].empty()) {
                    e << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
                } else {
                    e << YAML::BeginSeq;
                    for (const auto& n : (*r)["Nodes"]) {
                        e << YAML::BeginMap;
                        emit_fields(e, n, kNodeFields);
                        e << YAML::EndMap;
                    }
                    e << YAML::EndSeq;
                }
            }
            e << YAML::EndMap;
        }
        e << YAML::EndMap;
    }
    e << YAML::EndMap;
    if (!e.good()) throw std::runtime_error("YAML emitter: " + e.GetLastError());
    // yaml-cpp writes a null region as "~"; headscale's docs spell it "null". Only a region
    // line can end in a bare ~ (a string "~" is always quoted).
    std::string out = std::string(e.c_str()) + "\n";
    for (std::size_t at = 0; (at = out.find(": ~\n", at)) != std::string::npos;) out.replace(at, 4, ": null\n");
    return out;
}

std::string emit_json(const json& map) {
    ojson out = ojson::object();
    ojson regions = ojson::object();
    for (const auto& [id, r] : sorted_regions(map)) {
        if (r->is_null()) {
            regions[std::to_string(id)] = nullptr;
            continue;
        }
        ojson region = ordered_fields(*r, kRegionFields);
        if (r->contains("Nodes")) {
            ojson nodes = ojson::array();
            for (const auto& n : (*r)["Nodes"]) nodes.push_back(ordered_fields(n, kNodeFields));
            region["Nodes"] = nodes;
        }
        regions[std::to_string(id)] = region;
    }
    out["Regions"] = regions;
    if (map.contains("omitDefaultRegions")) out["omitDefaultRegions"] = map["omitDefaultRegions"].get<bool>();
    return out.dump(2) + "\n";
}

}  // namespace hs::derpmap
