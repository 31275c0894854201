// hs-admin users: create and list the people (or service identities) that own nodes and keys.
#include <memory>

#include "common/store.h"
#include "tools/hs-admin/commands.h"

namespace hs::admin {
namespace {

Columns user_columns() {
    return {field("ID", "id"),       field("Name", "name"),         field("DisplayName", "display_name"),
            field("Email", "email"), field("Provider", "provider"), time_field("Created", "created_at")};
}

void add_create(CLI::App& noun, Context& ctx, Actions& actions) {
    struct Opts {
        std::string name, display_name, email;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = add_verb(noun, "create", "Create a user", {"c", "new"});
    cmd->add_option("NAME", o->name,
                    "2-63 characters, starting with a letter: letters, digits, '-', '.', '_' and one '@'")
        ->required();
    cmd->add_option("-d,--display-name", o->display_name, "Name shown in clients");
    cmd->add_option("-e,--email", o->email, "E-mail address");
    actions[cmd] = [&ctx, o] {
        // Checked before the database is opened, so a typo creates no file.
        store::validate_user_name(o->name);
        const auto u = store::create_user(ctx.db(), o->name, o->display_name, o->email);
        print_object(ctx.format(), user_json(u), user_columns());
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
        auto items = json::array();
        for (const auto& u : store::list_users(ctx.db())) {
            if (o->id && u.id != *o->id) continue;
            if (!o->name.empty() && u.name != o->name) continue;
            if (!o->email.empty() && u.email != o->email) continue;
            items.push_back(user_json(u));
        }
        print_list(ctx.format(), items, user_columns());
        return 0;
    };
}

}  // namespace

json user_json(const User& u) {
    return {{"id", u.id},
            {"name", u.name},
            {"display_name", u.display_name},
            {"email", u.email},
            {"provider", u.provider},
            {"created_at", json_time(u.created_at)}};
}

UserIndex user_index(Db& db) {
    UserIndex out;
    for (auto& u : store::list_users(db)) out.emplace(u.id, std::move(u));
    return out;
}

std::optional<std::int64_t> user_id_of(Db& db, const std::string& ref) {
    if (ref.empty()) return std::nullopt;
    return store::resolve_user(db, ref).id;
}

json user_ref(const UserIndex& users, std::optional<std::int64_t> id) {
    if (!id) return nullptr;
    const auto it = users.find(*id);
    return it == users.end() ? json(nullptr) : user_json(it->second);
}

void add_users(CLI::App& app, Context& ctx, Actions& actions) {
    auto* noun = add_noun(app, "users", "Create and list users", {"user", "namespaces", "namespace", "ns"});
    add_create(*noun, ctx, actions);
    add_list(*noun, ctx, actions);
}

}  // namespace hs::admin
