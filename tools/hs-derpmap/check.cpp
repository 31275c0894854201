// check: the consistency rules a hand-written map most often breaks. One line per problem on
// stderr and exit status 1; silence and 0 when the map is fine.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include "common/base/netaddr.h"
#include "common/config/derpmap.h"
#include "tools/hs-derpmap/commands.h"

namespace hs::derpmap {

using nlohmann::json;

namespace {

bool is_hex(const std::string& s) { return s.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos; }

void check_addr(const json& node, const char* field, bool want_v6, const std::string& where,
                std::vector<std::string>& problems) {
    if (!node.contains(field)) return;
    const auto v = node[field].get<std::string>();
    if (v.empty() || v == "none") return;
    const auto ip = parse_ip(v);
    if (!ip || ip->v6 != want_v6)
        problems.push_back(where + ": " + field + " \"" + v + "\" is not an " + (want_v6 ? "IPv6" : "IPv4") +
                           " address (use \"\" for DNS or \"none\")");
}

}  // namespace

std::vector<std::string> check_map(const json& map) {
    std::vector<std::string> problems;
    std::map<std::string, std::string> names;  // node name -> where it was first seen
    std::vector<std::pair<long long, std::string>> ids;
    for (const auto& [id, r] : map["Regions"].items()) ids.emplace_back(std::stoll(id), id);
    std::sort(ids.begin(), ids.end());
    for (const auto& [num, id] : ids) {
        const auto& r = map["Regions"][id];
        const std::string where = "region " + id;
        if (r.is_null()) continue;  // an overlay's removal marker
        const long long rid = r.value("RegionID", 0LL);
        if (rid != num)
            problems.push_back(where + ": RegionID is " + std::to_string(rid) + ", not the region key " + id);
        if (num > (1LL << 53) - 1) problems.push_back(where + ": region ID is larger than 2^53-1");
        if (r.value("RegionCode", "").empty()) problems.push_back(where + ": RegionCode is empty");
        if (!r.contains("Nodes") || r["Nodes"].empty()) {
            problems.push_back(where + ": has no nodes");
            continue;
        }
        bool derp_node = false;
        for (std::size_t i = 0; i < r["Nodes"].size(); ++i) {
            const auto& n = r["Nodes"][i];
            const auto name = n.value("Name", "");
            const std::string nw = where + " node " + (name.empty() ? "#" + std::to_string(i + 1) : name);
            if (name.empty()) problems.push_back(nw + ": Name is empty");
            else if (const auto [it, fresh] = names.emplace(name, where); !fresh)
                problems.push_back(nw + ": Name is also used in " + it->second + " (names must be unique in the map)");
            const long long nrid = n.value("RegionID", 0LL);
            if (nrid != num)
                problems.push_back(nw + ": RegionID is " + std::to_string(nrid) + ", not the region's " + id);
            if (n.value("HostName", "").empty()) problems.push_back(nw + ": HostName is empty");
            const long long stun = n.value("STUNPort", 0LL);
            if (stun < -1 || stun > 65535)
                problems.push_back(nw + ": STUNPort " + std::to_string(stun) +
                                   " is out of range (0-65535, or -1 for no STUN)");
            const long long derp = n.value("DERPPort", 0LL);
            if (derp < 0 || derp > 65535)
                problems.push_back(nw + ": DERPPort " + std::to_string(derp) + " is out of range (0-65535)");
            check_addr(n, "IPv4", false, nw, problems);
            check_addr(n, "IPv6", true, nw, problems);
            if (n.contains("STUNTestIP") && !n["STUNTestIP"].get<std::string>().empty() &&
                !parse_ip(n["STUNTestIP"].get<std::string>()))
                problems.push_back(nw + ": STUNTestIP \"" + n["STUNTestIP"].get<std::string>() +
                                   "\" is not an IP address");
            const auto cert = n.value("CertName", "");
            if (cert.rfind("sha256-raw:", 0) == 0) {
                const auto hex = cert.substr(11);
                if (hex.size() != 64 || !is_hex(hex))
                    problems.push_back(nw + ": CertName sha256-raw: needs 64 hex digits");
            }
            if (n.value("STUNOnly", false) && stun < 0)
                problems.push_back(nw + ": STUNOnly with STUNPort -1 does nothing");
            if (!n.value("STUNOnly", false)) derp_node = true;
        }
        if (!derp_node) problems.push_back(where + ": every node is STUNOnly, so no DERP traffic can use the region");
    }
    return problems;
}

std::function<int()> add_check(CLI::App& app) {
    auto in = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("check",
                                   "Validate a map from FILE or stdin: region keys, RegionIDs, unique "
                                   "node names, ports, addresses. Exit 1 with one line per problem.");
    cmd->add_option("file", *in, "Map file (default: stdin)");
    return [in] {
        const auto m = read_map(*in);
        const auto problems = check_map(m.map);
        for (const auto& p : problems) std::fprintf(stderr, "%s: %s\n", m.name.c_str(), p.c_str());
        return problems.empty() ? 0 : 1;
    };
}

}  // namespace hs::derpmap
