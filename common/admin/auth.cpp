// Operations on interactive logins waiting for an admin (headscale 0.29's auth register,
// approve and reject; nodes register is the older spelling of auth register), and the health
// check.
#include "common/admin/ops.h"

namespace hs::admin {
namespace {

// Admins paste what the client showed them: the bare ID, headscale 0.29's
// "hskey-authreq-<id>", or the whole register URL.
std::string normalize_auth_id(std::string id) {
    if (const auto at = id.rfind("/register/"); at != std::string::npos) id = id.substr(at + 10);
    constexpr std::string_view prefix = "hskey-authreq-";
    if (id.rfind(prefix, 0) == 0) id = id.substr(prefix.size());
    return id;
}

// `nodes register` (headscale up to 0.28) and `auth register` (0.29) are the same operation.
json register_request(Env& env, const std::string& auth_id, const std::string& user) {
    const auto id = normalize_auth_id(auth_id);
    if (id.empty()) throw store::StoreError("empty registration ID");
    const auto owner = store::resolve_user(env.db, user);
    store::approve_auth_request(env.db, id, owner.id, env.now);
    const auto r = store::find_auth_request(env.db, id);
    // hs-control may complete and prune the request at once; the approval still happened.
    AuthRequest shown;
    if (r) {
        shown = *r;
    } else {
        shown.id = id;
        shown.user_id = owner.id;
        shown.status = "approved";
    }
    const auto name = shown.hostname.empty() ? "node" : "node " + shown.hostname;
    auto obj = auth_request_json(shown, user_index(env.db));
    obj["message"] = name + " registered to user " + owner.name;
    return obj;
}

AuthRequest must_find_request(Env& env, const std::string& id) {
    if (id.empty()) throw store::StoreError("empty registration ID");
    const auto r = store::find_auth_request(env.db, id);
    if (!r) throw store::NotFound("registration request \"" + id + "\" not found (it may have expired)");
    return *r;
}

// headscale approves a pending session without naming a user; that decides something only for
// a machine whose node already has an owner (logging in again after an expiry). A new device
// needs its owner named: auth register.
json approve_request(Env& env, const Params& p) {
    const auto id = normalize_auth_id(p.str("auth_id"));
    const auto r = must_find_request(env, id);
    const auto node = store::find_node_by_machine_key(env.db, r.machine_key);
    if (!node || !node->user_id || !node->tags.empty())
        throw store::StoreError(
            "registration request \"" + id +
            "\" is a new device's login (or a tagged node's): name its owner with hs-admin auth register --auth-id " +
            id + " --user USER");
    const auto owner = store::find_user(env.db, *node->user_id);
    if (!owner) throw store::NotFound("user " + std::to_string(*node->user_id) + " not found");
    store::approve_auth_request(env.db, id, owner->id, env.now);
    auto shown = store::find_auth_request(env.db, id).value_or(r);
    auto obj = auth_request_json(shown, user_index(env.db));
    obj["message"] = "auth request approved: node " + node->given_name + " logs in again as user " + owner->name;
    return obj;
}

json reject_request(Env& env, const Params& p) {
    const auto id = normalize_auth_id(p.str("auth_id"));
    must_find_request(env, id);
    auto obj = auth_request_json(store::reject_auth_request(env.db, id, env.now), user_index(env.db));
    obj["message"] = "auth request rejected";
    return obj;
}

// headscale's Health: whether the database answers. A failure is an error (exit 1, HTTP 503).
json health(Env& env, const Params&) {
    try {
        store::probe_readable(env.db);
    } catch (const DbError& e) {
        throw DbError(std::string("database unreachable: ") + e.what());
    }
    return {{"database_connectivity", true}};
}

}  // namespace

void add_auth_ops(OpTable& t) {
    t.push_back({"auth.register", "POST", "/api/v1/auth/register",
                 [](Env& env, const Params& p) { return register_request(env, p.str("auth_id"), p.str("user")); }});
    t.push_back({"auth.approve", "POST", "/api/v1/auth/approve", approve_request});
    t.push_back({"auth.reject", "POST", "/api/v1/auth/reject", reject_request});
    t.push_back({"nodes.register", "POST", "/api/v1/node/register",
                 [](Env& env, const Params& p) { return register_request(env, p.str("key"), p.str("user")); }});
    t.push_back({"health", "GET", "/api/v1/health", health});
}

}  // namespace hs::admin
