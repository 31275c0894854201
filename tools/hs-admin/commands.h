// hs-admin's nouns, one file each. Verbs turn their flags into the parameters of an operation
// (common/admin/ops.h), run it through Context::call and print the result.
#pragma once

#include <cstdint>
#include <string>

#include "tools/hs-admin/context.h"

namespace hs::admin {

void add_users(CLI::App& app, Context& ctx, Actions& actions);
void add_preauthkeys(CLI::App& app, Context& ctx, Actions& actions);
void add_apikeys(CLI::App& app, Context& ctx, Actions& actions);
void add_nodes(CLI::App& app, Context& ctx, Actions& actions);
void add_routes(CLI::App& app, Context& ctx, Actions& actions);
void add_policy(CLI::App& app, Context& ctx, Actions& actions);
void add_policy_inspect(CLI::App& noun, Context& ctx, Actions& actions);  // policy test|filter|peers|explain
void add_config(CLI::App& app, Context& ctx, Actions& actions);
void add_auth(CLI::App& app, Context& ctx, Actions& actions);
void add_health(CLI::App& app, Context& ctx, Actions& actions);
void add_version(CLI::App& app, Context& ctx, Actions& actions);
void add_import(CLI::App& app, Context& ctx, Actions& actions);  // import headscale
void add_audit(CLI::App& app, Context& ctx, Actions& actions);
void add_events(CLI::App& app, Context& ctx, Actions& actions);
void add_audit_check(CLI::App& noun, Context& ctx, Actions& actions);  // audit check (audit_check.cpp)
// users set-password and users mfa enroll|disable (user_accounts.cpp)
void add_user_accounts(CLI::App& noun, Context& ctx, Actions& actions);

// The table of node objects (nodes list, show, expire, ...) and of route rows.
Columns node_columns();
Columns route_columns();

// `unlock` under a noun (unlock.cpp): runs `op` ("users.unlock", "preauthkeys.unlock",
// "apikeys.unlock") on the NAME or PREFIX given; and `audit locks`.
void add_unlock(CLI::App& noun, Context& ctx, Actions& actions, const std::string& op, const std::string& what);
void add_audit_locks(CLI::App& noun, Context& ctx, Actions& actions);

// Prints a {"result": ...} object: the text in table mode.
void print_result(Context& ctx, const json& obj);

}  // namespace hs::admin
