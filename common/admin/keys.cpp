// Operations on pre-auth keys (for `tailscale up --authkey`) and API keys (for the REST API).
// Secrets appear only in the result of create; listings show masked prefixes.
#include "common/admin/ops.h"

namespace hs::admin {
namespace {

json preauth_list(Env& env, const Params& p) {
    const auto user = p.str("user");
    std::optional<std::int64_t> only;
    if (!user.empty()) only = store::resolve_user(env.db, user).id;
    const auto users = user_index(env.db);
    auto items = json::array();
    for (const auto& k : store::list_preauth_keys(env.db))
        if (!only || k.user_id == *only) items.push_back(preauth_key_json(k, users));
    return items;
}

json preauth_create(Env& env, const Params& p) {
    const auto expiration = expiration_from(p.str("expiration", "1h"), env.now);
    const auto user = p.str("user");
    std::optional<std::int64_t> owner;
    if (!user.empty()) owner = store::resolve_user(env.db, user).id;
    const auto created =
        store::create_preauth_key(env.db, owner, p.flag("reusable"), p.flag("ephemeral"), expiration, p.list("tags"));
    auto obj = preauth_key_json(created.key, user_index(env.db));
    obj["key"] = created.secret;
    return obj;
}

PreAuthKey must_find_preauth(Env& env, std::int64_t id) {
    auto k = store::find_preauth_key(env.db, id);
    if (!k) throw store::NotFound("pre-auth key " + std::to_string(id) + " not found");
    return *k;
}

json preauth_expire(Env& env, const Params& p) {
    const auto id = p.id("id", "pre-auth key");
    auto k = must_find_preauth(env, id);
    // An expired key keeps the moment it expired; moving it to now would rewrite history.
    if (!k.expired(env.now)) {
        store::expire_preauth_key(env.db, id, env.now);
        k = must_find_preauth(env, id);
    }
    return preauth_key_json(k, user_index(env.db));
}

json preauth_delete(Env& env, const Params& p) {
    const auto id = p.id("id", "pre-auth key");
    store::delete_preauth_key(env.db, id);
    return result_json("pre-auth key " + std::to_string(id) + " deleted");
}

// apikeys expire/delete take exactly one of --id and --prefix.
store::ApiKey must_find_api_key(Env& env, const Params& p) {
    if (p.has("id") == p.has("prefix")) throw store::StoreError("give exactly one of an API key ID or prefix");
    if (p.has("id")) {
        const auto id = p.id("id", "API key");
        if (auto k = store::find_api_key(env.db, id)) return *k;
        throw store::NotFound("API key " + std::to_string(id) + " not found");
    }
    const auto prefix = p.str("prefix");
    if (auto k = store::find_api_key_by_prefix(env.db, prefix)) return *k;
    throw store::NotFound("API key \"" + prefix + "\" not found");
}

json api_list(Env& env, const Params&) {
    auto items = json::array();
    for (const auto& k : store::list_api_keys(env.db)) items.push_back(api_key_json(k));
    return items;
}

json api_create(Env& env, const Params& p) {
    const auto created = store::create_api_key(env.db, expiration_from(p.str("expiration", "90d"), env.now));
    auto obj = api_key_json(created.key);
    obj["key"] = created.secret;
    return obj;
}

json api_expire(Env& env, const Params& p) {
    auto k = must_find_api_key(env, p);
    if (!k.expired(env.now)) {
        store::expire_api_key(env.db, k.id, env.now);
        k = *store::find_api_key(env.db, k.id);
    }
    return api_key_json(k);
}

json api_delete(Env& env, const Params& p) {
    const auto k = must_find_api_key(env, p);
    store::delete_api_key(env.db, k.id);
    return result_json("API key " + std::to_string(k.id) + " deleted");
}

}  // namespace

void add_key_ops(OpTable& t) {
    t.push_back({"preauthkeys.list", "GET", "/api/v1/preauthkey", preauth_list});
    t.push_back({"preauthkeys.create", "POST", "/api/v1/preauthkey", preauth_create});
    t.push_back({"preauthkeys.expire", "POST", "/api/v1/preauthkey/expire", preauth_expire});
    t.push_back({"preauthkeys.delete", "DELETE", "/api/v1/preauthkey/{id}", preauth_delete});
    t.push_back({"apikeys.list", "GET", "/api/v1/apikey", api_list});
    t.push_back({"apikeys.create", "POST", "/api/v1/apikey", api_create});
    t.push_back({"apikeys.expire", "POST", "/api/v1/apikey/expire", api_expire});
    t.push_back({"apikeys.delete", "DELETE", "/api/v1/apikey", api_delete});
}

}  // namespace hs::admin
