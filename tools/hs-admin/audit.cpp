// hs-admin audit: the audit trail of changes (audit list) and a review of the setup's weak
// points (audit check, audit_check.cpp).
#include <memory>

#include "tools/hs-admin/commands.h"

namespace hs::admin {

void add_audit(CLI::App& app, Context& ctx, Actions& actions) {
    auto* noun = add_noun(app, "audit", "The audit trail of changes, and a check of the setup's weak points");

    auto since = std::make_shared<std::string>("24h");
    auto* list = add_verb(
        *noun, "list", "Changes made in the last --since (who, what, which object, before/after, from where)", {"ls"});
    list->add_option("--since", *since, "How far back, e.g. 24h, 7d; 0 = everything")->capture_default_str();
    actions[list] = [&ctx, since] {
        print_list(ctx.format(), ctx.call("audit.list", {{"since", *since}}),
                   {field("ID", "id"), time_field("At", "at"), field("Actor", "actor"), field("Action", "action"),
                    field("Object", "object"), field("Source", "source")});
        return 0;
    };
    add_audit_check(*noun, ctx, actions);
    add_audit_locks(*noun, ctx, actions);
}

}  // namespace hs::admin
