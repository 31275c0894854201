// hs-admin users|preauthkeys|apikeys unlock and audit locks: lifting the attempt limiter's
// lockouts (docs/security.md, "Attempt limits"), on the file or with --remote.
#include <memory>

#include "tools/hs-admin/commands.h"

namespace hs::admin {

void add_unlock(CLI::App& noun, Context& ctx, Actions& actions, const std::string& op, const std::string& what) {
    const bool user = op == "users.unlock";
    auto arg = std::make_shared<std::string>();
    auto* cmd = add_verb(noun, "unlock", "Lift the lockout of " + what + " and forget its failed sign-in attempts");
    cmd->add_option(user ? "NAME" : "PREFIX", *arg,
                    user ? "The user's name or ID" : "The key's prefix as listed (hskey-...-<prefix>-***) or bare")
        ->required();
    actions[cmd] = [&ctx, arg, op, user] {
        print_result(ctx, ctx.call(op, {{user ? "user" : "prefix", *arg}}));
        return 0;
    };
}

void add_audit_locks(CLI::App& noun, Context& ctx, Actions& actions) {
    auto all = std::make_shared<bool>(false);
    auto* cmd = add_verb(noun, "locks", "Keys and accounts locked after failed sign-in attempts");
    cmd->add_flag("-a,--all", *all, "Also those with failures but no lock now");
    actions[cmd] = [&ctx, all] {
        print_list(ctx.format(), ctx.call("signin.locks", {{"all", *all}}),
                   {field("Object", "object"), field("Failures", "failures"), field("Lockouts", "lockouts"),
                    time_field("LockedUntil", "locked_until")});
        return 0;
    };
}

}  // namespace hs::admin
