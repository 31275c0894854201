// hs-admin nodes: the devices in the tailnet. Changes go straight to the database; a running
// hs-control sees them through the change log and tells the clients.
#include <algorithm>
#include <memory>

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

// Approved and advertised: what hs-control serves (exit routes included).
std::string serving_cell(const json& o) {
    json both = json::array();
    const auto& adv = o["available_routes"];
    for (const auto& r : o["approved_routes"])
        if (std::find(adv.begin(), adv.end(), r) != adv.end()) both.push_back(r);
    return cell(both);
}

void add_id(CLI::App* cmd, std::int64_t& id) { cmd->add_option("-i,--identifier,--id", id, "Node ID")->required(); }

// A verb that takes -i and prints the node the operation returns.
struct IdVerb {
    std::int64_t id = 0;
};

void add_list(CLI::App& noun, Context& ctx, Actions& actions) {
    struct Opts {
        std::string user, tag;
        bool online = false, expired = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = add_verb(noun, "list", "List nodes (all, or those matching every filter given)", {"ls"});
    cmd->add_option("-u,--user,-n,--namespace", o->user, "Only nodes of this user (name or ID)");
    cmd->add_option("-t,--tag", o->tag, "Only nodes with this tag");
    cmd->add_flag("--online", o->online, "Only nodes connected now");
    cmd->add_flag("--expired", o->expired, "Only nodes whose key has expired");
    actions[cmd] = [&ctx, o] {
        ctx.list("nodes.list", {{"user", o->user}, {"tag", o->tag}, {"online", o->online}, {"expired", o->expired}},
                 node_columns());
        return 0;
    };
}

// show, delete: -i and nothing else.
void add_simple(CLI::App& noun, Context& ctx, Actions& actions, const char* name, const char* help,
                std::initializer_list<const char*> aliases, const char* op, bool prints_node) {
    auto o = std::make_shared<IdVerb>();
    auto* cmd = add_verb(noun, name, help, aliases);
    add_id(cmd, o->id);
    actions[cmd] = [&ctx, o, op, prints_node] {
        const auto r = ctx.call(op, {{"id", o->id}});
        if (prints_node) print_object(ctx.format(), r, node_columns());
        else print_result(ctx, r);
        return 0;
    };
}

// headscale's nodes expire: now, at --expiry (RFC 3339), or --disable for never.
void add_expire(CLI::App& noun, Context& ctx, Actions& actions) {
    struct Opts {
        std::int64_t id = 0;
        std::string expiry;
        bool disable = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = add_verb(noun, "expire", "Expire a node's key now (it must log in again), at a given time, or never",
                         {"logout", "exp", "e"});
    add_id(cmd, o->id);
    auto* at = cmd->add_option(
        "-e,--expiry", o->expiry,
        "Expire at this RFC 3339 time instead of now (e.g. 2025-08-27T10:00:00Z; a future time postpones it)");
    cmd->add_flag("-d,--disable", o->disable, "Remove the expiry: the node's key never expires")->excludes(at);
    actions[cmd] = [&ctx, o] {
        json p{{"id", o->id}};
        if (!o->expiry.empty()) p["expiry"] = o->expiry;
        if (o->disable) p["disable_expiry"] = true;
        print_object(ctx.format(), ctx.call("nodes.expire", p), node_columns());
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
    actions[cmd] = [&ctx, o] {
        const auto r = ctx.call("nodes.register", {{"key", o->key}, {"user", o->user}});
        print_text(ctx.format(), r, r.value("message", ""));
        return 0;
    };
}

// rename, move, tag, approve-routes: -i plus one value.
void add_with_value(CLI::App& noun, Context& ctx, Actions& actions, const char* name, const char* help,
                    std::initializer_list<const char*> aliases, const char* op, const char* param, const char* flag,
                    const char* flag_help, bool required = true) {
    struct Opts {
        std::int64_t id = 0;
        std::string value;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = add_verb(noun, name, help, aliases);
    add_id(cmd, o->id);
    auto* opt = cmd->add_option(flag, o->value, flag_help);
    if (required) opt->required();
    actions[cmd] = [&ctx, o, op, param] {
        print_object(ctx.format(), ctx.call(op, {{"id", o->id}, {param, o->value}}), node_columns());
        return 0;
    };
}

void add_list_routes(CLI::App& noun, Context& ctx, Actions& actions) {
    auto id = std::make_shared<std::optional<std::int64_t>>();
    auto* cmd = add_verb(noun, "list-routes", "Nodes with routes: approved, advertised and served", {"lsr", "routes"});
    cmd->add_option("-i,--identifier,--id", *id, "Only this node");
    actions[cmd] = [&ctx, id] {
        json p = json::object();
        if (*id) p["id"] = **id;
        const Columns cols{field("ID", "id"),
                           field("Name", "given_name"),
                           field("Approved", "approved_routes"),
                           field("Available", "available_routes"),
                           {"Serving", serving_cell}};
        print_list(ctx.format(), ctx.call("nodes.list_routes", p), cols);
        return 0;
    };
}

void add_backfill(CLI::App& noun, Context& ctx, Actions& actions) {
    auto* cmd = add_verb(noun, "backfill-ips", "Give every node an address from each configured prefix it lacks",
                         {"backfillips"});
    actions[cmd] = [&ctx] {
        const Columns cols{field("ID", "id"), field("Name", "given_name"), field("Before", "before"),
                           field("After", "ip_addresses")};
        print_list(ctx.format(), ctx.call("nodes.backfill_ips", json::object()), cols);
        return 0;
    };
}

}  // namespace

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
            {"Expired", [](const json& o) { return o.value("expired", false) ? "yes" : "no"; }},
            {"Approved", [](const json& o) { return o.value("approved", true) ? "yes" : "waiting"; }}};
}

void add_nodes(CLI::App& app, Context& ctx, Actions& actions) {
    auto* noun = add_noun(app, "nodes", "List, show, register, expire, rename, move, tag, delete nodes; approve routes",
                          {"node", "machines", "machine"});
    add_list(*noun, ctx, actions);
    add_simple(*noun, ctx, actions, "show", "Show one node", {"get"}, "nodes.show", true);
    add_register(*noun, ctx, actions);
    add_expire(*noun, ctx, actions);
    add_simple(*noun, ctx, actions, "approve",
               "Let a node that auth.device_approval holds back reach its peers (and they it)", {}, "nodes.approve",
               true);
    add_with_value(*noun, ctx, actions, "rename", "Set a node's name in the tailnet (its MagicDNS label)", {"mv"},
                   "nodes.rename", "new_name", "NEW_NAME", "A DNS label: 1-63 lower-case letters, digits or '-'");
    add_simple(*noun, ctx, actions, "delete", "Delete a node (no prompt)", {"del", "rm"}, "nodes.delete", false);
    add_with_value(*noun, ctx, actions, "move", "Give a node to another user", {}, "nodes.move", "user",
                   "-u,--user,-n,--namespace", "New owner: user name or ID");
    add_with_value(*noun, ctx, actions, "tag", "Set a node's tags (it becomes a tagged node without an owner)",
                   {"tags", "t"}, "nodes.tag", "tags", "-t,--tags", "tag:a,tag:b (replaces the node's tags)");
    add_with_value(*noun, ctx, actions, "approve-routes",
                   "Set the routes a node may serve (replaces the list; \"\" clears it; one exit route approves both)",
                   {}, "nodes.approve_routes", "routes", "-r,--routes",
                   "CIDR,CIDR,... (0.0.0.0/0 or ::/0 for an exit node)");
    add_list_routes(*noun, ctx, actions);
    add_backfill(*noun, ctx, actions);
}

}  // namespace hs::admin
