// Unlocking (hs-admin users|preauthkeys|apikeys unlock, POST /api/hs/v1/.../unlock) and the
// sign-in audit rows. The lock rows themselves are written by hs-control's limiter.
#include "common/admin/signin.h"

#include <spdlog/spdlog.h>

#include "common/admin/ops.h"
#include "common/base/netaddr.h"

namespace hs::admin {
namespace {

constexpr std::string_view kPreauth = "preauthkey:", kApi = "apikey:", kUser = "user:";

// The bare prefix as listings show it ("hskey-auth-<p>-***") or as given.
std::string bare_prefix(std::string prefix, std::string_view kind) {
    if (prefix.rfind(kind, 0) == 0) prefix.erase(0, kind.size());
    if (prefix.size() > 4 && prefix.ends_with("-***")) prefix.resize(prefix.size() - 4);
    else if (prefix.size() > 3 && prefix.ends_with("***")) prefix.resize(prefix.size() - 3);
    if (prefix.empty()) throw store::StoreError("missing key prefix");
    return prefix;
}

json lock_json(const store::SigninLock& l, TimePoint now) {
    const bool locked = l.locked_until && *l.locked_until > now;
    return {{"key", l.key},           {"object", lock_object(l.key)},
            {"failures", l.failures}, {"lockouts", l.lockouts},
            {"locked", locked},       {"locked_until", locked ? json_time(l.locked_until) : json(nullptr)}};
}

// Forgets `key`'s failures, lock and lockout history, and records who did it.
json unlock(Env& env, const std::string& key, const std::string& object) {
    const auto before = store::find_signin_lock(env.db, key);
    store::delete_signin_lock(env.db, key);
    audit_signin(env.db, env.now, "signin.unlocked", env.actor, object, env.source, json::object());
    json out = {{"key", key},
                {"object", object},
                {"was_locked", before && before->locked_until && *before->locked_until > env.now}};
    out["result"] = object + (before ? " unlocked" : " was not locked");
    return out;
}

json users_unlock(Env& env, const Params& p) {
    const auto u = store::resolve_user(env.db, p.str("user"));
    return unlock(env, lock_key_user(u.name), user_object(u));
}

json preauth_unlock(Env& env, const Params& p) {
    const auto prefix = bare_prefix(p.str("prefix"), "hskey-auth-");
    return unlock(env, lock_key_preauth(prefix), lock_object(lock_key_preauth(prefix)));
}

json api_unlock(Env& env, const Params& p) {
    const auto prefix = bare_prefix(p.str("prefix"), "hskey-api-");
    return unlock(env, lock_key_api(prefix), lock_object(lock_key_api(prefix)));
}

json locks_list(Env& env, const Params& p) {
    const bool all = p.flag("all");
    auto items = json::array();
    for (const auto& l : store::list_signin_locks(env.db))
        if (all || (l.locked_until && *l.locked_until > env.now)) items.push_back(lock_json(l, env.now));
    return items;
}

}  // namespace

std::string lock_key_preauth(const std::string& prefix) { return std::string(kPreauth) + prefix; }
std::string lock_key_api(const std::string& prefix) { return std::string(kApi) + prefix; }
std::string lock_key_user(const std::string& name) { return std::string(kUser) + name; }

std::string user_object(const User& u) { return "user " + std::to_string(u.id) + " (" + u.name + ")"; }

std::string lock_object(const std::string& key) {
    if (key.starts_with(kPreauth)) return "pre-auth key prefix " + key.substr(kPreauth.size());
    if (key.starts_with(kApi)) return "API key prefix " + key.substr(kApi.size());
    if (key.starts_with(kUser)) return "user " + key.substr(kUser.size());
    return "unknown";
}

std::string signin_network(const std::string& ip) {
    const auto a = parse_ip(ip);
    if (!a) return "";
    const auto p = parse_prefix(ip + (a->v6 ? "/64" : "/24"), true);
    return p ? p->str() : "";
}

void audit_signin(Db& db, TimePoint now, const std::string& action, const std::string& actor, const std::string& object,
                  const std::string& source, const json& after) {
    store::AuditEntry e{.at = now, .actor = actor, .action = action, .object = object, .source = source};
    try {
        e.after = after.dump();
        store::append_audit(db, e);
    } catch (const std::exception& ex) {
        spdlog::error("audit trail: {} of {} not recorded: {}", action, object, ex.what());
    }
}

void add_signin_ops(OpTable& t) {
    t.push_back({"users.unlock", "POST", "/api/v1/user/{user}/unlock", users_unlock});
    t.push_back({"preauthkeys.unlock", "POST", "/api/v1/preauthkey/unlock", preauth_unlock});
    t.push_back({"apikeys.unlock", "POST", "/api/v1/apikey/unlock", api_unlock});
    t.push_back({"signin.locks", "GET", "/api/v1/signin/locks", locks_list});
}

}  // namespace hs::admin
