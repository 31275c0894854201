// hs-admin auth: interactive logins. `tailscale up` without a key waits on a /register/<id>
// page; approving the ID here lets hs-control finish that login for the chosen user.
#include <memory>

#include "tools/hs-admin/commands.h"

namespace hs::admin {

void add_auth(CLI::App& app, Context& ctx, Actions& actions) {
    auto* noun = add_noun(app, "auth", "Interactive logins (headscale 0.29's spelling of nodes register)");
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
}

}  // namespace hs::admin
