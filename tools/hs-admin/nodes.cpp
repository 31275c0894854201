// hs-admin nodes: the devices in the tailnet. Changes go straight to the database; a running
// hs-control sees them through the change log and tells the clients.
#include <memory>

#include "common/store.h"
#include "tools/hs-admin/commands.h"

namespace hs::admin {
namespace {

// "nodekey:0123abcd": enough to tell rows apart and to grep for, short enough for a table.
std::string short_key(const json& v) {
    if (!v.is_string()) return "-";
    const auto s = v.get<std::string>();
    const auto colon = s.find(':');
    if (colon == std::string::npos) return s.substr(0, 8);
    return s.substr(0, colon + 1 + 8);
}

Columns node_columns() {
    return {field("ID", "id"),
            field("Hostname", "name"),
            field("Name", "given_name"),
            {"MachineKey", [](const json& o) { return short_key(o.value("machine_key", json())); }},
            {"NodeKey", [](const json& o) { return short_key(o.value("node_key", json())); }},
            field("User", "user"),
            field("Tags", "tags"),
            field("IPs", "ip_addresses"),
            field("Ephemeral", "ephemeral"),
            time_field("LastSeen", "last_seen"),
            time_field("Expiration", "expiry"),
            {"Connected", [](const json& o) { return o.value("online", false) ? "online" : "offline"; }},
            {"Expired", [](const json& o) { return o.value("expired", false) ? "yes" : "no"; }}};
}

json node_json(const Node& n, const UserIndex& users, TimePoint now) {
    auto ips = json::array();
    if (n.ipv4) ips.push_back(*n.ipv4);
    if (n.ipv6) ips.push_back(*n.ipv6);
    // What the client advertises; only approved_routes are actually served.
    auto available = json::array();
    if (const auto it = n.host_info.find("RoutableIPs"); it != n.host_info.end() && it->is_array())
        for (const auto& r : *it)
            if (r.is_string()) available.push_back(r.get<std::string>());
    return {{"id", n.id},
            {"machine_key", n.machine_key},
            {"node_key", n.node_key},
            {"disco_key", n.disco_key},
            {"ip_addresses", ips},
            {"name", n.hostname},
            {"given_name", n.given_name},
            {"user", user_ref(users, n.user_id)},
            {"tags", n.tags},
            {"online", n.online},
            {"last_seen", json_time(n.last_seen)},
            {"expiry", json_time(n.expiry)},
            {"expired", n.expired(now)},
            {"ephemeral", n.ephemeral},
            {"created_at", json_time(n.created_at)},
            {"register_method", n.register_method},
            {"approved_routes", n.approved_routes},
            {"available_routes", available}};
}

Node must_find(Db& db, std::int64_t id) {
    auto n = store::find_node(db, id);
    if (!n) throw store::NotFound("node " + std::to_string(id) + " not found");
    return *n;
}

void print_node(Context& ctx, const Node& n) {
    print_object(ctx.format(), node_json(n, user_index(ctx.db()), Clock::now()), node_columns());
}

void add_list(CLI::App& noun, Context& ctx, Actions& actions) {
    auto user = std::make_shared<std::string>();
    auto* cmd = add_verb(noun, "list", "List nodes", {"ls", "show"});
    cmd->add_option("-u,--user,-n,--namespace", *user, "Only nodes of this user (name or ID)");
    actions[cmd] = [&ctx, user] {
        Db& db = ctx.db();
        const auto only = user_id_of(db, *user);
        const auto users = user_index(db);
        const auto now = Clock::now();
        auto items = json::array();
        for (const auto& n : store::list_nodes(db))
            if (!only || n.user_id == only) items.push_back(node_json(n, users, now));
        print_list(ctx.format(), items, node_columns());
        return 0;
    };
}

void add_register(CLI::App& noun, Context& ctx, Actions& actions) {
    struct Opts {
        std::string user, key;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = add_verb(noun, "register", "Approve a waiting interactive login (same as auth register)");
    cmd->add_option("-u,--user,-n,--namespace", o->user, "Owner: user name or ID")->required();
    cmd->add_option("-k,--key", o->key, "Registration ID shown on the client's /register page")->required();
    actions[cmd] = [&ctx, o] { return register_auth_request(ctx, o->key, o->user); };
}

void add_expire(CLI::App& noun, Context& ctx, Actions& actions) {
    auto id = std::make_shared<std::int64_t>(0);
    auto* cmd = add_verb(noun, "expire", "Expire a node's key now: it must log in again", {"logout", "exp", "e"});
    cmd->add_option("-i,--identifier,--id", *id, "Node ID")->required();
    actions[cmd] = [&ctx, id] {
        Db& db = ctx.db();
        // Read and write in one transaction so a concurrent hs-control update is not undone.
        Db::Tx tx(db);
        auto n = must_find(db, *id);
        const auto now = Clock::now();
        // An expired node keeps the moment it expired.
        if (!n.expired(now)) {
            n.expiry = now;
            n.updated_at = now;
            store::update_node(db, n);
        }
        tx.commit();
        print_node(ctx, n);
        return 0;
    };
}

void add_rename(CLI::App& noun, Context& ctx, Actions& actions) {
    struct Opts {
        std::int64_t id = 0;
        std::string name;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = add_verb(noun, "rename", "Set a node's name in the tailnet (its MagicDNS label)", {"mv"});
    cmd->add_option("-i,--identifier,--id", o->id, "Node ID")->required();
    cmd->add_option("NEW_NAME", o->name, "A DNS label: 1-63 lower-case letters, digits or '-'")->required();
    actions[cmd] = [&ctx, o] {
        store::validate_given_name(o->name);
        Db& db = ctx.db();
        Db::Tx tx(db);
        auto n = must_find(db, o->id);
        if (store::unique_given_name(db, o->name, n.id) != o->name)
            throw store::StoreError("node name \"" + o->name + "\" is already used by another node");
        if (n.given_name != o->name) {
            n.given_name = o->name;
            n.updated_at = Clock::now();
            store::update_node(db, n);
        }
        tx.commit();
        print_node(ctx, n);
        return 0;
    };
}

void add_delete(CLI::App& noun, Context& ctx, Actions& actions) {
    auto id = std::make_shared<std::int64_t>(0);
    auto* cmd = add_verb(noun, "delete", "Delete a node (no prompt)", {"del", "rm"});
    cmd->add_option("-i,--identifier,--id", *id, "Node ID")->required();
    actions[cmd] = [&ctx, id] {
        store::delete_node(ctx.db(), *id);
        const auto msg = "node " + std::to_string(*id) + " deleted";
        print_text(ctx.format(), json{{"result", msg}}, msg);
        return 0;
    };
}

}  // namespace

void add_nodes(CLI::App& app, Context& ctx, Actions& actions) {
    auto* noun = add_noun(app, "nodes", "List, register, expire, rename and delete nodes", {"node", "machines", "machine"});
    add_list(*noun, ctx, actions);
    add_register(*noun, ctx, actions);
    add_expire(*noun, ctx, actions);
    add_rename(*noun, ctx, actions);
    add_delete(*noun, ctx, actions);
}

}  // namespace hs::admin
