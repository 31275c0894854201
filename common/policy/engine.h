// The policy engine: compiles (policy text, users, nodes) once into IP sets, then answers per
// node what its MapResponse must carry. Pure computation, no I/O; safe to share a Compiled
// between threads once built.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/policy/types.h"

namespace hs::policy {

class Compiled;

// The largest policy accepted, 1 MiB: it is compiled again on every change to the tailnet,
// and a company's 500 rules take about 50 KB. Bigger text is refused before parsing.
inline constexpr std::size_t kMaxPolicyBytes = 1 << 20;

struct CompileResult {
    std::shared_ptr<const Compiled> compiled;  // null when the policy is refused
    std::vector<Problem> problems;             // every problem found, in file order
    bool ok() const { return compiled != nullptr; }
};

// Parses, checks, resolves and runs the policy's tests/sshTests. A policy with problems or
// failing tests is refused unless `enforce_tests` is false (a stored policy loaded at boot
// only warns; test_failures() then lists them). Empty text = allow all.
CompileResult compile(std::string_view policy_text, std::vector<User> users, std::vector<Node> nodes,
                      bool enforce_tests = true);

// Only parses and checks the text (no users or nodes needed), e.g. for `hs-admin policy check`.
std::vector<Problem> check(std::string_view policy_text);

struct CompiledImpl;

class Compiled {
public:
    explicit Compiled(std::unique_ptr<CompiledImpl> impl);
    ~Compiled();
    Compiled(const Compiled&) = delete;
    Compiled& operator=(const Compiled&) = delete;

    // Packet filter, SSH policy, CapMap and visible peers of one node; empty for an unknown id.
    // `server_url` prefixes the URL of SSH "check" actions.
    NodeView view(std::uint64_t node_id, const std::string& server_url) const;
    // The node's announced routes that autoApprovers let it approve itself (exit routes only
    // through autoApprovers.exitNode), in announced order.
    std::vector<std::string> auto_approved_routes(std::uint64_t node_id) const;
    // Of `tags` (Hostinfo.RequestTags of a user's node registering), those the user may not
    // give it: not defined in tagOwners, or owned by neither the user, a group of theirs nor
    // autogroup:member. Empty when every tag is granted.
    std::vector<std::string> unowned_tags(std::uint64_t user_id, const std::vector<std::string>& tags) const;
    // The failures of tests and sshTests against this tailnet (compile refuses a policy when
    // this is non-empty; exposed so a boot-time load can log them instead).
    std::vector<Problem> test_failures() const;
    bool randomize_client_port() const;
    // The compiled state, for the inspection tools of explain.h (same library).
    const CompiledImpl& impl() const { return *impl_; }

private:
    std::unique_ptr<CompiledImpl> impl_;
};

}  // namespace hs::policy
