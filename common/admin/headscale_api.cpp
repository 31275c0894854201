#include "common/admin/headscale_api.h"

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>

#include "common/base/url.h"

namespace hs::admin {
namespace {

// Times as headscale's gateway writes them: RFC 3339, or null for an unset one. (headscale adds
// nanoseconds; a client parsing RFC 3339 takes either.)
json hs_time(const json& t) { return t.is_string() ? t : json(nullptr); }
json id_text(const json& id) { return id.is_number_integer() ? json(std::to_string(id.get<std::int64_t>())) : id; }

// Request fields: the gateway accepts a field's proto name and its JSON (camelCase) name.
struct Request {
    json fields = json::object();
    const json* find(const char* camel, const char* proto) const {
        for (const char* k : {camel, proto}) {
            const auto it = fields.find(k);
            if (it != fields.end() && !it->is_null()) return &*it;
        }
        return nullptr;
    }
    std::string str(const char* camel, const char* proto = nullptr) const {
        const auto* v = find(camel, proto ? proto : camel);
        if (!v) return "";
        if (v->is_string()) return v->get<std::string>();
        // A field given twice in the query is an array of its values, which may hold bytes
        // that are not UTF-8: replaced, not thrown on (fuzz_rest_api).
        return v->dump(-1, ' ', false, json::error_handler_t::replace);
    }
    bool flag(const char* camel, const char* proto = nullptr) const {
        const auto* v = find(camel, proto ? proto : camel);
        return v && (v->is_boolean() ? v->get<bool>() : v->is_string() && v->get<std::string>() == "true");
    }
    json list(const char* camel, const char* proto = nullptr) const {
        const auto* v = find(camel, proto ? proto : camel);
        if (!v) return json::array();
        if (v->is_array()) return *v;
        return json::array({*v});  // a repeated query parameter given once
    }
};

// A google.protobuf.Timestamp request field for hs's operations, which take the time itself;
// unset is headscale's zero time (never).
std::string expiration_text(const Request& r) {
    const auto t = r.str("expiration");
    return t.empty() ? "0" : t;
}

class Translator {
public:
    explicit Translator(Env& env) : env_(env) {}

    json user(const json& u) {
        if (u.is_null()) return nullptr;
        const auto id = u["id"].get<std::int64_t>();
        auto& rec = users_[id];
        if (!rec) rec = store::find_user(env_.db, id);
        return {{"id", id_text(u["id"])},
                {"name", u["name"]},
                {"createdAt", hs_time(u["created_at"])},
                {"displayName", u["display_name"]},
                {"email", u["email"]},
                {"providerId", rec && rec->provider_identifier ? *rec->provider_identifier : ""},
                {"provider", u["provider"]},
                {"profilePicUrl", rec ? rec->profile_pic_url : ""}};
    }

    json preauth_key(const json& k) {
        // headscale stores a key without expiry as the zero time, and writes it so.
        return {{"user", user(k["user"])},
                {"id", id_text(k["id"])},
                {"key", k["key"]},
                {"reusable", k["reusable"]},
                {"ephemeral", k["ephemeral"]},
                {"used", k["used"]},
                {"expiration", k["expiration"].is_null() ? json("0001-01-01T00:00:00Z") : k["expiration"]},
                {"createdAt", hs_time(k["created_at"])},
                {"aclTags", k["tags"]}};
    }

    static json api_key(const json& k) {
        return {{"id", id_text(k["id"])},
                {"prefix", k["prefix"]},
                {"expiration", hs_time(k["expiration"])},
                {"createdAt", hs_time(k["created_at"])},
                {"lastSeen", hs_time(k["last_seen"])}};
    }

    // headscale fills subnetRoutes and the tagged nodes' user differently per call
    // (grpcv1.go): ListNodes gives the primary routes plus the approved exit routes and shows
    // tagged nodes as the "tagged-devices" user; SetApprovedRoutes gives the primary routes;
    // every other call leaves subnetRoutes empty and a tagged node's user null.
    enum class NodeView { Listed, Approved, Plain };

    json node(const json& n) { return node_as(n, NodeView::Plain); }
    json listed_node(const json& n) { return node_as(n, NodeView::Listed); }

