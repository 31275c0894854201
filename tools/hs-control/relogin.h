// What a map request for a node key the server does not know (the node was deleted, its
// ephemeral record collected, the database replaced) is answered with, so the official client
// asks its user to log in again instead of looking Running while it stays offline.
//
// The client never re-registers because of a map error: a 404 only makes it retry the poll
// with backoff (controlclient/auto.go mapRoutine). What does move it is its own node's key
// expiry: a self Node whose KeyExpiry is in the past makes LocalBackend set keyExpired, its state
// machine answers NeedsLogin (ipnlocal nextStateLocked), and the next `tailscale up` makes a new
// node key (controlclient/direct.go doLogin: "Old key expired -> regen=true") and registers it.
// The message travels in MapResponse.Health, which the client shows in `tailscale status --json`
// (.Health) next to its own key-expiry warning.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/base/timeutil.h"
#include "tools/hs-control/tailnet.h"

namespace hs::control {

// The text the client shows for an unknown node.
inline constexpr const char* kUnknownNodeMessage =
    "this node is not known to the control server (deleted, expired or its database was replaced); "
    "log in again: tailscale up";

// The framed first (and only) message of a map stream for `node_key` of `machine_key`: a self
// Node with that key, expired at the Unix epoch, no addresses and no peers, and the message
// above. `derp_map` (tailcfg.DERPMap's JSON, or empty) goes along: a new stream starts from
// nothing on the client, and a map without one leaves its magicsock with no DERP at all, which it
// does not recover from promptly after the next login. `zstd`: compressed as the client asked
// (Compress: "zstd"), else plain framing.
std::string relogin_map_frame(const std::string& node_key, const std::string& machine_key, const std::string& derp_map,
                              TimePoint now, bool zstd);

// The answer to map request `req` whose NodeKey `node_key` no node has. A stream gets status 200
// with node_id 0 and the frame above as its only message: the connection keeps it open without
// attaching it to the tailnet (closing it would make the client poll again at once, as its
// backoff restarts on every map it receives). A one-shot request gets the frame; a lite update
// (OmitPeers without Stream) gets 404 "node not found", which the client only logs.
MapReply relogin_reply(const std::string& machine_key, const std::string& node_key, const nlohmann::json& req,
                       const std::string& derp_map, TimePoint now);

}  // namespace hs::control
