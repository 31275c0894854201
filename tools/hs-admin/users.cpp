// hs-admin users: the people (or service identities) that own nodes and keys.
#include <memory>

#include "common/store/store.h"
#include "tools/hs-admin/commands.h"

namespace hs::admin {
namespace {

Columns user_columns() {
    return {field("ID", "id"),       field("Name", "name"),         field("DisplayName", "display_name"),
            field("Email", "email"), field("Provider", "provider"), time_field("Created", "created_at")};
}

// -i ID or -n NAME (or a bare NAME, headscale's old positional form): exactly one.
struct UserSelector {
    std::optional<std::int64_t> id;
    std::string name, positional;

    void add(CLI::App* cmd) {
        cmd->add_option("-i,--identifier", id, "The user's ID");
        cmd->add_option("-n,--name", name, "The user's name");
    }
    std::string ref() const {
        const int given = (id ? 1 : 0) + (name.empty() ? 0 : 1) + (positional.empty() ? 0 : 1);
        if (given != 1) throw store::StoreError("name the user with exactly one of -i ID or -n NAME");
        return id ? std::to_string(*id) : !name.empty() ? name : positional;
    }
};

void add_create(CLI::App& noun, Context& ctx, Actions& actions) {
    struct Opts {
        std::string name, display_name, email, picture_url;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = add_verb(noun, "create", "Create a user", {"c", "new"});
    cmd->add_option("NAME", o->name,
                    "2-63 characters, starting with a letter: letters, digits, '-', '.', '_' and one '@'")
        ->required();
    cmd->add_option("-d,--display-name", o->display_name, "Name shown in clients");
    cmd->add_option("-e,--email", o->email, "E-mail address");
    cmd->add_option("-p,--picture-url", o->picture_url, "Profile picture URL (http:// or https://) shown in clients");
    actions[cmd] = [&ctx, o] {
        // Checked before the database is opened, so a typo creates no file.
        store::validate_user_name(o->name);
        const auto u = ctx.call("users.create", {{"name", o->name},
                                                 {"display_name", o->display_name},
                                                 {"email", o->email},
                                                 {"picture_url", o->picture_url}});
        print_object(ctx.format(), u, user_columns());
        return 0;
    };
}

void add_list(CLI::App& noun, Context& ctx, Actions& actions) {
    struct Opts {
        std::optional<std::int64_t> id;
        std::string name, email;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = add_verb(noun, "list", "List users (all, or those matching every filter given)", {"ls", "show"});
    cmd->add_option("-i,--identifier", o->id, "Only the user with this ID");
    cmd->add_option("-n,--name", o->name, "Only the user with this name");
    cmd->add_option("-e,--email", o->email, "Only users with this e-mail address");
    actions[cmd] = [&ctx, o] {
        json p{{"name", o->name}, {"email", o->email}};
        if (o->id) p["id"] = *o->id;
        print_list(ctx.format(), ctx.call("users.list", p), user_columns());
        return 0;
    };
}

void add_rename(CLI::App& noun, Context& ctx, Actions& actions) {
    struct Opts {
        UserSelector user;
        std::string new_name;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = add_verb(noun, "rename", "Rename a user (not one created by a login provider)", {"mv"});
    o->user.add(cmd);
    cmd->add_option("-r,--new-name", o->new_name, "The new name")->required();
    actions[cmd] = [&ctx, o] {
        const auto u = ctx.call("users.rename", {{"user", o->user.ref()}, {"new_name", o->new_name}});
        print_object(ctx.format(), u, user_columns());
        return 0;
    };
}

void add_delete(CLI::App& noun, Context& ctx, Actions& actions) {
    auto o = std::make_shared<UserSelector>();
    auto* cmd = add_verb(noun, "delete", "Delete a user who owns no nodes, with its pre-auth keys (no prompt)",
                         {"destroy", "del", "rm"});
    o->add(cmd);
    cmd->add_option("NAME", o->positional, "The user's name (same as -n)");
    actions[cmd] = [&ctx, o] {
        print_result(ctx, ctx.call("users.delete", {{"user", o->ref()}}));
        return 0;
    };
}

}  // namespace

void add_users(CLI::App& app, Context& ctx, Actions& actions) {
    auto* noun =
        add_noun(app, "users", "Create, list, rename and delete users", {"user", "namespaces", "namespace", "ns"});
    add_create(*noun, ctx, actions);
    add_list(*noun, ctx, actions);
    add_rename(*noun, ctx, actions);
    add_delete(*noun, ctx, actions);
    add_unlock(*noun, ctx, actions, "users.unlock", "a user's account");
    add_user_accounts(*noun, ctx, actions);
}

}  // namespace hs::admin
