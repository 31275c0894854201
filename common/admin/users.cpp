// Operations on users.
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
    return user_json(
        store::create_user(env.db, p.str("name"), p.str("display_name"), p.str("email"), p.str("picture_url")));
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

}  // namespace

void add_user_ops(OpTable& t) {
    t.push_back({"users.list", "GET", "/api/v1/user", users_list});
    t.push_back({"users.create", "POST", "/api/v1/user", users_create});
    t.push_back({"users.rename", "POST", "/api/v1/user/{user}/rename/{new_name}", users_rename});
    t.push_back({"users.delete", "DELETE", "/api/v1/user/{user}", users_delete});
}

}  // namespace hs::admin
