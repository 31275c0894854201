// The bridge from the store to the policy engine: the tailnet's users and nodes as the engine's
// plain records, and the compile every policy operation shares. hs-control's mapper builds the
// same input, so `hs-admin policy filter` shows what a node receives.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/admin/ops.h"
#include "common/policy/engine.h"

namespace hs::admin {

struct PolicyInput {
    std::vector<policy::User> users;
    std::vector<policy::Node> nodes;
};

policy::User policy_user(const User& u);
policy::Node policy_node(const Node& n);
// Every user and every node in the database (expired and offline ones included: the policy
// speaks about them whether or not they are connected).
PolicyInput policy_input(Db& db);

// Problems one per line as "line:column: message" (just the message when it has no place).
std::string problem_lines(const std::vector<policy::Problem>& problems);

// Compiles `text` against the tailnet in the database. Refused (problems or, when
// `enforce_tests`, failing tests): a store::StoreError "invalid policy:" and the problem lines.
std::shared_ptr<const policy::Compiled> compile_policy(Env& env, std::string_view text, bool enforce_tests = true);
// The policy in force, compiled without enforcing its tests (they are reported, not refused);
// an empty text (allow all) when there is none.
std::shared_ptr<const policy::Compiled> compile_current(Env& env);

}  // namespace hs::admin
