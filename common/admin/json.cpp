#include "common/admin/json.h"

namespace hs::admin {

json json_time(const std::optional<TimePoint>& t) { return t ? json(format_time(*t)) : json(); }
json json_time(TimePoint t) { return format_time(t); }

UserIndex user_index(Db& db) {
    UserIndex out;
    for (const auto& u : store::list_users(db)) out.emplace(u.id, user_json(u));
    return out;
}

json user_json(const User& u) {
    json j{{"id", u.id},       {"name", u.name},         {"display_name", u.display_name},
           {"email", u.email}, {"provider", u.provider}, {"created_at", json_time(u.created_at)}};
    // Users who signed in through OIDC: headscale's provider_id (<issuer>/<sub>) and picture.
    if (u.provider_identifier) j["provider_id"] = *u.provider_identifier;
    if (!u.profile_pic_url.empty()) j["profile_pic_url"] = u.profile_pic_url;
    if (!u.groups.empty()) j["groups"] = u.groups;
    return j;
}

json user_ref(const UserIndex& users, std::optional<std::int64_t> id) {
    if (!id) return nullptr;
    const auto it = users.find(*id);
    return it == users.end() ? json(nullptr) : it->second;
}

std::vector<std::string> advertised_routes(const Node& n) {
    std::vector<std::string> out;
    if (const auto it = n.host_info.find("RoutableIPs"); it != n.host_info.end() && it->is_array())
        for (const auto& r : *it)
            if (r.is_string()) out.push_back(r.get<std::string>());
    return out;
}

json node_json(const Node& n, const UserIndex& users, TimePoint now) {
    // Built field by field with moves: listings build 10,000 of these, and an initializer list
    // would copy every value once more.
    json::object_t o;
    o.reserve(20);
    auto put = [&o](const char* k, json v) { o.emplace(k, std::move(v)); };
    json ips = json::array();
    if (n.ipv4) ips.push_back(*n.ipv4);
    if (n.ipv6) ips.push_back(*n.ipv6);
    put("id", n.id);
    put("machine_key", n.machine_key);
    put("node_key", n.node_key);
    put("disco_key", n.disco_key);
    put("ip_addresses", std::move(ips));
    put("name", n.hostname);
    put("given_name", n.given_name);
    put("user", user_ref(users, n.user_id));
    put("tags", n.tags);
    // A node whose key expired (logged out, or expired by an admin) takes no part in the
    // tailnet even while its client still holds a map stream, or before hs-control's next
    // tick records the stream's end: it is not shown online.
    put("online", n.online && !n.expired(now));
    put("last_seen", json_time(n.last_seen));
    put("expiry", json_time(n.expiry));
    put("expired", n.expired(now));
    put("ephemeral", n.ephemeral);
    put("created_at", json_time(n.created_at));
    put("register_method", n.register_method);
    put("approved", n.approved);  // false: held back by auth.device_approval until nodes approve
    put("approved_routes", n.approved_routes);
    put("available_routes", advertised_routes(n));
    put("primary_routes", n.primary_routes);
    return json(std::move(o));
}

json preauth_key_json(const PreAuthKey& k, const UserIndex& users) {
    return {{"id", k.id},
            {"key", store::masked_preauth_key(k)},
            {"user", user_ref(users, k.user_id)},
            {"reusable", k.reusable},
            {"ephemeral", k.ephemeral},
            {"used", k.used},
            {"expiration", json_time(k.expiration)},
            {"created_at", json_time(k.created_at)},
            {"tags", k.tags}};
}

json api_key_json(const store::ApiKey& k) {
    return {{"id", k.id},
            {"prefix", store::masked_api_key(k)},
            {"expiration", json_time(k.expiration)},
            {"created_at", json_time(k.created_at)},
            {"last_seen", json_time(k.last_seen)}};
}

json auth_request_json(const AuthRequest& r, const UserIndex& users) {
    return {{"id", r.id},
            {"machine_key", r.machine_key},
            {"node_key", r.node_key},
            {"hostname", r.hostname},
            {"user", user_ref(users, r.user_id)},
            {"status", r.status},
            {"created_at", json_time(r.created_at)},
            {"expires_at", json_time(r.expires_at)}};
}

}  // namespace hs::admin
