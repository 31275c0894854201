// hs-admin auth: interactive logins. `tailscale up` without a key waits on a /register/<id>
// page; `register` lets hs-control finish that login for the chosen user, `approve` lets a
// known node log in again as its owner, `reject` refuses it (headscale 0.29's auth verbs).
#include <memory>

#include "tools/hs-admin/commands.h"

namespace hs::admin {

void add_auth(CLI::App& app, Context& ctx, Actions& actions) {
    auto* noun = add_noun(app, "auth", "Interactive logins: register (for a user), approve, reject");
    struct Opts {
        std::string user, id;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = add_verb(*noun, "register", "Approve a waiting interactive login for a user");
    cmd->add_option("--auth-id", o->id, "Registration ID shown on the client's /register page")->required();
    cmd->add_option("-u,--user", o->user, "Owner: user name or ID")->required();
    actions[cmd] = [&ctx, o] {
        const auto r = ctx.call("auth.register", {{"auth_id", o->id}, {"user", o->user}});
        print_text(ctx.format(), r, r.value("message", ""));
        return 0;
    };
    const auto verb = [&](const char* name, const char* help, const char* op) {
        auto id = std::make_shared<std::string>();
        auto* c = add_verb(*noun, name, help);
        c->add_option("--auth-id", *id, "Registration ID shown on the client's /register page")->required();
        actions[c] = [&ctx, id, op] {
            const auto r = ctx.call(op, {{"auth_id", *id}});
            print_text(ctx.format(), r, r.value("message", ""));
            return 0;
        };
    };
    verb("approve", "Let a known node log in again as its owner (a new device needs auth register --user)",
         "auth.approve");
    verb("reject", "Refuse a waiting login: the ID stops working and the client is given a new login URL",
         "auth.reject");
}

// headscale's health: exit 0 when the database answers (locally, or the --remote server's).
void add_health(CLI::App& app, Context& ctx, Actions& actions) {
    auto* cmd = add_verb(app, "health", "Check that the database (or the --remote server) answers; exit 1 if not");
    actions[cmd] = [&ctx] {
        const auto r = ctx.call("health", json::object());
        print_text(ctx.format(), r, "database: ok");
        return 0;
    };
}

}  // namespace hs::admin