    json node_as(const json& n, NodeView view) {
        static const std::map<std::string, std::string> methods = {
            {"authkey", "REGISTER_METHOD_AUTH_KEY"}, {"cli", "REGISTER_METHOD_CLI"}, {"oidc", "REGISTER_METHOD_OIDC"}};
        const auto m = methods.find(n.value("register_method", ""));
        auto serving = json::array();
        if (view != NodeView::Plain) serving = n["primary_routes"];
        if (view == NodeView::Listed)
            for (const auto& r : n["approved_routes"])
                if ((r == "0.0.0.0/0" || r == "::/0") &&
                    std::find(n["available_routes"].begin(), n["available_routes"].end(), r) !=
                        n["available_routes"].end())
                    serving.push_back(r);
        const bool tagged = !n["tags"].empty();
        return {{"id", id_text(n["id"])},
                {"machineKey", n["machine_key"]},
                {"nodeKey", n["node_key"]},
                {"discoKey", n["disco_key"]},
                {"ipAddresses", n["ip_addresses"]},
                {"name", n["name"]},
                {"user", view == NodeView::Listed && tagged ? tagged_devices() : user(n["user"])},
                {"lastSeen", hs_time(n["last_seen"])},
                {"expiry", hs_time(n["expiry"])},
                {"preAuthKey", auth_key_of(n)},
                {"createdAt", hs_time(n["created_at"])},
                {"registerMethod", m == methods.end() ? "REGISTER_METHOD_UNSPECIFIED" : m->second},
                {"givenName", n["given_name"]},
                {"online", n["online"]},
                {"approvedRoutes", n["approved_routes"]},
                {"availableRoutes", n["available_routes"]},
                {"subnetRoutes", serving},
                {"tags", n["tags"]}};
    }

    // headscale's stand-in owner of tagged nodes (types.TaggedDevices, ID 2147455555).
    static json tagged_devices() {
        return {{"id", "2147455555"},
                {"name", "tagged-devices"},
                {"createdAt", "0001-01-01T00:00:00Z"},
                {"displayName", "Tagged Devices"},
                {"email", ""},
                {"providerId", ""},
                {"provider", ""},
                {"profilePicUrl", ""}};
    }

    // The pre-auth key a node registered with (masked), or null.
    json auth_key_of(const json& node) {
        if (node.value("register_method", "") != "authkey") return nullptr;
        const auto n = store::find_node(env_.db, node["id"].get<std::int64_t>());
        if (!n || !n->auth_key_id) return nullptr;
        const auto k = store::find_preauth_key(env_.db, *n->auth_key_id);
        if (!k) return nullptr;
        if (!index_) index_ = user_index(env_.db);
        return preauth_key(preauth_key_json(*k, *index_));
    }

    json list(const json& items, json (Translator::*one)(const json&)) {
        auto out = json::array();
        for (const auto& i : items) out.push_back((this->*one)(i));
        return out;
    }

