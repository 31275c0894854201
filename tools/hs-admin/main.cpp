// hs-admin: manage users, keys, nodes, routes and the policy by working on hs's SQLite file
// directly, whether or not hs-control is running, or on a remote hs-control's REST API. One
// file per noun; this one is the dispatcher.
#include <cstdlib>

#include "common/base/cli.h"
#include "tools/hs-admin/commands.h"

int main(int argc, char** argv) {
    using namespace hs::admin;
    CLI::App app{
        "Manage an hs tailnet: users, keys, nodes, routes and the ACL policy.\n\n"
        "  hs-admin users create alice\n"
        "  KEY=$(hs-admin preauthkeys create -u alice --expiration 24h)\n"
        "  hs-admin nodes list -o json | jq '.[].given_name'\n",
        "hs-admin"};
    app.footer("Config: -c FILE, else $HS_CONFIG, else $HEADSCALE_CONFIG, else " + std::string(kDefaultConfig) +
               ".\nExit status: 0 success, 1 error (one line on stderr), 2 usage error.");
    hs::CommonFlags flags;
    hs::add_common_flags(app, flags);
    Context ctx;
    app.add_option("-c,--config", ctx.config_flag, "Config file (its database section names the database used)");
    app.add_option("-o,--output", ctx.output, "table, json, json-line or yaml")
        ->check(CLI::IsMember(std::vector<std::string>(std::begin(kFormats), std::end(kFormats))))
        ->capture_default_str();
    if (const char* k = std::getenv("HS_API_KEY")) ctx.api_key = k;
    app.add_option("--remote", ctx.remote,
                   "Work on this hs-control's REST API (http[s]://host:port) instead of the local file");
    app.add_option("--api-key", ctx.api_key, "API key for --remote (default $HS_API_KEY; see apikeys create)");
    app.add_flag("--force", ctx.force,
                 "Never asks for confirmation (accepted for headscale's scripts); import headscale: replace a "
                 "non-empty hs database");
    // Global flags are accepted after the verb too (hs-admin nodes list -o json); subcommands
    // inherit this setting, so it must come before them.
    app.fallthrough();
    app.require_subcommand(1);

    Actions actions;
    add_users(app, ctx, actions);
    add_preauthkeys(app, ctx, actions);
    add_apikeys(app, ctx, actions);
    add_nodes(app, ctx, actions);
    add_routes(app, ctx, actions);
    add_policy(app, ctx, actions);
    add_config(app, ctx, actions);
    add_auth(app, ctx, actions);
    add_health(app, ctx, actions);
    add_audit(app, ctx, actions);
    add_events(app, ctx, actions);
    add_version(app, ctx, actions);
    add_import(app, ctx, actions);

    return hs::run_main(app, flags, argc, argv, [&] {
        const CLI::App* leaf = &app;
        while (!leaf->get_subcommands().empty()) leaf = leaf->get_subcommands().front();
        try {
            return actions.at(leaf)();
        } catch (const std::exception& e) {
            // run_main prints the message on stderr; scripts reading -o json get it on stdout too.
            print_error(ctx.format(), e.what());
            throw;
        }
    });
}
