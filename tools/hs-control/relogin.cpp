#include "tools/hs-control/relogin.h"

#include <nlohmann/json.hpp>

#include "common/control/mapframe.h"

namespace hs::control {

std::string relogin_map_frame(const std::string& node_key, const std::string& machine_key, const std::string& derp_map,
                              TimePoint now, bool zstd) {
    // KeyExpiry must be a real past time: the zero time means "never expires" to the client.
    // StableID and Name are placeholders the client only stores; there is no node to name.
    const nlohmann::json self = {
        {"ID", 0},
        {"StableID", "unknown"},
        {"Name", "unknown."},
        {"Key", node_key},
        {"KeyExpiry", "1970-01-01T00:00:01Z"},
        {"Machine", machine_key},
        {"Addresses", nlohmann::json::array()},
        {"AllowedIPs", nlohmann::json::array()},
        {"MachineAuthorized", true},
    };
    nlohmann::json msg = {
        {"Node", self},
        {"Health", {kUnknownNodeMessage}},
        {"ControlTime", format_time(now)},
    };
    if (!derp_map.empty()) msg["DERPMap"] = nlohmann::json::parse(derp_map);
    const auto text = msg.dump();
    return zstd ? frame_map_message(text) : frame_plain_message(text);
}

MapReply relogin_reply(const std::string& machine_key, const std::string& node_key, const nlohmann::json& req,
                       const std::string& derp_map, TimePoint now) {
    MapReply r;
    r.stream = req.value("Stream", false);
    if (!r.stream && req.value("OmitPeers", false)) {
        r.status = 404;
        r.error = "node not found";
        return r;
    }
    r.capver = req.value("Version", 0);
    r.zstd = req.value("Compress", std::string()) == "zstd";
    r.first = {std::make_shared<const std::string>(relogin_map_frame(node_key, machine_key, derp_map, now, r.zstd))};
    return r;
}

}  // namespace hs::control