    json run(const char* op, json params) { return run_op(op, params, env_); }

private:
    Env& env_;
    std::map<std::int64_t, std::optional<User>> users_;
    std::optional<UserIndex> index_;
};

using Handler = std::function<json(Translator&, Env&, const std::map<std::string, std::string>&, const Request&)>;
struct Route {
    const char* method;
    const char* path;
    Handler run;
};
using Vars = std::map<std::string, std::string>;

json user_routes_create(Translator& t, Env&, const Vars&, const Request& r) {
    return {{"user", t.user(t.run("users.create", {{"name", r.str("name")},
                                                   {"display_name", r.str("displayName", "display_name")},
                                                   {"email", r.str("email")},
                                                   {"picture_url", r.str("pictureUrl", "picture_url")}}))}};
}

json node_expire(Translator& t, Env&, const Vars& v, const Request& r) {
    json p = {{"id", v.at("node_id")}};
    if (const auto e = r.str("expiry"); !e.empty()) p["expiry"] = e;
    if (r.flag("disableExpiry", "disable_expiry")) p["disable_expiry"] = true;
    return {{"node", t.node(t.run("nodes.expire", p))}};
}

json api_preauth_create(Translator& t, Env&, const Vars&, const Request& r) {
    auto k = t.run("preauthkeys.create", {{"user", r.str("user")},
                                          {"reusable", r.flag("reusable")},
                                          {"ephemeral", r.flag("ephemeral")},
                                          {"expiration", expiration_text(r)},
                                          {"tags", r.list("aclTags", "acl_tags")}});
    return {{"preAuthKey", t.preauth_key(k)}};
}

// headscale's getAPIKey: exactly one of id (non-zero) and prefix.
json api_key_ref(const std::string& id, const std::string& prefix) {
    const bool has_id = !id.empty() && id != "0";
    if (has_id && !prefix.empty()) throw store::StoreError("provide either id or prefix, not both");
    if (!has_id && prefix.empty()) throw store::StoreError("must provide id or prefix");
    return has_id ? json{{"id", id}} : json{{"prefix", prefix}};
}

// headscale elects primary routers inside SetApprovedRoutes and answers with the result;
// hs-control elects them when it reads the change, a moment after this answer. The answer
// shows what that election will give: an online node serving a subnet no other node is primary
// for becomes its primary (hs-control keeps an existing primary, as headscale does).
void expect_primaries(Translator& t, json& n) {
    if (!n.value("online", false)) return;
    std::vector<std::string> taken;
    for (const auto& row : t.run("routes.list", json::object()))
        if (row.value("primary", false) && row["node_id"] != n["id"]) taken.push_back(row["prefix"].get<std::string>());
    auto& primary = n["primary_routes"];
    for (const auto& r : n["approved_routes"]) {
        const auto p = r.get<std::string>();
        const auto& adv = n["available_routes"];
        if (p == "0.0.0.0/0" || p == "::/0" || std::find(adv.begin(), adv.end(), r) == adv.end()) continue;
        if (std::find(taken.begin(), taken.end(), p) == taken.end() &&
            std::find(primary.begin(), primary.end(), r) == primary.end())
            primary.push_back(r);
    }
}

json policy_reply(const json& p) { return {{"policy", p["policy"]}, {"updatedAt", hs_time(p["updated_at"])}}; }

// Users, pre-auth keys and API keys.
std::vector<Route> key_routes() {
    return {
        {"GET", "/api/v1/user",
         [](Translator& t, Env&, const Vars&, const Request& r) {
             json p = {{"name", r.str("name")}, {"email", r.str("email")}};
             if (const auto id = r.str("id"); !id.empty() && id != "0") p["id"] = id;
             return json{{"users", t.list(t.run("users.list", p), &Translator::user)}};
         }},
        {"POST", "/api/v1/user", user_routes_create},
        {"POST", "/api/v1/user/{old_id}/rename/{new_name}",
         [](Translator& t, Env&, const Vars& v, const Request&) {
             return json{
                 {"user", t.user(t.run("users.rename", {{"user", v.at("old_id")}, {"new_name", v.at("new_name")}}))}};
         }},
        {"DELETE", "/api/v1/user/{id}",
         [](Translator& t, Env&, const Vars& v, const Request&) {
             t.run("users.delete", {{"user", v.at("id")}});
             return json::object();
         }},
        {"GET", "/api/v1/preauthkey",
         [](Translator& t, Env&, const Vars&, const Request& r) {
             return json{{"preAuthKeys",
                          t.list(t.run("preauthkeys.list", {{"user", r.str("user")}}), &Translator::preauth_key)}};
         }},
        {"POST", "/api/v1/preauthkey", api_preauth_create},
        {"POST", "/api/v1/preauthkey/expire",
         [](Translator& t, Env&, const Vars&, const Request& r) {
             t.run("preauthkeys.expire", {{"id", r.str("id")}});
             return json::object();
         }},
        {"DELETE", "/api/v1/preauthkey",
         [](Translator& t, Env&, const Vars&, const Request& r) {
             t.run("preauthkeys.delete", {{"id", r.str("id")}});
             return json::object();
         }},
        {"GET", "/api/v1/apikey",
         [](Translator& t, Env&, const Vars&, const Request&) {
             auto out = json::array();
             for (const auto& k : t.run("apikeys.list", json::object())) out.push_back(Translator::api_key(k));
             return json{{"apiKeys", out}};
         }},
        {"POST", "/api/v1/apikey",
         [](Translator& t, Env&, const Vars&, const Request& r) {
             // headscale's own client always sends one; without, hs's default lifetime (90 days).
             json p = json::object();
             if (!r.str("expiration").empty()) p["expiration"] = expiration_text(r);
             const auto k = t.run("apikeys.create", p);
             return json{{"apiKey", k["key"]}};
         }},
        {"POST", "/api/v1/apikey/expire",
         [](Translator& t, Env&, const Vars&, const Request& r) {
             t.run("apikeys.expire", api_key_ref(r.str("id"), r.str("prefix")));
             return json::object();
         }},
        {"DELETE", "/api/v1/apikey/{prefix}",
         [](Translator& t, Env&, const Vars& v, const Request& r) {
             t.run("apikeys.delete", api_key_ref(r.str("id"), v.at("prefix")));
             return json::object();
         }},
    };
}

// Nodes.
std::vector<Route> node_routes() {
    return {
        {"GET", "/api/v1/node",
         [](Translator& t, Env&, const Vars&, const Request& r) {
             return json{{"nodes", t.list(t.run("nodes.list", {{"user", r.str("user")}}), &Translator::listed_node)}};
         }},
        {"GET", "/api/v1/node/{node_id}",
         [](Translator& t, Env&, const Vars& v, const Request&) {
             return json{{"node", t.node(t.run("nodes.show", {{"id", v.at("node_id")}}))}};
         }},
        {"DELETE", "/api/v1/node/{node_id}",
         [](Translator& t, Env&, const Vars& v, const Request&) {
             t.run("nodes.delete", {{"id", v.at("node_id")}});
             return json::object();
         }},
        {"POST", "/api/v1/node/{node_id}/expire", node_expire},
        {"POST", "/api/v1/node/{node_id}/rename/{new_name}",
         [](Translator& t, Env&, const Vars& v, const Request&) {
             return json{
                 {"node", t.node(t.run("nodes.rename", {{"id", v.at("node_id")}, {"new_name", v.at("new_name")}}))}};
         }},
        {"POST", "/api/v1/node/{node_id}/tags",
         [](Translator& t, Env&, const Vars& v, const Request& r) {
             return json{{"node", t.node(t.run("nodes.tag", {{"id", v.at("node_id")}, {"tags", r.list("tags")}}))}};
         }},
        {"POST", "/api/v1/node/{node_id}/approve_routes",
         [](Translator& t, Env&, const Vars& v, const Request& r) {
             auto n = t.run("nodes.approve_routes", {{"id", v.at("node_id")}, {"routes", r.list("routes")}});
             expect_primaries(t, n);
             return json{{"node", t.node_as(n, Translator::NodeView::Approved)}};
         }},
        {"POST", "/api/v1/node/backfillips",
         [](Translator& t, Env&, const Vars&, const Request& r) {
             if (!r.flag("confirmed")) throw store::StoreError("not confirmed, aborting");
             auto changes = json::array();
             for (const auto& c : t.run("nodes.backfill_ips", json::object()))
                 changes.push_back("node " + c["given_name"].get<std::string>() + ": " + c["ip_addresses"].dump());
             return json{{"changes", changes}};
         }},
    };
}

// Logins, the policy and health.
std::vector<Route> other_routes() {
    return {
        // hs-control finishes an approved login itself, after this answer: there is no node yet.
        {"POST", "/api/v1/node/register",
         [](Translator& t, Env&, const Vars&, const Request& r) {
             t.run("nodes.register", {{"key", r.str("key")}, {"user", r.str("user")}});
             return json{{"node", nullptr}};
         }},
        {"POST", "/api/v1/auth/register",
         [](Translator& t, Env&, const Vars&, const Request& r) {
             t.run("auth.register", {{"auth_id", r.str("authId", "auth_id")}, {"user", r.str("user")}});
             return json{{"node", nullptr}};
         }},
        {"POST", "/api/v1/auth/approve",
         [](Translator& t, Env&, const Vars&, const Request& r) {
             t.run("auth.approve", {{"auth_id", r.str("authId", "auth_id")}});
             return json::object();
         }},
        {"POST", "/api/v1/auth/reject",
         [](Translator& t, Env&, const Vars&, const Request& r) {
             t.run("auth.reject", {{"auth_id", r.str("authId", "auth_id")}});
             return json::object();
         }},
        {"GET", "/api/v1/policy",
         [](Translator& t, Env&, const Vars&, const Request&) {
             return policy_reply(t.run("policy.get", json::object()));
         }},
        {"PUT", "/api/v1/policy",
         [](Translator& t, Env&, const Vars&, const Request& r) {
             return policy_reply(t.run("policy.set", {{"policy", r.str("policy")}}));
         }},
        {"POST", "/api/v1/policy/check",
         [](Translator& t, Env&, const Vars&, const Request& r) {
             t.run("policy.check", {{"policy", r.str("policy")}});
             return json::object();
         }},
        {"GET", "/api/v1/health",
         [](Translator& t, Env&, const Vars&, const Request&) {
             return json{{"databaseConnectivity", t.run("health", json::object())["database_connectivity"]}};
         }},
    };
}

const std::vector<Route>& routes() {
    static const std::vector<Route> table = [] {
        std::vector<Route> t;
        for (auto part : {key_routes(), node_routes(), other_routes()}) t.insert(t.end(), part.begin(), part.end());
        return t;
    }();
    return table;
}

std::vector<std::string_view> split(std::string_view path) {
    std::vector<std::string_view> out;
    while (!path.empty()) {
        const auto slash = path.find('/', 1);
        out.push_back(path.substr(1, slash == std::string_view::npos ? std::string_view::npos : slash - 1));
        if (slash == std::string_view::npos) break;
        path = path.substr(slash);
    }
    return out;
}

// grpc-gateway's error body; `code` is the gRPC status code. The message may quote the request
// (a key, a name) in bytes that are not UTF-8: those are replaced, not thrown on (fuzz_rest_api).
HeadscaleReply error(int status, int code, const std::string& message) {
    return {status, json{{"code", code}, {"message", message}, {"details", json::array()}}.dump(
                        -1, ' ', false, json::error_handler_t::replace)};
}

}  // namespace

HeadscaleReply headscale_api(Env& env, std::string_view method, std::string_view path, std::string_view query,
                             const std::string& body) {
    const auto want = split(path);
    const Route* found = nullptr;
    bool path_known = false;
    Vars vars;
    for (const auto& r : routes()) {
        const auto have = split(r.path);
        if (have.size() != want.size()) continue;
        Vars v;
        bool ok = true;
        for (std::size_t i = 0; i < have.size() && ok; ++i) {
            if (have[i].front() == '{')
                v[std::string(have[i].substr(1, have[i].size() - 2))] = url_unescape(want[i], Plus::Literal);
            else ok = have[i] == want[i];
        }
        if (!ok) continue;
        path_known = true;
        // A literal route (node/backfillips) wins over a variable one (node/{node_id}).
        if (r.method == method && (!found || std::string_view(r.path).find('{') == std::string_view::npos)) {
            found = &r;
            vars = std::move(v);
        }
    }
    if (!found) return path_known ? error(501, 12, "Method Not Allowed") : error(404, 5, "Not Found");
    Request req;
    for (auto& [k, v] : parse_query(query)) {
        auto& slot = req.fields[k];
        if (slot.is_null()) slot = v;
        else if (slot.is_array()) slot.push_back(v);
        else slot = json::array({slot, v});
    }
    if (!body.empty()) {
        const auto j = json::parse(body, nullptr, false);
        if (!j.is_object()) return error(400, 3, "invalid request body: expected a JSON object");
        for (const auto& [k, v] : j.items()) req.fields[k] = v;
    }
    try {
        Translator t(env);
        return {200, found->run(t, env, vars, req).dump(-1, ' ', false, json::error_handler_t::replace)};
    } catch (const store::NotFound& e) {
        return error(404, 5, e.what());
    } catch (const store::StoreError& e) {
        return error(400, 3, e.what());
    } catch (const std::invalid_argument& e) {
        return error(400, 3, e.what());
    } catch (const DbError& e) {
        return error(503, 14, e.what());
    } catch (const std::exception& e) {
        return error(500, 2, e.what());
    }
}

}  // namespace hs::admin
