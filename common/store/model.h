// The tailnet's records as the SQLite file holds them. Keys are kept in their text forms
// ("nodekey:<hex>") and JSON columns as JSON, so rows round-trip without loss.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/base/timeutil.h"

namespace hs {

struct User {
    std::int64_t id = 0;
    std::string name;
    std::string display_name;
    std::string email;
    std::string provider;
    std::optional<std::string> provider_identifier;
    std::string profile_pic_url;
    TimePoint created_at{};
    // The identity provider's groups at the user's last sign-in (OIDC users; group:oidc/<name>
    // in the policy).
    std::vector<std::string> groups;
};

struct PreAuthKey {
    std::int64_t id = 0;
    std::string prefix;  // public part, shown in listings as hskey-auth-<prefix>-***
    std::optional<std::int64_t> user_id;
    bool reusable = false;
    bool ephemeral = false;
    bool used = false;
    std::vector<std::string> tags;
    std::optional<TimePoint> expiration;
    TimePoint created_at{};

    bool expired(TimePoint now) const { return expiration && *expiration <= now; }
};

struct Node {
    std::int64_t id = 0;
    std::string machine_key;  // "mkey:..."
    std::string node_key;     // "nodekey:..."
    std::string disco_key;    // "discokey:..." or ""
    std::vector<std::string> endpoints;
    nlohmann::json host_info = nlohmann::json::object();
    std::optional<std::string> ipv4, ipv6;
    std::string hostname;
    std::string given_name;
    std::optional<std::int64_t> user_id;
    std::string register_method;  // authkey, cli, oidc
    std::vector<std::string> tags;
    std::optional<std::int64_t> auth_key_id;
    std::optional<TimePoint> last_seen;
    std::optional<TimePoint> expiry;  // nullopt = never expires
    std::vector<std::string> approved_routes;
    TimePoint created_at{};
    TimePoint updated_at{};
    bool online = false;                      // written by hs-control as sessions come and go
    std::uint64_t online_slots = 0;           // nodes.online: bit s while it streams to instance slot s
    std::vector<std::string> primary_routes;  // written by hs-control's primary-route election
    bool ephemeral = false;                   // deleted after logout or inactivity
    // False while auth.device_approval holds the node back: its peers do not see it, and its
    // own map says MachineAuthorized false, until `hs-admin nodes approve`.
    bool approved = true;

    bool expired(TimePoint now) const { return expiry && *expiry <= now; }
    bool operator==(const Node&) const = default;
};

// An interactive login waiting for an admin (hs-admin nodes register / auth register).
struct AuthRequest {
    std::string id;  // 24 characters; the /register/<id> URL and the admin command carry it
    std::string machine_key;
    std::string node_key;
    std::string hostname;
    std::optional<std::int64_t> user_id;  // set when approved
    std::string status;                   // pending, approved, done
    std::string method = "cli";           // who approved it: cli (an admin), oidc (the person's sign-in)
    TimePoint created_at{};
    TimePoint expires_at{};
};

}  // namespace hs
