// hs-admin's nouns, one file each, and the JSON shapes more than one of them prints.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/model.h"
#include "tools/hs-admin/context.h"

namespace hs::admin {

void add_users(CLI::App& app, Context& ctx, Actions& actions);
void add_preauthkeys(CLI::App& app, Context& ctx, Actions& actions);
void add_nodes(CLI::App& app, Context& ctx, Actions& actions);
void add_auth(CLI::App& app, Context& ctx, Actions& actions);
void add_version(CLI::App& app, Context& ctx, Actions& actions);

// {id, name, display_name, email, provider, created_at}
json user_json(const User& u);
// Keys and nodes name their owner; a listing reads the users once instead of once per row.
using UserIndex = std::map<std::int64_t, User>;
UserIndex user_index(Db& db);
// The ID of the user named (or numbered) `ref`; nullopt for "" (no --user given). Throws NotFound.
std::optional<std::int64_t> user_id_of(Db& db, const std::string& ref);
// The owner's user object, or null for none (or one deleted meanwhile).
json user_ref(const UserIndex& users, std::optional<std::int64_t> id);

// Completes an interactive login for `user` and prints the result: `nodes register` (headscale
// up to 0.28) and `auth register` (0.29) are the same operation.
int register_auth_request(Context& ctx, const std::string& auth_id, const std::string& user);

}  // namespace hs::admin
