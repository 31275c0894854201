// hs-admin auth: interactive logins. `tailscale up` without a key waits on a /register/<id>
// page; approving the ID here lets hs-control finish that login for the chosen user.
#include <memory>

#include "common/store.h"
#include "tools/hs-admin/commands.h"

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

json request_json(const AuthRequest& r, const UserIndex& users) {
    return {{"id", r.id},
            {"machine_key", r.machine_key},
            {"node_key", r.node_key},
            {"hostname", r.hostname},
            {"user", user_ref(users, r.user_id)},
            {"status", r.status},
            {"created_at", json_time(r.created_at)},
            {"expires_at", json_time(r.expires_at)}};
}

void add_register(CLI::App& noun, Context& ctx, Actions& actions) {
    struct Opts {
        std::string user, id;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = add_verb(noun, "register", "Approve a waiting interactive login for a user");
    cmd->add_option("--auth-id", o->id, "Registration ID shown on the client's /register page")->required();
    cmd->add_option("-u,--user", o->user, "Owner: user name or ID")->required();
    actions[cmd] = [&ctx, o] { return register_auth_request(ctx, o->id, o->user); };
}

}  // namespace

int register_auth_request(Context& ctx, const std::string& auth_id, const std::string& user) {
    const auto id = normalize_auth_id(auth_id);
    if (id.empty()) throw store::StoreError("empty registration ID");
    Db& db = ctx.db();
    const auto owner = store::resolve_user(db, user);
    store::approve_auth_request(db, id, owner.id, Clock::now());
    const auto r = store::find_auth_request(db, id);
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
    const auto msg = name + " registered to user " + owner.name;
    auto obj = request_json(shown, user_index(db));
    obj["message"] = msg;
    print_text(ctx.format(), obj, msg);
    return 0;
}

void add_auth(CLI::App& app, Context& ctx, Actions& actions) {
    auto* noun = add_noun(app, "auth", "Interactive logins (headscale 0.29's spelling of nodes register)");
    add_register(*noun, ctx, actions);
}

}  // namespace hs::admin
