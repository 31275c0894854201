// POST /machine/map: the long poll, lite updates and one-shot maps.
#include <spdlog/spdlog.h>

#include "common/base/keys.h"
#include "common/control/mapframe.h"
#include "common/store/store.h"
#include "tools/hs-control/relogin.h"
#include "tools/hs-control/tailnet.h"

namespace hs::control {

using nlohmann::json;

namespace {

MapReply map_error(int status, std::string msg) {
    MapReply r;
    r.status = status;
    r.error = std::move(msg);
    return r;
}

}  // namespace

MapReply Tailnet::map_request(const std::string& machine_key, const json& req, TimePoint now) {
    on_owner_thread();
    const auto node_key = request_key(req, "NodeKey", kNodePrefix);
    if (!node_key) return map_error(400, "NodeKey is missing or malformed");
    const int capver = req.value("Version", 0);
    if (capver < kMinCapVer)
        return map_error(400, "unsupported client version (capability version " + std::to_string(capver) +
                                  ", at least " + std::to_string(kMinCapVer) + " needed)");
    Live* lp = by_node_key(*node_key);
    if (!lp) {
        // Registered a moment ago through another instance (or by hs-admin): not read yet.
        read_other_writers(now);
        lp = by_node_key(*node_key);
    }
    if (!lp) return relogin_reply(machine_key, *node_key, req, derp_map_json_, now);  // unknown: log in again
    if (lp->rec.machine_key != machine_key) return map_error(401, "node key belongs to another machine");
    auto& l = *lp;

    MapReply r;
    r.node_id = l.rec.id;
    r.capver = capver;
    r.stream = req.value("Stream", false);
    r.lite = !r.stream && req.value("OmitPeers", false);

    apply_report(l, req, capver, now);
    if (!r.lite) {
        r.zstd = req.value("Compress", std::string()) == "zstd";
        r.first = map_message(l, r.zstd, now);
    }
    publish(now);
    return r;
}

void Tailnet::apply_report(Live& l, const json& req, int capver, TimePoint now) {
    // An absent or empty Endpoints list means "unchanged" (the field is omitempty on the wire),
    // and a Hostinfo without NetInfo keeps the old one. What peers need from this (endpoints,
    // disco key, home DERP) goes out as a patch (report_patch); other Hostinfo changes go out
    // whole. NetInfo's latency figures alone reach nobody: peers do not use them, and roaming
    // clients report them constantly.
    Node next = l.rec;
    if (const auto disco = request_key(req, "DiscoKey", kDiscoPrefix)) next.disco_key = *disco;
    if (const auto ep = req.find("Endpoints"); ep != req.end() && ep->is_array() && !ep->empty()) {
        next.endpoints.clear();
        for (const auto& e : *ep)
            if (e.is_string()) next.endpoints.push_back(e.get<std::string>());
    }
    if (const auto hi = req.find("Hostinfo"); hi != req.end() && hi->is_object() && !hi->empty()) {
        json merged = *hi;
        if (!merged.contains("NetInfo") && next.host_info.contains("NetInfo"))
            merged["NetInfo"] = next.host_info["NetInfo"];
        next.host_info = std::move(merged);
        if (const auto h = next.host_info.find("Hostname"); h != next.host_info.end() && h->is_string())
            next.hostname = h->get<std::string>();
    }
    const bool cap_moved = capver != l.capver;
    if (next == l.rec && !cap_moved) return;
    l.capver = capver;  // the Live's, not the record's: rendered by change() below
    auto patch = report_patch(l.rec, next);
    if (patch && cap_moved) (*patch)["Cap"] = capver;
    // The node itself learns nothing new from its own report; only peers need it.
    How how{.write = Write::ClientReport, .tell = Tell::Peers};
    if (patch) {
        how.tell = Tell::Patch;
        how.patch = std::move(*patch);
    }
    change(l, std::move(next), now, how);
}

}  // namespace hs::control
