// hs-admin policy: the ACL policy (HuJSON). set and check compile the file against the tailnet
// first; get prints the policy in force exactly as it was written.
#include <memory>

#include "common/base/files.h"
#include "common/policy/engine.h"
#include "common/store/store.h"
#include "tools/hs-admin/commands.h"

namespace hs::admin {
namespace {

// The policy text from PATH or standard input ("-"), refused past the engine's size limit.
std::string read_policy(const std::string& path) {
    try {
        return path == "-" ? read_stdin(policy::kMaxPolicyBytes) : read_file(path, policy::kMaxPolicyBytes);
    } catch (const FileError& e) {
        throw store::StoreError(std::string("cannot read policy file: ") + e.what());
    }
}

void add_with_file(CLI::App& noun, Context& ctx, Actions& actions, const char* name, const char* help,
                   std::initializer_list<const char*> aliases, const char* op, const char* done) {
    auto file = std::make_shared<std::string>();
    auto* cmd = add_verb(noun, name, help, aliases);
    cmd->add_option("-f,--file", *file, "Policy file (HuJSON; - for standard input)")->required();
    cmd->add_flag("--bypass-grpc-and-access-database-directly,--bypass-server-and-access-database-directly")
        ->description("Accepted for headscale's scripts; hs-admin always works on the database or --remote");
    actions[cmd] = [&ctx, file, op, done] {
        const auto r = ctx.call(op, {{"policy", read_policy(*file)}});
        print_text(ctx.format(), r, done);
        return 0;
    };
}

}  // namespace

void add_policy(CLI::App& app, Context& ctx, Actions& actions) {
    auto* noun = add_noun(app, "policy", "Show, store and check the ACL policy");
    auto* get = add_verb(*noun, "get", "Print the policy in force, as written", {"show", "view", "fetch"});
    get->add_flag("--bypass-grpc-and-access-database-directly,--bypass-server-and-access-database-directly")
        ->description("Accepted for headscale's scripts");
    actions[get] = [&ctx] {
        const auto r = ctx.call("policy.get", json::object());
        auto text = r.value("policy", "");
        if (!text.empty() && text.back() == '\n') text.pop_back();
        print_text(ctx.format(), r, text);
        return 0;
    };
    add_with_file(*noun, ctx, actions, "set", "Validate a policy file and store it (policy.mode: database)",
                  {"put", "update"}, "policy.set", "Policy updated.");
    add_with_file(*noun, ctx, actions, "check", "Validate a policy file without storing it", {}, "policy.check",
                  "Policy is valid");
    add_policy_inspect(*noun, ctx, actions);
}

}  // namespace hs::admin
