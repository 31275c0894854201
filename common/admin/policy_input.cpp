#include "common/admin/policy_input.h"

namespace hs::admin {

policy::User policy_user(const User& u) {
    policy::User out;
    out.id = static_cast<std::uint64_t>(u.id);
    out.name = u.name;
    out.email = u.email;
    out.display_name = u.display_name;
    out.provider_id = u.provider_identifier.value_or("");
    return out;
}

policy::Node policy_node(const Node& n) {
    policy::Node out;
    out.id = static_cast<std::uint64_t>(n.id);
    // A tagged node has no user identity in the policy, whatever the row still says.
    out.user_id = n.tags.empty() ? static_cast<std::uint64_t>(n.user_id.value_or(0)) : 0;
    out.given_name = n.given_name;
    out.hostname = n.hostname;
    out.tags = n.tags;
    out.ipv4 = n.ipv4.value_or("");
    out.ipv6 = n.ipv6.value_or("");
    out.announced_routes = advertised_routes(n);
    out.approved_routes = n.approved_routes;
    out.primary_routes = n.primary_routes;
    return out;
}

PolicyInput policy_input(Db& db) {
    PolicyInput in;
    for (const auto& u : store::list_users(db)) in.users.push_back(policy_user(u));
    store::each_node(db, [&](Node&& n) { in.nodes.push_back(policy_node(n)); });
    return in;
}

std::string problem_lines(const std::vector<policy::Problem>& problems) {
    std::string out;
    for (const auto& p : problems) {
        if (!out.empty()) out += '\n';
        out += p.line ? std::to_string(p.line) + ":" + std::to_string(p.column) + ": " + p.message : p.message;
    }
    return out;
}

std::shared_ptr<const policy::Compiled> compile_policy(Env& env, std::string_view text, bool enforce_tests) {
    auto in = policy_input(env.db);
    auto r = policy::compile(text, std::move(in.users), std::move(in.nodes), enforce_tests);
    if (!r.ok()) throw store::StoreError("invalid policy:\n" + problem_lines(r.problems));
    return r.compiled;
}

std::shared_ptr<const policy::Compiled> compile_current(Env& env) {
    return compile_policy(env, current_policy_text(env).value_or(""), false);
}

}  // namespace hs::admin
