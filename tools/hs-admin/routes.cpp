// hs-admin routes: subnet routes and exit nodes, one row per node and prefix. A route is served
// when the node advertises it (tailscale up --advertise-routes) and an admin approved it.
#include <memory>

#include "tools/hs-admin/commands.h"

namespace hs::admin {
namespace {

void add_change(CLI::App& noun, Context& ctx, Actions& actions, const char* name, const char* help,
                std::initializer_list<const char*> aliases, const char* op) {
    struct Opts {
        std::int64_t node = 0;
        std::string routes;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = add_verb(noun, name, help, aliases);
    cmd->add_option("-i,--identifier,--id,--node", o->node, "Node ID")->required();
    cmd->add_option("-r,--routes,--route", o->routes, "CIDR,CIDR,... (0.0.0.0/0 or ::/0: both exit routes)")
        ->required();
    actions[cmd] = [&ctx, o, op] {
        print_list(ctx.format(), ctx.call(op, {{"node", o->node}, {"routes", o->routes}}), route_columns());
        return 0;
    };
}

}  // namespace

Columns route_columns() {
    return {field("NodeID", "node_id"),        field("Node", "node"),         field("Prefix", "prefix"),
            field("Advertised", "advertised"), field("Approved", "approved"), field("Exit", "exit_route"),
            field("Serving", "serving"),       field("Primary", "primary")};
}

void add_routes(CLI::App& app, Context& ctx, Actions& actions) {
    auto* noun = add_noun(app, "routes", "List, approve and unapprove subnet routes and exit nodes", {"route", "r"});
    auto node = std::make_shared<std::optional<std::int64_t>>();
    auto* list =
        add_verb(*noun, "list", "Routes of every node (or one): advertised, approved, served, primary", {"ls", "show"});
    list->add_option("-i,--identifier,--id,--node", *node, "Only this node");
    actions[list] = [&ctx, node] {
        json p = json::object();
        if (*node) p["node"] = **node;
        print_list(ctx.format(), ctx.call("routes.list", p), route_columns());
        return 0;
    };
    add_change(*noun, ctx, actions, "approve", "Approve routes of a node (added to those approved)", {"enable"},
               "routes.approve");
    add_change(*noun, ctx, actions, "unapprove", "Withdraw the approval of routes of a node", {"disable"},
               "routes.unapprove");
}

}  // namespace hs::admin
