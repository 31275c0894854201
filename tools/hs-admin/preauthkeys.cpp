// hs-admin preauthkeys: keys that let `tailscale up --authkey` join without a browser.
#include <memory>

#include "tools/hs-admin/commands.h"

namespace hs::admin {
namespace {

Columns key_columns() {
    return {field("ID", "id"),
            field("Key", "key"),
            field("User", "user"),
            field("Tags", "tags"),
            field("Reusable", "reusable"),
            field("Ephemeral", "ephemeral"),
            field("Used", "used"),
            time_field("Expiration", "expiration"),
            time_field("Created", "created_at")};
}

void add_create(CLI::App& noun, Context& ctx, Actions& actions) {
    struct Opts {
        std::string user;
        bool reusable = false;
        bool ephemeral = false;
        std::string expiration = "1h";
        std::vector<std::string> tags;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = add_verb(noun, "create", "Create a key and print it (the only time the secret is shown)", {"c", "new"});
    cmd->add_option("-u,--user,-n,--namespace", o->user, "Owner: user name or ID");
    cmd->add_flag("--reusable", o->reusable, "The key can register more than one node");
    cmd->add_flag("--ephemeral", o->ephemeral, "Nodes it registers are removed when they go offline");
    cmd->add_option("-e,--expiration", o->expiration, "Lifetime, e.g. 30m, 24h, 90d; 0 = never expires")
        ->capture_default_str();
    cmd->add_option("--tags", o->tags, "Tags for the nodes it registers: tag:a,tag:b")->delimiter(',');
    actions[cmd] = [&ctx, o] {
        const auto obj = ctx.call("preauthkeys.create", {{"user", o->user},
                                                         {"reusable", o->reusable},
                                                         {"ephemeral", o->ephemeral},
                                                         {"expiration", o->expiration},
                                                         {"tags", o->tags}});
        // Bare key in table mode: KEY=$(hs-admin preauthkeys create -u alice) just works.
        print_text(ctx.format(), obj, obj.value("key", ""));
        return 0;
    };
}

void add_list(CLI::App& noun, Context& ctx, Actions& actions) {
    auto user = std::make_shared<std::string>();
    auto* cmd = add_verb(noun, "list", "List keys (secrets masked)", {"ls", "show"});
    cmd->add_option("-u,--user,-n,--namespace", *user, "Only keys of this user (name or ID)");
    actions[cmd] = [&ctx, user] {
        print_list(ctx.format(), ctx.call("preauthkeys.list", {{"user", *user}}), key_columns());
        return 0;
    };
}

void add_expire(CLI::App& noun, Context& ctx, Actions& actions) {
    auto id = std::make_shared<std::int64_t>(0);
    auto* cmd = add_verb(noun, "expire", "Expire a key now; nodes it registered stay", {"revoke", "exp", "e"});
    cmd->add_option("-i,--id", *id, "Key ID (from list)")->required();
    actions[cmd] = [&ctx, id] {
        print_object(ctx.format(), ctx.call("preauthkeys.expire", {{"id", *id}}), key_columns());
        return 0;
    };
}

void add_delete(CLI::App& noun, Context& ctx, Actions& actions) {
    auto id = std::make_shared<std::int64_t>(0);
    auto* cmd = add_verb(noun, "delete", "Delete a key; nodes it registered stay", {"del", "rm", "d"});
    cmd->add_option("-i,--id", *id, "Key ID (from list)")->required();
    actions[cmd] = [&ctx, id] {
        print_result(ctx, ctx.call("preauthkeys.delete", {{"id", *id}}));
        return 0;
    };
}

}  // namespace

void add_preauthkeys(CLI::App& app, Context& ctx, Actions& actions) {
    auto* noun =
        add_noun(app, "preauthkeys", "Create, list, expire and delete pre-auth keys", {"preauthkey", "authkey", "pre"});
    add_create(*noun, ctx, actions);
    add_list(*noun, ctx, actions);
    add_expire(*noun, ctx, actions);
    add_delete(*noun, ctx, actions);
    add_unlock(*noun, ctx, actions, "preauthkeys.unlock", "a pre-auth key");
}

void print_result(Context& ctx, const json& obj) { print_text(ctx.format(), obj, obj.value("result", "")); }

}  // namespace hs::admin
