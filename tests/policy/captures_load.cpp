#include "captures_load.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace hs::policy::captures {

namespace {

const char* kModule = "github.com/juanfont/headscale@v0.29.2";

std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

}  // namespace

std::string find_testdata(std::string& why) {
    const std::string tail = "/hscontrol/policy/v2/testdata";
    if (const char* env = std::getenv("HS_HEADSCALE_TESTDATA")) return env;
    std::string cache = run("go env GOMODCACHE 2>/dev/null");
    std::string dir = cache.empty() ? "" : cache + "/" + kModule + tail;
    if (!dir.empty() && std::filesystem::is_directory(dir)) return dir;
    // Not cached yet: ask Go to fetch it (read-only module cache, no repository changes).
    std::string json = run(std::string("cd / && go mod download -json ") + kModule + " 2>/dev/null");
    if (!json.empty()) {
        auto j = nlohmann::json::parse(json, nullptr, false);
        if (j.is_object() && j.contains("Dir") && std::filesystem::is_directory(j["Dir"].get<std::string>() + tail)) {
            return j["Dir"].get<std::string>() + tail;
        }
    }
    why = std::string("headscale's capture corpus not found: need Go and the module ") + kModule +
          " (go mod download " + kModule + "), or HS_HEADSCALE_TESTDATA=<.../hscontrol/policy/v2/testdata>";
    return "";
}

nlohmann::json read_capture(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string text = ss.str();
    // A comment header, then the JSON document.
    return nlohmann::json::parse(text, nullptr, true, true);
}

std::string policy_text(const nlohmann::json& c) {
    const auto& fp = c["input"]["full_policy"];
    if (fp.is_string()) return fp.get<std::string>();
    if (fp.is_null()) return "";
    return fp.dump();
}

Topology build_topology(const nlohmann::json& c) {
    Topology t;
    std::map<std::string, std::uint64_t> user_by_name;
    for (const auto& u : c["topology"]["users"]) {
        User rec{u["id"].get<std::uint64_t>(), u.value("name", ""), u.value("email", ""), "", ""};
        user_by_name[rec.name] = rec.id;
        t.users.push_back(rec);
    }
    // Primary routes are the SaaS's HA choice: a node's own netmap says which it serves; only
    // for a node without one do we fall back to what peers were told (via grants can show a
    // peer a non-primary router, so that is second best).
    std::map<std::string, std::set<std::string>> primaries, from_peers;
    std::set<std::string> has_self;
    if (c.contains("captures") && c["captures"].is_object()) {
        for (const auto& [viewer, cap] : c["captures"].items()) {
            if (!cap.contains("netmap") || cap["netmap"].is_null()) continue;
            const auto& nm = cap["netmap"];
            if (nm.contains("Peers") && nm["Peers"].is_array()) {
                for (const auto& p : nm["Peers"]) {
                    std::string name = p.value("Name", "");
                    name = name.substr(0, name.find('.'));
                    if (p.contains("PrimaryRoutes") && p["PrimaryRoutes"].is_array()) {
                        for (const auto& r : p["PrimaryRoutes"]) from_peers[name].insert(r.get<std::string>());
                    }
                }
            }
            if (nm.contains("SelfNode") && nm["SelfNode"].is_object()) has_self.insert(viewer);
            if (nm.contains("SelfNode") && nm["SelfNode"].contains("PrimaryRoutes") &&
                nm["SelfNode"]["PrimaryRoutes"].is_array()) {
                for (const auto& r : nm["SelfNode"]["PrimaryRoutes"]) primaries[viewer].insert(r.get<std::string>());
            }
        }
    }
    std::uint64_t id = 1;
    for (const auto& [name, n] : c["topology"]["nodes"].items()) {  // sorted by name
        Node rec;
        rec.id = id++;
        rec.given_name = name;
        rec.hostname = n.value("hostname", name);
        if (n.contains("tags") && n["tags"].is_array()) rec.tags = n["tags"].get<std::vector<std::string>>();
        rec.ipv4 = n.value("ipv4", "");
        rec.ipv6 = n.value("ipv6", "");
        if (n.contains("routable_ips") && n["routable_ips"].is_array())
            rec.announced_routes = n["routable_ips"].get<std::vector<std::string>>();
        if (n.contains("approved_routes") && n["approved_routes"].is_array())
            rec.approved_routes = n["approved_routes"].get<std::vector<std::string>>();
        if (rec.tags.empty() && n.contains("user") && user_by_name.count(n["user"].get<std::string>())) {
            rec.user_id = user_by_name[n["user"].get<std::string>()];
        }
        const auto& prim = has_self.count(name) ? primaries[name] : from_peers[name];
        rec.primary_routes.assign(prim.begin(), prim.end());
        t.id_by_name[name] = rec.id;
        t.name_by_id[rec.id] = name;
        t.nodes.push_back(std::move(rec));
    }
    return t;
}

}  // namespace hs::policy::captures
