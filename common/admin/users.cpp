// Operations on users and on interactive logins waiting for an admin.
#include "common/admin/ops.h"

namespace hs::admin {
namespace {

json users_list(Env& env, const Params& p) {
    const auto id = p.has("id") ? std::optional(p.id("id", "user")) : std::nullopt;
    const auto name = p.str("name"), email = p.str("email");
    auto items = json::array();
    for (const auto& u : store::list_users(env.db)) {
        if (id && u.id != *id) continue;
        if (!name.empty() && u.name != name) continue;
        if (!email.empty() && u.email != email) continue;
        items.push_back(user_json(u));
    }
    return items;
}

json users_create(Env& env, const Params& p) {
    return user_json(store::create_user(env.db, p.str("name"), p.str("display_name"), p.str("email")));
}

json users_rename(Env& env, const Params& p) {
    const auto u = store::resolve_user(env.db, p.str("user"));
    store::rename_user(env.db, u.id, p.str("new_name"));
    return user_json(*store::find_user(env.db, u.id));
}

json users_delete(Env& env, const Params& p) {
    const auto u = store::resolve_user(env.db, p.str("user"));
    store::delete_user(env.db, u.id);
    return result_json("user " + u.name + " deleted");
}

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

}  // namespace

void add_user_ops(OpTable& t) {
    t.push_back({"users.list", "GET", "/api/v1/user", users_list});
    t.push_back({"users.create", "POST", "/api/v1/user", users_create});
    t.push_back({"users.rename", "POST", "/api/v1/user/{user}/rename/{new_name}", users_rename});
    t.push_back({"users.delete", "DELETE", "/api/v1/user/{user}", users_delete});
    t.push_back({"auth.register", "POST", "/api/v1/auth/register",
                 [](Env& env, const Params& p) { return register_request(env, p.str("auth_id"), p.str("user")); }});
    t.push_back({"nodes.register", "POST", "/api/v1/node/register",
                 [](Env& env, const Params& p) { return register_request(env, p.str("key"), p.str("user")); }});
}

}  // namespace hs::admin
