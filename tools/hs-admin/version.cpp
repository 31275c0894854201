// hs-admin version: the same text as --version, or an object for -o.
#include "tools/hs-admin/commands.h"

namespace hs::admin {

void add_version(CLI::App& app, Context& ctx, Actions& actions) {
    auto* cmd = add_verb(app, "version", "Print the version");
    actions[cmd] = [&ctx] {
        const json obj{{"name", "hs-admin"}, {"version", HS_VERSION}};
        print_text(ctx.format(), obj, std::string("hs-admin ") + HS_VERSION);
        return 0;
    };
}

}  // namespace hs::admin
