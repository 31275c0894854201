// The ACL policy: stored in the database (policy.mode: database) or read from policy.path
// (policy.mode: file). `set` compiles the text against the tailnet in the database first, so a
// policy naming unknown users or tags, or failing its own tests, is never stored.
#include "common/admin/ops.h"
#include "common/admin/policy_input.h"
#include "common/base/files.h"
#include "common/policy/engine.h"

namespace hs::admin {
namespace {

bool database_mode(const Env& env) { return env.cfg.policy_mode == "database"; }

json policy_get(Env& env, const Params&) {
    if (database_mode(env)) {
        const auto p = store::latest_policy(env.db);
        if (!p) throw store::NotFound("no policy stored yet (policy.mode is database; store one with policy set)");
        return {{"policy", p->data}, {"source", "database"}, {"updated_at", json_time(p->created_at)}};
    }
    if (env.cfg.policy_path.empty())
        throw store::NotFound("no policy: policy.path is empty, so every node may reach every other");
    return {
        {"policy", *read_policy_file(env.cfg.policy_path)}, {"source", env.cfg.policy_path}, {"updated_at", nullptr}};
}

std::string policy_param(const Params& p) {
    if (!p.has("policy")) throw store::StoreError("missing policy text");
    return p.str("policy");
}

json policy_set(Env& env, const Params& p) {
    const auto text = policy_param(p);
    compile_policy(env, text);
    // In file mode hs-control reads policy.path; a stored row would be silently ignored.
    if (!database_mode(env))
        throw store::StoreError("policy.mode is \"" + env.cfg.policy_mode + "\"" +
                                (env.cfg.policy_path.empty() ? "" : " (the policy is " + env.cfg.policy_path + ")") +
                                "; set policy.mode: database to store the policy with policy set");
    const auto stored = store::insert_policy(env.db, text);
    return {{"policy", stored.data}, {"source", "database"}, {"updated_at", json_time(stored.created_at)}};
}

json policy_check(Env& env, const Params& p) {
    compile_policy(env, policy_param(p));
    return result_json("policy is valid");
}

}  // namespace

std::optional<std::string> current_policy_text(Env& env) {
    if (database_mode(env)) {
        if (auto p = store::latest_policy(env.db)) return p->data;
        return std::nullopt;
    }
    return read_policy_file(env.cfg.policy_path);
}

std::optional<std::string> read_policy_file(const std::string& path) {
    if (path.empty()) return std::nullopt;
    try {
        return read_file(path, policy::kMaxPolicyBytes);
    } catch (const FileError& e) {
        throw store::StoreError(std::string("cannot read policy file: ") + e.what());
    }
}

void add_policy_ops(OpTable& t) {
    t.push_back({"policy.get", "GET", "/api/v1/policy", policy_get});
    t.push_back({"policy.set", "PUT", "/api/v1/policy", policy_set});
    t.push_back({"policy.check", "POST", "/api/v1/policy/check", policy_check});
    add_policy_inspect_ops(t);
}

}  // namespace hs::admin
