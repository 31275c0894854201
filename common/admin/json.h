// The JSON shapes hs-admin prints and hs-control's REST API returns (docs/json.md). One place
// builds them, so a local and a remote query give the same bytes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "common/store/db.h"
#include "common/store/model.h"
#include "common/store/store.h"

namespace hs::admin {

// Insertion-ordered, so objects print in the documented field order (id first).
using json = nlohmann::ordered_json;

// RFC 3339 UTC without fraction, or null.
json json_time(const std::optional<TimePoint>& t);
json json_time(TimePoint t);

// Keys and nodes name their owner; a listing reads the users and builds their objects once
// instead of once per row (10,000 nodes share a few users).
using UserIndex = std::map<std::int64_t, json>;
UserIndex user_index(Db& db);

// {id, name, display_name, email, provider, created_at}
json user_json(const User& u);
// The owner's user object, or null for none (or one deleted meanwhile).
json user_ref(const UserIndex& users, std::optional<std::int64_t> id);
json node_json(const Node& n, const UserIndex& users, TimePoint now);
json preauth_key_json(const PreAuthKey& k, const UserIndex& users);
json api_key_json(const store::ApiKey& k);
json auth_request_json(const AuthRequest& r, const UserIndex& users);
// What the client advertises (Hostinfo.RoutableIPs); only approved ones are served.
std::vector<std::string> advertised_routes(const Node& n);

}  // namespace hs::admin
