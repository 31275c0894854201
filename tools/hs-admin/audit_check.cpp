// hs-admin audit check: prints each weak point of the configuration and database and exits 1
// when there is any, so a timer (examples/systemd/hs-audit-check.*) can alert on it.
#include <cstdio>

#include "tools/hs-admin/commands.h"

namespace hs::admin {

void add_audit_check(CLI::App& noun, Context& ctx, Actions& actions) {
    auto* check = add_verb(noun, "check",
                           "Review the configuration and database for weak points; exit status 1 when any is found");
    actions[check] = [&ctx] {
        const auto findings = ctx.call("audit.check", json::object());
        print_list(ctx.format(), findings,
                   {field("Check", "check"), field("Object", "object"), field("Message", "message")});
        if (!findings.empty()) std::fprintf(stderr, "audit check: %zu weak point(s) found\n", findings.size());
        return findings.empty() ? 0 : 1;
    };
}

}  // namespace hs::admin
